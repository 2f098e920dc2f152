//! The `center` command line: run the center, list its edges and items, and take
//! the bureau's decisions.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use clap::{Parser, Subcommand};
use jilu_common::time;
use jilu_store::db::Mode;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Decision};
use crate::center::Center;
use crate::config::CenterConfig;

#[derive(Parser, Debug)]
#[command(
    name = "center",
    version,
    about = "Jilu center: receives county edges' footage and metadata over mutually authenticated QUIC, verifies every byte, merges every county's records."
)]
pub struct Cli {
    /// The center's configuration (see `center example-config`).
    #[arg(
        long,
        global = true,
        env = "JILU_CENTER_CONFIG",
        default_value = "center.toml"
    )]
    pub config: PathBuf,
    /// Print JSON (one value per line).
    #[arg(long, global = true)]
    pub json: bool,
    /// Who takes a decision, as written in the audit log.
    #[arg(
        long = "as",
        global = true,
        env = "JILU_ACTOR",
        default_value = "bureau"
    )]
    pub actor: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the center: accept edges until Ctrl-C / SIGTERM.
    Run,
    /// Print an annotated center.toml.
    ExampleConfig,
    /// The edges that have connected, with their figures.
    Edges,
    /// Items verified at the center.
    Items,
    /// Activities of all counties, as merged.
    Activities,
    /// Approve (or with --reject, reject) an interruption record (art. 12).
    Approve {
        #[arg(long)]
        county: String,
        #[arg(long)]
        activity: String,
        /// Interruption id within the activity (I1, I2, ...).
        #[arg(long)]
        interruption: String,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        note: Option<String>,
    },
    /// Set a hold for long-term preservation (art. 16).
    Hold {
        #[arg(long)]
        county: String,
        #[arg(long)]
        activity: String,
        #[arg(long)]
        reason: String,
    },
    /// Write one of an activity's two preservation copies (art. 16): a BagIt bag at
    /// OUT and its ISO 9660 image at OUT.iso, ready to burn. Check either with
    /// `jilu-verify`. Each copy is recorded in the custody of every item it holds.
    Export {
        /// The activity's id (A-410422-001).
        #[arg(long)]
        activity: String,
        /// The activity's county, if its id is used by more than one.
        #[arg(long)]
        county: Option<String>,
        /// Which copy: 1 or 2.
        #[arg(long)]
        copy: u8,
        /// Folder for the bag (must not exist); the image goes to OUT.iso.
        #[arg(long)]
        out: PathBuf,
        /// The producing unit written on the label (制作单位).
        #[arg(long, default_value = "法规和执法监督科")]
        unit: String,
    },
    /// Check the center's audit log.
    AuditVerify,
    /// Documents held (Automerge), with their heads; --county limits to what that county's edge syncs.
    Docs {
        #[arg(long)]
        county: Option<String>,
    },
    /// The API's accounts and bearer tokens.
    User {
        #[command(subcommand)]
        op: crate::accounts_cli::UserCommand,
    },
    /// Grant USER access to a classified activity or item (art. 14), or end a grant.
    Grant {
        user: String,
        /// activity:COUNTY/ID or item:HASH (a grant on an activity covers its items)
        target: String,
        /// How many days the grant lasts.
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long)]
        revoke: bool,
    },
    /// Every grant, live or ended.
    Grants,
    /// Rebuild the projections (lists, findings) from the documents and items
    /// (center stopped); --check only compares them with the stored ones.
    Reindex {
        #[arg(long)]
        check: bool,
    },
}

/// Prints a line of a command's output on stdout. A closed pipe
/// (`center items | head`) ends the listing quietly: the reader has what it
/// wanted, and that is not an error of the command (`println!` would panic).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out_line(format_args!($($arg)*))
    };
}

