//! The `edge-node` command line. Every command prints one clear line on failure
//! (`error: ...`, exit status 1) and changes nothing; `--json` gives scripts one
//! JSON value per line.
//!
//! A command runs in the node that holds the store: when `edge-node run` (or
//! `sync`, or `dock watch`) is running, the command is sent to it over the
//! control socket ([`crate::control`]); otherwise this process opens the store
//! itself. Both run the same handler through [`context::Ctx`] and print through
//! [`output::Out`], so they cannot drift apart.
//!
//! # Layout
//! - [`output`] — the output layer (text, `--json`, progress bars, error lines).
//! - [`context`] — what a command runs with, wherever it runs.
//! - [`registry`] — `device`, `officer`, `matter`.
//! - [`ledger`] — `checkout`, `checkin`, `ledger`.
//! - [`activity`] — `activity ...`.
//! - [`ingest`] — `ingest`.
//! - [`items`] — `items`, `item`, `export`, `verify`.
//! - [`audit`] — `audit ...`, `docs`.
//! - [`node`] — `init`, `status`, `sync`, `run`, `dock watch`: the node itself.

pub mod activity;
pub mod audit;
pub mod context;
pub mod ingest;
pub mod items;
pub mod ledger;
pub mod node;
pub mod output;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use jilu_common::time::{self, Millis};
use serde::{Deserialize, Serialize};

use self::context::{Ctx, Node, OwnFiles};
use self::output::{one_line, Out, Print, Sink, Terminal};
use crate::control;
use crate::store::StoreError;

#[derive(Parser, Debug)]
#[command(
    name = "edge-node",
    version,
    about = "Jilu edge node: keeps a county office's enforcement recordings, ledgers and activities, offline.",
    long_about = "Jilu edge node: keeps a county office's enforcement recordings, ledgers and activities, offline.\n\n\
Start with `edge-node init --node NAME --county CODE`, register devices and officers, check devices\n\
out and in, record activities, and ingest footage when a device is docked. `edge-node status`\n\
shows what waits to be uploaded and what the regulation asks that the records do not show.\n\n\
In an office the node runs all day as a service (`edge-node run --dock DIR`). While it runs, every\n\
other command is handed to it and works as usual: same output, same exit status."
)]
pub struct Cli {
    /// Folder of this node's store and edge.toml.
    #[arg(
        long,
        global = true,
        env = "JILU_EDGE_DIR",
        default_value = "jilu-edge"
    )]
    pub data_dir: PathBuf,
    /// Print JSON (one value per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is acting, as written in the audit log (a badge, or "keeper").
    #[arg(
        long = "as",
        global = true,
        env = "JILU_ACTOR",
        default_value = "keeper"
    )]
    pub actor: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Create this node's store (once per office).
    Init {
        /// Node name, unique in the city, e.g. edge-410402.
        #[arg(long)]
        node: String,
        /// County (区县) code of this office, e.g. 410402.
        #[arg(long)]
        county: String,
    },
    /// Devices: body cameras, cameras, recorders, terminals, CCTV, storage (art. 2).
    #[command(subcommand)]
    Device(registry::DeviceCmd),
    /// Officers who use the devices.
    #[command(subcommand)]
    Officer(registry::OfficerCmd),
    /// The catalogue of matters that must be recorded (art. 6 and annex).
    #[command(subcommand)]
    Matter(registry::MatterCmd),
    /// Check a device out to an officer after the pre-use check (art. 4, 7).
    Checkout(ledger::CheckoutArgs),
    /// Check a device back in.
    Checkin(ledger::CheckinArgs),
    /// Show the check-out ledger of a month (default: this month).
    Ledger(ledger::LedgerArgs),
    /// Enforcement activities: arrival/departure, notice, annotations, interruptions (art. 8-12).
    #[command(subcommand)]
    Activity(activity::ActivityCmd),
    /// Store footage durably from files or a docked device's folder.
    Ingest(ingest::IngestArgs),
    /// List stored recordings.
    Items(items::ItemsArgs),
    /// One recording: details and custody (this access is logged).
    Item(items::ItemArgs),
    /// Copy a recording out of the store, verified chunk by chunk (logged).
    Export(items::ExportArgs),
    /// Re-read stored footage and check every chunk against its hash.
    Verify(items::VerifyArgs),
    /// Dock watch: ingest from docked devices automatically.
    #[command(subcommand)]
    Dock(node::DockCmd),
    /// The audit log (art. 18).
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Upload queue, docked cameras and compliance findings (art. 5, 6, 8, 12, 13).
    Status,
    /// Documents held (Automerge), with their heads: equal heads mean equal contents.
    Docs,
    /// Sync with the city center ([center] in edge.toml): documents, then footage.
    Sync(node::SyncArgs),
    /// Run the office's node: serve every command, sync with the center, with --dock watch the dock, with --http serve the office page.
    Run(node::RunArgs),
}

