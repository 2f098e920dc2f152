//! `init`, `status`, `sync`, `run` and `dock watch`: the node itself.
//!
//! `run`, `sync` and `dock watch` started with no node running become the node
//! ([`serve`]): they hold the store and serve every other command until they
//! stop. Sent to a node that is already running, `sync` and `dock watch` run
//! inside it ([`sync_in_node`], [`dock_watch_in_node`]), and `run` is refused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::context::Ctx;
use super::output::{Out, Terminal};
use super::{Cli, Command};
use crate::dock::{DockEvent, DockOptions};
use crate::edge::Edge;
use crate::service::{self, Service};
use crate::uplink::{Hooks, SyncReport};

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum DockCmd {
    /// Watch DIR/<device-id>/ folders and ingest new files.
    Watch(DockWatchArgs),
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct DockWatchArgs {
    pub dir: PathBuf,
    /// Delete each file from the device once its stored copy re-verifies.
    #[arg(long)]
    pub wipe: bool,
    /// One pass, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between passes.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Seconds a file must stay unchanged before it is ingested.
    #[arg(long, default_value_t = 3)]
    pub settle: u64,
    /// Cameras ingested at once (default: edge.toml [dock] concurrent_cameras, else one per CPU core).
    #[arg(long)]
    pub cameras: Option<usize>,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct SyncArgs {
    /// Sync until nothing is left to send, then exit (default: keep syncing).
    #[arg(long)]
    pub once: bool,
    /// With --once: give up (exit 1) after this many seconds without a completed sync.
    #[arg(long, default_value_t = 120)]
    pub give_up: u64,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct RunArgs {
    /// Dock folder to watch (DIR/<device-id>/...).
    #[arg(long)]
    pub dock: Option<PathBuf>,
    /// With --dock: delete files from devices once their stored copy re-verifies.
    #[arg(long)]
    pub wipe: bool,
    /// Seconds to let work in progress end after SIGTERM or Ctrl-C before exiting
    /// anyway (an ingest cut short is discarded, never half-stored).
    #[arg(long, default_value_t = service::STOP_TIMEOUT.as_secs())]
    pub stop_timeout: u64,
    /// Serve the office page (the web UI for this county: devices out and the
    /// check-out form, today's activities, docked cameras, the upload queue,
    /// findings) on this loopback address, e.g. 127.0.0.1:8470; open
    /// http://ADDR/web/office in a browser on this machine. Plain HTTP, loopback
    /// only (another address is refused: the page has no login). Default: edge.toml
    /// [http] listen; neither: no office page.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
}

pub fn init(ctx: &mut Ctx<'_>, node: &str, county: &str) -> Result<()> {
    let super::context::Node::Local { dir, .. } = &ctx.node else {
        bail!("this node is already initialised and running");
    };
    let dir = dir.clone();
    Edge::init(&dir, node, county)?;
    if ctx.out.json {
        ctx.out
            .value(&json!({"initialised": dir, "node": node, "county": county}));
    } else {
        ctx.out.line(format!(
            "initialised edge {node} (county {county}) in {}",
            dir.display()
        ));
        ctx.out.line(format!(
            "configuration: {}",
            dir.join(crate::config::FILE_NAME).display()
        ));
    }
    Ok(())
}

/// The status; inside the running node it includes the docked cameras' progress
/// (the node is what runs the dock).
pub fn status(ctx: &mut Ctx<'_>) -> Result<()> {
    let edge = ctx.ro()?;
    let s = edge.status()?;
    let dock = ctx.service.and_then(Service::dock_snapshot);
    if ctx.out.json {
        ctx.out
            .value(&serde_json::to_value(crate::status::StatusView {
                status: &s,
                docked_cameras: dock.as_ref(),
            })?);
    } else {
        ctx.out
            .block(&crate::status::render_with_dock(&s, dock.as_ref()));
    }
    Ok(())
}

/// Prints a sync report; exit status 1 when footage will not reach the center
/// (it needs the keeper's attention).
fn report(out: &mut Out<'_>, r: &SyncReport) -> Result<u8> {
    if out.json {
        out.value(&serde_json::to_value(r)?);
    } else {
        out.line(format!(
            "sync: {} session(s), {} document(s) merged, {} item(s) verified at the center, {:.1} MiB sent",
            r.sessions,
            r.docs_synced,
            r.items_verified,
            r.bytes_sent as f64 / 1048576.0
        ));
        for d in &r.docs_refused {
            out.line(format!("  the center refused our changes to {d} (see `edge-node audit show --subject doc:{d}`)"));
        }
        for h in &r.refused_items {
            out.line(format!(
                "  the center refused item {h} (see `edge-node audit show --subject item:{h}`)"
            ));
        }
        for h in &r.locally_corrupt {
            out.line(format!("  LOCAL CORRUPTION: item {h} is damaged in this node's store and was not uploaded; keep the device's copy"));
        }
    }
    Ok(u8::from(
        !r.locally_corrupt.is_empty() || !r.refused_items.is_empty(),
    ))
}

fn print_event(out: &mut Out<'_>, ev: &DockEvent) {
    out.show(&serde_json::to_value(ev).unwrap_or_default(), || match ev {
        DockEvent::Ingested {
            device,
            path,
            hash,
            size,
            duplicate,
        } => format!(
            "{device}: stored {} ({size} B) as {}{}",
            path.display(),
            &hash[..16.min(hash.len())],
            if *duplicate {
                " (already held: custody event added)"
            } else {
                ""
            }
        ),
        DockEvent::Wiped { device, path, .. } => format!(
            "{device}: verified and deleted {} from the device",
            path.display()
        ),
        DockEvent::Skipped { device, path, why } => match path {
            Some(p) => format!("{device}: skipped {}: {why}", p.display()),
            None => format!("{device}: skipped folder: {why}"),
        },
    });
}

fn dock_options(a: &DockWatchArgs, edge: &Edge) -> DockOptions {
    DockOptions {
        dir: a.dir.clone(),
        wipe: a.wipe,
        once: a.once,
        interval: Duration::from_secs(a.interval),
        settle: Duration::from_secs(a.settle),
        cameras: a.cameras.unwrap_or(edge.cfg.dock.concurrent_cameras),
    }
}

/// `sync` sent to the running node. If the node syncs already, this asks it for a
/// pass now and follows it (`--once`: until a pass that started after the
/// request has nothing left to upload); otherwise it syncs on this command's
/// behalf, as `edge-node sync` in a process of its own would.
pub fn sync_in_node(ctx: &mut Ctx<'_>, a: &SyncArgs) -> Result<u8> {
    let service = ctx
        .service
        .ok_or_else(|| anyhow!("sync runs in the node"))?;
    let give_up = Duration::from_secs(a.give_up);
    let cancel = ctx.cancel;
    let r = match service.sync_hooks() {
        Some(hooks) => follow(service, &hooks, a.once, give_up, cancel)?,
        None => {
            let token = service.stop.child_token();
            let task = service.rt.spawn(crate::uplink::run(
                service.edge.clone(),
                a.once,
                if a.once { give_up } else { Duration::MAX },
                token.clone(),
            ));
            while !task.is_finished() {
                if cancel() {
                    token.cancel();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            service.rt.block_on(task)??
        }
    };
    report(&mut ctx.out, &r)
}

fn follow(
    service: &Service,
    hooks: &Hooks,
    once: bool,
    give_up: Duration,
    cancel: &dyn Fn() -> bool,
) -> Result<SyncReport> {
    let before = hooks.report();
    let asked = hooks.passes.borrow().started;
    hooks.poke.notify_one();
    let started = Instant::now();
    loop {
        if cancel() || service.stop.is_cancelled() {
            break;
        }
        if once {
            if hooks.passes.borrow().idle > asked {
                break;
            }
            if started.elapsed() > give_up {
                let link = crate::uplink::link_state(&service.edge)?.unwrap_or_default();
                bail!(
                    "gave up after {}s without completing a sync: {}",
                    give_up.as_secs(),
                    link.last_error.unwrap_or_else(|| "no answer".into())
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(hooks.report().since(&before))
}

/// `dock watch` sent to the running node: watches on this command's behalf
/// until it is cancelled (or, with `--once`, for one pass).
pub fn dock_watch_in_node(ctx: &mut Ctx<'_>, a: &DockWatchArgs) -> Result<u8> {
    let service = ctx
        .service
        .ok_or_else(|| anyhow!("dock watch runs in the node"))?;
    let _claim = service.claim_dock(&a.dir)?;
    let edge = service.edge.clone();
    let cancel = ctx.cancel;
    let out = &mut ctx.out;
    edge.dock_watch_with(
        &ctx.actor,
        &dock_options(a, &edge),
        &service.dock_progress,
        &mut |ev| print_event(out, ev),
        &cancel,
    )?;
    Ok(0)
}

pub fn run_in_node(ctx: &mut Ctx<'_>) -> Result<()> {
    match ctx.service {
        Some(s) => bail!(
            "this node is already running: {}; stop it first (or send it commands: they reach it)",
            s.describe()
        ),
        None => bail!("run starts the node: it cannot run inside another command"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `run`, `sync` or `dock watch` with no node running: this process becomes the
/// node until its work ends or it is told to stop.
pub fn serve(cli: &Cli, term: &mut Terminal) -> Result<u8> {
    let mut out = Out::new(cli.json, term);
    // the office page's address is checked and bound before anything else, so a
    // refused or busy address fails the start with nothing changed
    let office = match &cli.command {
        Command::Run(a) => match a.http {
            Some(addr) => Some(addr),
            None => crate::config::EdgeConfig::load(&cli.data_dir)?.http.listen,
        },
        _ => None,
    }
    .map(crate::office::bind)
    .transpose()?;
    let edge = Arc::new(service::open_for_service(&cli.data_dir, &mut out)?);
    let rt = runtime()?;
    let what = match &cli.command {
        Command::Run(_) => "edge-node run",
        Command::Sync(_) => "edge-node sync",
        _ => "edge-node dock watch",
    };
    let (svc, serving) = service::start(edge.clone(), &rt, what)?;
    let office = office
        .map(|l| crate::office::start(svc.clone(), l))
        .transpose()?;
    // cancelled when the node's own work ends (a one-pass command is done)
    let done = CancellationToken::new();
    let mut code = 0;
    let stop_timeout = match &cli.command {
        Command::Run(a) => Duration::from_secs(a.stop_timeout),
        _ => service::STOP_TIMEOUT,
    };
    let mut dock_thread = None;
    let mut sync_task = None;
    let (dock, wipe) = match &cli.command {
        Command::Run(a) => (
            a.dock.clone().map(|dir| DockWatchArgs {
                dir,
                wipe: a.wipe,
                once: false,
                interval: 5,
                settle: 3,
                cameras: None,
            }),
            a.wipe,
        ),
        Command::Dock(DockCmd::Watch(a)) => (Some(a.clone()), a.wipe),
        _ => (None, false),
    };
    let syncs = match &cli.command {
        Command::Run(_) => edge.cfg.center.is_some(),
        Command::Sync(_) => true,
        _ => false,
    };
    if syncs {
        let (once, give_up) = match &cli.command {
            Command::Sync(a) if a.once => (true, Duration::from_secs(a.give_up)),
            _ => (false, Duration::MAX),
        };
        let hooks = Hooks::default();
        *svc.sync.lock().unwrap_or_else(|p| p.into_inner()) = Some(service::Sync {
            hooks: hooks.clone(),
        });
        let (e, token, d) = (edge.clone(), svc.stop.child_token(), done.clone());
        sync_task = Some(rt.spawn(async move {
            let r = crate::uplink::run_with(e, once, give_up, token, hooks).await;
            d.cancel();
            r
        }));
    }
    if let Some(args) = dock {
        let (svc2, d, json) = (svc.clone(), done.clone(), cli.json);
        // the node's own dock watch acts as the `--as` actor it was started with
        let actor = jilu_common::subject::Actor::system(&cli.actor);
        let single = matches!(&cli.command, Command::Dock(_));
        dock_thread = Some(std::thread::Builder::new().name("edge-dock".into()).spawn(
            move || {
                let claim = svc2.claim_dock(&args.dir);
                let mut term = Terminal::default();
                let mut out = Out::new(json, &mut term);
                let stop = svc2.stop.clone();
                let r = claim.and_then(|_claim| {
                    svc2.edge.dock_watch_with(
                        &actor,
                        &dock_options(&args, &svc2.edge),
                        &svc2.dock_progress,
                        &mut |ev| print_event(&mut out, ev),
                        &|| stop.is_cancelled(),
                    )
                });
                // dock watch on its own ends the node when it ends; under
                // `run` the node goes on syncing and serving
                if single || r.is_err() {
                    d.cancel();
                }
                r
            },
        )?);
    }
    if matches!(&cli.command, Command::Run(_)) {
        out.say(|| {
            format!(
                "edge {} running{}{}{}; Ctrl-C to stop",
                edge.cfg.node,
                office
                    .map(|a| format!(", office page on http://{a}/web/office"))
                    .unwrap_or_default(),
                if syncs {
                    ", syncing with the center"
                } else {
                    ""
                },
                if dock_thread.is_some() {
                    if wipe {
                        ", watching the dock (deleting verified files from the devices)"
                    } else {
                        ", watching the dock"
                    }
                } else {
                    ""
                }
            )
        });
    } else if let Command::Dock(DockCmd::Watch(a)) = &cli.command {
        if !a.once {
            out.say(|| format!(
                "watching {} for docked devices (one folder per device id), every {}s{}; Ctrl-C to stop",
                a.dir.display(),
                a.interval,
                if a.wipe { ", deleting verified files from the devices" } else { "" }
            ));
        }
    }
    rt.block_on(service::until_signal(&done))?;
    let deadline = Instant::now() + stop_timeout;
    rt.block_on(service::shutdown(&svc, serving, deadline));
    if let Some(task) = sync_task {
        let left = deadline.saturating_duration_since(Instant::now());
        match rt.block_on(async { tokio::time::timeout(left, task).await }) {
            Ok(Ok(Ok(r))) => {
                if matches!(&cli.command, Command::Sync(_)) {
                    code = report(&mut out, &r)?;
                }
            }
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(anyhow!("the sync task failed: {e}")),
            Err(_) => tracing::warn!("sync did not stop by the deadline"),
        }
    }
    if let Some(t) = dock_thread {
        // a dock ingest stops at its next chunk; one that does not by the
        // deadline is left to the crash protocol when the process exits
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if t.is_finished() {
            t.join().map_err(|_| anyhow!("dock watch panicked"))??;
        } else {
            tracing::warn!("dock watch did not stop by the deadline");
        }
    }
    Ok(code)
}