pub(crate) fn out_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{line}").and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JILU_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let mut text = String::new();
            for cause in e.chain() {
                let c = cause.to_string();
                if !text.contains(&c) {
                    if !text.is_empty() {
                        text.push_str(": ");
                    }
                    text.push_str(&c);
                }
            }
            eprintln!("error: {}", text.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn decide(cli: &Cli, d: Decision) -> Result<ExitCode> {
    let message = send_or_apply(CenterConfig::load(&cli.config)?, d).await?;
    outln!("{message}; the county edge receives it at its next sync");
    Ok(ExitCode::SUCCESS)
}

/// Sends a decision to the running center, or applies it to the store when the
/// center is stopped; returns what was done.
async fn send_or_apply(cfg: CenterConfig, d: Decision) -> Result<String> {
    match admin::send(&cfg.data_dir, &d).await? {
        Some(reply) if reply.ok => Ok(reply.message),
        Some(reply) => Err(anyhow!(reply.message)),
        None => {
            let center = Center::open(cfg, Mode::ReadWrite)?;
            tokio::task::spawn_blocking(move || admin::apply(&center, &d)).await?
        }
    }
}

async fn account(cli: &Cli, op: crate::accounts_cli::AccountOp) -> Result<ExitCode> {
    let message = send_or_apply(CenterConfig::load(&cli.config)?, Decision::Account(op)).await?;
    if !message.is_empty() {
        outln!("{message}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::User { op } => {
            let op = crate::accounts_cli::account_op(&cli.actor, op)?;
            return account(&cli, op).await;
        }
        Command::Grant {
            user,
            target,
            days,
            revoke,
        } => {
            let op = crate::accounts_cli::AccountOp::Grant {
                by: cli.actor.clone(),
                user: user.clone(),
                target: target.clone(),
                days: *days,
                revoke: *revoke,
            };
            return account(&cli, op).await;
        }
        Command::Grants => return account(&cli, crate::accounts_cli::AccountOp::Grants).await,
        Command::Reindex { check } => {
            let cfg = CenterConfig::load(&cli.config)?;
            let mode = if *check {
                Mode::ReadOnly
            } else {
                Mode::ReadWrite
            };
            let center = Center::open(cfg, mode)?;
            let started = std::time::Instant::now();
            let fresh = crate::projection::rebuild(&center)?;
            if *check {
                let stored = crate::projection::stored(&center)?;
                let differ = fresh
                    .iter()
                    .filter(|(k, v)| stored.get(*k) != Some(*v))
                    .count()
                    + stored.keys().filter(|k| !fresh.contains_key(*k)).count();
                if differ > 0 {
                    outln!("projections differ from the documents: {differ} of {} entries; run `center reindex`", fresh.len());
                    return Ok(ExitCode::FAILURE);
                }
                outln!("projections match the documents: {} entries", fresh.len());
            } else {
                let n = crate::projection::replace(&center, fresh)?;
                outln!(
                    "projections rebuilt: {n} entries in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Command::ExampleConfig => {
            print!("{}", CenterConfig::example());
        }
        Command::Run => {
            let cfg = CenterConfig::load(&cli.config)?;
            let center = Arc::new(Center::open(cfg, Mode::ReadWrite)?);
            // a store from before the projections (or one whose rebuild was cut
            // short), or projections built under another `[retention]` policy
            if center
                .journal
                .store
                .get(crate::schema::INDEX, crate::index::keys::MATTERS)?
                .is_none()
                || !crate::projection::built_under_current_policy(&center)?
            {
                let n = crate::projection::replace(&center, crate::projection::rebuild(&center)?)?;
                tracing::info!(entries = n, "projections built from the documents");
            }
            let cancel = CancellationToken::new();
            let (server, handle) = crate::server::start(center.clone(), cancel.clone()).await?;
            let admin_task = tokio::spawn(admin::serve(center.clone(), cancel.clone()));
            // the API binds before the first line goes out: whoever waits for
            // "listening on" (tests, scripts, an operator) can use both at once
            let api = match center.cfg.http.clone() {
                Some(http) => {
                    let api = crate::http::Api {
                        center: center.clone(),
                        metrics: Default::default(),
                        web: Default::default(),
                    };
                    let (addr, https, task) =
                        crate::http::listener::start(&http, api, cancel.clone()).await?;
                    Some((addr, if https { "https" } else { "http" }, task))
                }
                None => None,
            };
            outln!(
                "center {} listening on {} (QUIC, mutual TLS)",
                center.cfg.node,
                server.local_addr
            );
            let api = api.map(|(addr, scheme, task)| {
                outln!(
                    "center API on {scheme}://{addr}/api/v1/ (openapi.json, /metrics, /healthz)"
                );
                outln!("center web UI on {scheme}://{addr}/web/");
                task
            });
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            cancel.cancel();
            // shutdown with a deadline: sessions flush what they received
            let _ = tokio::time::timeout(std::time::Duration::from_secs(8), handle).await;
            let _ = admin_task.await;
            if let Some(api) = api {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), api).await;
            }
        }
        Command::Edges => {
            let center = Center::open(CenterConfig::load(&cli.config)?, Mode::ReadOnly)?;
            for p in center.peers()? {
                if cli.json {
                    outln!("{}", serde_json::to_string(&p)?);
                } else {
                    let eta = if p.recent_rate > 0.0 && p.pending_bytes > 0 {
                        time::human_duration(
                            (p.pending_bytes as f64 / p.recent_rate * 1000.0) as i64,
                        )
                    } else {
                        "-".into()
                    };
                    outln!(
                        "{:<18} county {:<8} {:<7} last contact {}  received {:.1} MiB  verified {} items  pending {} items / {:.1} MiB  eta {}{}",
                        p.node,
                        p.county,
                        if p.connected { "online" } else { "offline" },
                        time::format(p.last_contact),
                        p.bytes_received as f64 / 1048576.0,
                        p.items_verified,
                        p.pending_items,
                        p.pending_bytes as f64 / 1048576.0,
                        eta,
                        p.last_refusal.as_ref().map(|r| format!("  last refusal: {r}")).unwrap_or_default()
                    );
                }
            }
        }
        Command::Items => {
            let center = Center::open(CenterConfig::load(&cli.config)?, Mode::ReadOnly)?;
            for i in center.items()? {
                if cli.json {
                    outln!("{}", serde_json::to_string(&i)?);
                } else {
                    outln!(
                        "{}  {:>10} B  county {}  from {}  verified {}  {}",
                        &i.item.hash.to_hex()[..16],
                        i.item.size,
                        i.item.county,
                        i.origin,
                        time::format(i.verified_at),
                        i.item.original_name
                    );
                }
            }
        }
        Command::Activities => {
            let center = Center::open(CenterConfig::load(&cli.config)?, Mode::ReadOnly)?;
            // one bad document is reported (stderr) and the rest still listed
            let (good, bad) = center.activities_checked()?;
            for a in good {
                outln!("{}", serde_json::to_string(&a)?);
            }
            for (name, why) in bad {
                eprintln!("warning: document {name} is not listed: {why}");
            }
        }
        Command::Approve {
            county,
            activity,
            interruption,
            reject,
            note,
        } => {
            return decide(
                &cli,
                Decision::Interruption {
                    by: cli.actor.clone(),
                    county: county.clone(),
                    activity: activity.clone(),
                    interruption: interruption.clone(),
                    approve: !reject,
                    note: note.clone(),
                },
            )
            .await;
        }
        Command::Hold {
            county,
            activity,
            reason,
        } => {
            return decide(
                &cli,
                Decision::Hold {
                    by: cli.actor.clone(),
                    county: county.clone(),
                    activity: activity.clone(),
                    reason: reason.clone(),
                },
            )
            .await;
        }
        Command::Docs { county } => {
            let center = Center::open(CenterConfig::load(&cli.config)?, Mode::ReadOnly)?;
            for name in center.journal.doc_names("")? {
                if county
                    .as_ref()
                    .is_some_and(|c| !jilu_common::sync::visible_to(&name, c))
                {
                    continue;
                }
                if let Some(mut d) = center.journal.load_doc(&name)? {
                    let mut heads: Vec<String> =
                        d.get_heads().iter().map(|h| h.to_string()).collect();
                    heads.sort();
                    if cli.json {
                        outln!(
                            "{}",
                            serde_json::json!({"name": name, "heads": heads, "content": jilu_common::doc::to_json(&d)?})
                        );
                    } else {
                        outln!("{name:<40} {}", heads.join(","));
                    }
                }
            }
        }
        Command::Export {
            activity,
            county,
            copy,
            out,
            unit,
        } => {
            let cfg = CenterConfig::load(&cli.config)?;
            let req = crate::export::Request {
                activity: activity.clone(),
                county: county.clone(),
                copy: *copy,
                out: out.clone(),
                unit: unit.clone(),
                producer: cli.actor.clone(),
            };
            let written = {
                let center = Center::open(cfg.clone(), Mode::ReadOnly)?;
                tokio::task::spawn_blocking(move || crate::export::write(&center, &req)).await??
            };
            let message = send_or_apply(cfg, Decision::Export { copy: written }).await?;
            outln!("{message}");
        }
        Command::AuditVerify => {
            let center = Center::open(CenterConfig::load(&cli.config)?, Mode::ReadOnly)?;
            let r = center.journal.verify_audit()?;
            if r.is_intact() {
                outln!("audit log intact: {} entries", r.entries);
            } else {
                outln!("audit log BROKEN: {} problems", r.problems.len());
                for p in &r.problems {
                    outln!("  {p}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