impl Command {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init { .. } => "init",
            Command::Device(_) => "device",
            Command::Officer(_) => "officer",
            Command::Matter(_) => "matter",
            Command::Checkout(_) => "checkout",
            Command::Checkin(_) => "checkin",
            Command::Ledger(_) => "ledger",
            Command::Activity(_) => "activity",
            Command::Ingest(_) => "ingest",
            Command::Items(_) => "items",
            Command::Item(_) => "item",
            Command::Export(_) => "export",
            Command::Verify(_) => "verify",
            Command::Dock(_) => "dock",
            Command::Audit(_) => "audit",
            Command::Status => "status",
            Command::Docs => "docs",
            Command::Sync(_) => "sync",
            Command::Run(_) => "run",
        }
    }

    /// Makes the paths in the command absolute against `cwd`, so they mean the same
    /// inside the running node, whose working directory is its own.
    pub fn absolutize(&mut self, cwd: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        };
        match self {
            Command::Ingest(a) => a.paths.iter_mut().for_each(abs),
            Command::Export(a) => abs(&mut a.out),
            Command::Dock(node::DockCmd::Watch(a)) => abs(&mut a.dir),
            Command::Run(a) => {
                if let Some(d) = &mut a.dock {
                    abs(d)
                }
            }
            _ => {}
        }
    }

    /// Commands that stop cleanly on Ctrl-C (the others end quickly or are the node).
    fn cancellable(&self) -> bool {
        matches!(
            self,
            Command::Ingest(_) | Command::Export(_) | Command::Verify(_)
        )
    }

    /// Commands that become the node when none is running.
    fn serves(&self) -> bool {
        matches!(
            self,
            Command::Run(_) | Command::Sync(_) | Command::Dock(node::DockCmd::Watch(_))
        )
    }
}

pub(crate) fn parse_time(s: &str) -> Result<Millis> {
    Ok(time::parse(s)?)
}

/// Runs `cmd` with `ctx`, wherever that is; returns the exit status.
pub fn exec(ctx: &mut Ctx<'_>, cmd: &Command) -> Result<u8> {
    match cmd {
        Command::Init { node, county } => node::init(ctx, node, county)?,
        Command::Device(c) => registry::device(ctx, c)?,
        Command::Officer(c) => registry::officer(ctx, c)?,
        Command::Matter(c) => registry::matter(ctx, c)?,
        Command::Checkout(a) => ledger::checkout(ctx, a)?,
        Command::Checkin(a) => ledger::checkin(ctx, a)?,
        Command::Ledger(a) => ledger::ledger(ctx, a)?,
        Command::Activity(c) => activity::activity(ctx, c)?,
        Command::Ingest(a) => return ingest::ingest(ctx, a),
        Command::Items(a) => items::items(ctx, a)?,
        Command::Item(a) => items::item(ctx, a)?,
        Command::Export(a) => items::export(ctx, a)?,
        Command::Verify(a) => return items::verify(ctx, a),
        Command::Dock(node::DockCmd::Watch(a)) => return node::dock_watch_in_node(ctx, a),
        Command::Audit(c) => return audit::audit(ctx, c),
        Command::Status => node::status(ctx)?,
        Command::Docs => audit::docs(ctx)?,
        Command::Sync(a) => return node::sync_in_node(ctx, a),
        Command::Run(_) => node::run_in_node(ctx)?,
    }
    Ok(0)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JILU_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let mut term = Terminal::default();
    match run(cli, &mut term) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            term.print(Print::Err(format!("error: {}", one_line(&e))));
            ExitCode::FAILURE
        }
    }
}

/// How long a command waits for another command that holds the store (a
/// one-shot ingest, say) before it gives up with the store's "in use" error.
fn lock_wait() -> Duration {
    std::env::var("JILU_LOCK_WAIT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(30))
}

/// Counts what passes, so the caller knows whether anything was printed.
struct Counting<'a> {
    inner: &'a mut dyn Sink,
    printed: usize,
}

impl Sink for Counting<'_> {
    fn print(&mut self, p: Print) {
        self.printed += 1;
        self.inner.print(p);
    }
}

fn run(cli: Cli, term: &mut Terminal) -> Result<u8> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut armed = false;
    // From here on the first Ctrl-C asks the command to stop cleanly (a forwarded
    // command is cancelled in the node; an ingest discards the file in progress),
    // and a second one kills. Other commands keep the default: Ctrl-C kills.
    let mut arm = || -> Result<()> {
        if !std::mem::replace(&mut armed, true) {
            signal_hook::flag::register_conditional_default(
                signal_hook::consts::SIGINT,
                interrupted.clone(),
            )?;
            signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone())?;
        }
        Ok(())
    };
    if let Command::Init { .. } = cli.command {
        return local(&cli, term, &interrupted)
            .map(|(code, _)| code)
            .map_err(|e| e.error);
    }
    let deadline = Instant::now() + lock_wait();
    let mut waiting_noted = false;
    loop {
        if let Some(stream) = control::client::connect(&cli.data_dir)? {
            arm()?;
            let mut command = cli.command.clone();
            command.absolutize(&std::env::current_dir()?);
            let hello = control::Hello {
                version: control::CONTROL_VERSION,
                software: env!("CARGO_PKG_VERSION").to_string(),
                json: cli.json,
                actor: cli.actor.clone(),
                command,
            };
            return control::client::forward(stream, &hello, term, &interrupted);
        }
        if cli.command.serves() {
            return node::serve(&cli, term);
        }
        if cli.command.cancellable() {
            arm()?;
        }
        match local(&cli, term, &interrupted) {
            Err(e)
                if is_locked(&e).is_some_and(|printed| printed == 0)
                    && Instant::now() < deadline =>
            {
                if !waiting_noted {
                    waiting_noted = true;
                    tracing::info!("another edge-node command holds the store: waiting for it");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.error),
            Ok((code, _)) => return Ok(code),
        }
    }
}

/// A command's failure, with how much it had printed before it failed.
struct LocalError {
    error: anyhow::Error,
    printed: usize,
}

/// `Some(printed)` when the command failed only because another process holds
/// the store.
fn is_locked(e: &LocalError) -> Option<usize> {
    matches!(
        e.error.downcast_ref::<StoreError>(),
        Some(StoreError::Locked(_))
    )
    .then_some(e.printed)
}

/// Runs the command in this process.
fn local(
    cli: &Cli,
    term: &mut Terminal,
    interrupted: &AtomicBool,
) -> Result<(u8, usize), LocalError> {
    let mut counting = Counting {
        inner: term,
        printed: 0,
    };
    let cancel = || interrupted.load(std::sync::atomic::Ordering::SeqCst);
    let mut files = OwnFiles;
    let via = local_user();
    let result = {
        let mut ctx = Ctx {
            out: Out::new(cli.json, &mut counting),
            actor: jilu_common::subject::Actor::new(&cli.actor, Some(via)),
            node: Node::Local {
                dir: cli.data_dir.clone(),
                rw: None,
            },
            files: &mut files,
            cancel: &cancel,
            service: None,
        };
        exec(&mut ctx, &cli.command)
    };
    let printed = counting.printed;
    result
        .map(|code| (code, printed))
        .map_err(|error| LocalError { error, printed })
}

/// This process's OS user, as written in the audit log.
fn local_user() -> String {
    let uid = rustix::process::getuid().as_raw();
    match control::server::user_name(uid) {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}
