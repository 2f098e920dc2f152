//! The `edge-node` command line. Every command prints one clear line on failure
//! (`error: ...`, exit status 1) and changes nothing; `--json` gives scripts one JSON
//! value per line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Parser, Subcommand};
use jilu_common::activity::{Annotation, AnnotationKind, InterruptionReason, Notice};
use jilu_common::audit::{self, Action};
use jilu_common::matter::{Matter, DEFAULT_RETENTION_DAYS};
use jilu_common::registry::{Device, DeviceKind, DeviceStatus, Officer};
use jilu_common::time::{self, Millis};
use serde_json::json;

use crate::activities::{ActivityChange, NewActivity, NewInterruption};
use crate::dock::{DockEvent, DockOptions};
use crate::edge::{now_ms, parse_hash, Edge};
use crate::ingest::{kind_name, Source};
use crate::ledger::CheckOutRequest;
use crate::store::Mode;

#[derive(Parser, Debug)]
#[command(
    name = "edge-node",
    version,
    about = "Jilu edge node: keeps a county office's enforcement recordings, ledgers and activities, offline.",
    long_about = "Jilu edge node: keeps a county office's enforcement recordings, ledgers and activities, offline.\n\n\
Start with `edge-node init --node NAME --county CODE`, register devices and officers, check devices\n\
out and in, record activities, and ingest footage when a device is docked. `edge-node status`\n\
shows what waits to be uploaded and what the regulation asks that the records do not show."
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

#[derive(Subcommand, Debug)]
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
    Device(DeviceCmd),
    /// Officers who use the devices.
    #[command(subcommand)]
    Officer(OfficerCmd),
    /// The catalogue of matters that must be recorded (art. 6 and annex).
    #[command(subcommand)]
    Matter(MatterCmd),
    /// Check a device out to an officer after the pre-use check (art. 4, 7).
    Checkout(CheckoutArgs),
    /// Check a device back in.
    Checkin {
        device: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Show the check-out ledger of a month (default: this month).
    Ledger {
        /// YYYY-MM
        #[arg(long)]
        month: Option<String>,
    },
    /// Enforcement activities: arrival/departure, notice, annotations, interruptions (art. 8-12).
    #[command(subcommand)]
    Activity(ActivityCmd),
    /// Store footage durably from files or a docked device's folder.
    Ingest(IngestArgs),
    /// List stored recordings.
    Items {
        /// Only recordings not linked to an activity.
        #[arg(long)]
        unlinked: bool,
    },
    /// One recording: details and custody (this access is logged).
    Item { hash: String },
    /// Copy a recording out of the store, verified chunk by chunk (logged).
    Export {
        hash: String,
        /// Where to write the file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-read stored footage and check every chunk against its hash.
    Verify {
        /// Only this item (default: all).
        hash: Option<String>,
    },
    /// Dock watch: ingest from docked devices automatically.
    #[command(subcommand)]
    Dock(DockCmd),
    /// The audit log (art. 18).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Upload queue and compliance findings (art. 5, 6, 8, 12, 13).
    Status,
    /// Documents held (Automerge), with their heads: equal heads mean equal contents.
    Docs,
    /// Sync with the city center ([center] in edge.toml): documents, then footage.
    Sync {
        /// Sync until nothing is left to send, then exit (default: keep syncing).
        #[arg(long)]
        once: bool,
        /// With --once: give up (exit 1) after this many seconds without a completed sync.
        #[arg(long, default_value_t = 120)]
        give_up: u64,
    },
    /// Run the office's daemon: sync with the center and, with --dock, dock watch.
    Run {
        /// Dock folder to watch (DIR/<device-id>/...).
        #[arg(long)]
        dock: Option<PathBuf>,
        /// With --dock: delete files from devices once their stored copy re-verifies.
        #[arg(long)]
        wipe: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Register a device.
    Add {
        /// The office's id for it; a docked device's folder is named after it.
        id: String,
        /// body-camera, camera, audio-recorder, video-camera, handheld-terminal, cctv or storage.
        #[arg(long)]
        kind: DeviceKind,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        unit: String,
    },
    /// List devices.
    List,
    /// Mark a device available, under repair or retired.
    SetStatus {
        id: String,
        /// available, repair or retired.
        status: DeviceStatus,
    },
}

#[derive(Subcommand, Debug)]
pub enum OfficerCmd {
    /// Register an officer.
    Add {
        badge: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        unit: String,
    },
    /// List officers.
    List,
}

#[derive(Subcommand, Debug)]
pub enum MatterCmd {
    /// List the catalogue.
    List,
    /// Add or change a row of the catalogue.
    Set(Box<MatterArgs>),
}

#[derive(Args, Debug)]
pub struct MatterArgs {
    pub id: String,
    /// 执法类别
    #[arg(long)]
    pub category: String,
    /// 执法事项
    #[arg(long)]
    pub matter: String,
    /// 记录环节
    #[arg(long, default_value = "")]
    pub stage: String,
    /// 执法场所
    #[arg(long, default_value = "")]
    pub venue: String,
    /// 记录人
    #[arg(long, default_value = "")]
    pub recorder: String,
    /// 记录开始时间
    #[arg(long, default_value = "")]
    pub start_trigger: String,
    /// 记录内容
    #[arg(long, default_value = "")]
    pub content: String,
    /// 记录结束时间
    #[arg(long, default_value = "")]
    pub end_trigger: String,
    /// 记录存储时间
    #[arg(long, default_value = "")]
    pub storage: String,
    /// 执法记录类别
    #[arg(long, default_value = "")]
    pub record_category: String,
    /// Recording is not mandatory for this matter.
    #[arg(long)]
    pub optional: bool,
    /// Days to keep footage (art. 15: three months).
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
}

#[derive(Args, Debug)]
pub struct CheckoutArgs {
    pub device: String,
    /// Badge of the officer taking it.
    #[arg(long)]
    pub officer: String,
    /// What it is taken for (记录内容).
    #[arg(long)]
    pub purpose: String,
    /// Battery charge, percent.
    #[arg(long)]
    pub battery: u8,
    /// Free storage on the device, MB.
    #[arg(long)]
    pub free_mb: u64,
    /// Does the device power on and record? yes or no.
    #[arg(long, value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub works: bool,
    /// The time the device shows right now (RFC 3339); compared with the station's clock.
    #[arg(long)]
    pub device_clock: String,
    /// Check out although the pre-use check failed, for this reason (recorded).
    #[arg(long = "override")]
    pub override_reason: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ActivityCmd {
    /// Record a new activity.
    New {
        /// Matter id from the catalogue.
        #[arg(long)]
        matter: String,
        #[arg(long)]
        place: String,
        /// Badge of an officer present (repeat for each).
        #[arg(long = "officer", required = true)]
        officers: Vec<String>,
        /// Arrival on site (RFC 3339).
        #[arg(long)]
        arrival: String,
        /// Departure from site (RFC 3339), if known.
        #[arg(long)]
        departure: Option<String>,
        /// Remote work (边远/水上/异地/连续执法): 24 h after return to hand over.
        #[arg(long)]
        remote: bool,
        /// Id to use (default: generated).
        #[arg(long)]
        id: Option<String>,
    },
    /// Change place, arrival, departure or the remote flag.
    Set {
        id: String,
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        arrival: Option<String>,
        #[arg(long)]
        departure: Option<String>,
        #[arg(long)]
        remote: Option<bool>,
    },
    /// Record that the party was told of the recording (art. 9).
    Notice {
        id: String,
        #[arg(long)]
        at: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        words: String,
    },
    /// Note what the record shows (art. 10).
    Annotate {
        id: String,
        /// place, time, scene, participants, officer-conduct, party-conduct, violation or evidence.
        #[arg(long)]
        kind: AnnotationKind,
        #[arg(long)]
        text: String,
        /// The recording it refers to (hash or prefix).
        #[arg(long)]
        item: Option<String>,
        #[arg(long)]
        at: Option<String>,
    },
    /// Link recordings to the activity.
    Link {
        id: String,
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// File the written record of an interruption (art. 12), after the activity.
    Interruption {
        id: String,
        /// device-fault, battery, storage, weather, obstruction, force-majeure or other.
        #[arg(long)]
        reason: InterruptionReason,
        /// What happened and on what basis recording stopped.
        #[arg(long)]
        basis: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Badge of the officer writing it.
        #[arg(long)]
        by: String,
    },
    /// List activities.
    List,
    /// Show one activity.
    Show { id: String },
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files, or a docked device's folder.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Device the footage comes from.
    #[arg(long)]
    pub device: String,
    /// Officer who recorded it (default: the device's latest check-out).
    #[arg(long)]
    pub officer: Option<String>,
    /// Activity the footage belongs to.
    #[arg(long)]
    pub activity: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DockCmd {
    /// Watch DIR/<device-id>/ folders and ingest new files.
    Watch {
        dir: PathBuf,
        /// Delete each file from the device once its stored copy re-verifies.
        #[arg(long)]
        wipe: bool,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds between passes.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Seconds a file must stay unchanged before it is ingested.
        #[arg(long, default_value_t = 3)]
        settle: u64,
        /// Cameras ingested at once (default: edge.toml [dock] concurrent_cameras, else one per CPU core).
        #[arg(long)]
        cameras: Option<usize>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the whole log: any edited, dropped or reordered entry is reported.
    Verify,
    /// Print the log.
    Show {
        /// Only entries about this subject (e.g. device:cam-01, item:HASH).
        #[arg(long)]
        subject: Option<String>,
    },
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" | "y" | "true" => Ok(true),
        "no" | "n" | "false" => Ok(false),
        _ => Err(format!("'{s}': answer yes or no")),
    }
}

fn parse_time(s: &str) -> Result<Millis> {
    Ok(time::parse(s)?)
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
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause the message already contains.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out.replace('\n', " ")
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

fn open_rw(cli: &Cli) -> Result<Edge> {
    let edge = Edge::open(&cli.data_dir, Mode::ReadWrite)?;
    let n = edge.recover()?;
    if n > 0 {
        eprintln!("note: discarded {n} ingest(s) interrupted before they were acknowledged (their files are still on the device; see `edge-node audit show`)");
    }
    Ok(edge)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn open_ro(cli: &Cli) -> Result<Edge> {
    Edge::open(&cli.data_dir, Mode::ReadOnly)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let actor = cli.actor.clone();
    match &cli.command {
        Command::Init { node, county } => {
            Edge::init(&cli.data_dir, node, county)?;
            if cli.json {
                print_json(&json!({"initialised": cli.data_dir, "node": node, "county": county}));
            } else {
                println!(
                    "initialised edge {node} (county {county}) in {}",
                    cli.data_dir.display()
                );
                println!(
                    "configuration: {}",
                    cli.data_dir.join(crate::config::FILE_NAME).display()
                );
            }
        }
        Command::Device(cmd) => match cmd {
            DeviceCmd::Add {
                id,
                kind,
                serial,
                unit,
            } => {
                let edge = open_rw(&cli)?;
                let d = Device {
                    id: id.clone(),
                    kind: *kind,
                    serial: serial.clone(),
                    unit: unit.clone(),
                    status: DeviceStatus::Available,
                };
                edge.add_device(&actor, d.clone())?;
                if cli.json {
                    print_json(&serde_json::to_value(&d)?);
                } else {
                    println!(
                        "registered {} {} (serial {serial}, unit {unit})",
                        kind.name(),
                        id
                    );
                }
            }
            DeviceCmd::List => {
                let edge = open_ro(&cli)?;
                for d in edge.devices()? {
                    if cli.json {
                        print_json(&serde_json::to_value(&d)?);
                    } else {
                        println!(
                            "{:<16} {:<18} serial {:<14} unit {:<12} {:?}",
                            d.id,
                            d.kind.name(),
                            d.serial,
                            d.unit,
                            d.status
                        );
                    }
                }
            }
            DeviceCmd::SetStatus { id, status } => {
                let edge = open_rw(&cli)?;
                edge.set_device_status(&actor, id, *status)?;
                if !cli.json {
                    println!("device {id} is now {status:?}");
                }
            }
        },
        Command::Officer(cmd) => match cmd {
            OfficerCmd::Add { badge, name, unit } => {
                let edge = open_rw(&cli)?;
                let o = Officer {
                    badge: badge.clone(),
                    name: name.clone(),
                    unit: unit.clone(),
                };
                edge.add_officer(&actor, o.clone())?;
                if cli.json {
                    print_json(&serde_json::to_value(&o)?);
                } else {
                    println!("registered officer {badge} {name} ({unit})");
                }
            }
            OfficerCmd::List => {
                let edge = open_ro(&cli)?;
                for o in edge.officers()? {
                    if cli.json {
                        print_json(&serde_json::to_value(&o)?);
                    } else {
                        println!("{:<10} {:<12} {}", o.badge, o.name, o.unit);
                    }
                }
            }
        },
        Command::Matter(cmd) => match cmd {
            MatterCmd::List => {
                let edge = open_ro(&cli)?;
                for m in edge.matters()? {
                    if cli.json {
                        print_json(&serde_json::to_value(&m)?);
                    } else {
                        println!(
                            "{}  {} / {}  环节:{} 场所:{} 记录人:{} 开始:{} 结束:{} 类别:{} 保存:{} ({} days){}",
                            m.id,
                            m.category,
                            m.matter,
                            m.stage,
                            m.venue,
                            m.recorder,
                            m.start_trigger,
                            m.end_trigger,
                            m.record_category,
                            m.storage,
                            m.retention_days,
                            if m.must_record { "" } else { " (optional)" }
                        );
                    }
                }
            }
            MatterCmd::Set(a) => {
                let edge = open_rw(&cli)?;
                let m = Matter {
                    id: a.id.clone(),
                    category: a.category.clone(),
                    matter: a.matter.clone(),
                    stage: a.stage.clone(),
                    venue: a.venue.clone(),
                    recorder: a.recorder.clone(),
                    start_trigger: a.start_trigger.clone(),
                    content: a.content.clone(),
                    end_trigger: a.end_trigger.clone(),
                    storage: a.storage.clone(),
                    record_category: a.record_category.clone(),
                    must_record: !a.optional,
                    retention_days: a.retention_days,
                };
                edge.set_matter(&actor, m)?;
                if !cli.json {
                    println!("matter {} saved", a.id);
                }
            }
        },
        Command::Checkout(a) => {
            let device_clock = parse_time(&a.device_clock)?;
            let edge = open_rw(&cli)?;
            let rec = edge.check_out(
                &actor,
                CheckOutRequest {
                    device: a.device.clone(),
                    officer: a.officer.clone(),
                    purpose: a.purpose.clone(),
                    battery_pct: a.battery,
                    free_storage_mb: a.free_mb,
                    works: a.works,
                    device_clock,
                    override_reason: a.override_reason.clone(),
                },
            )?;
            if cli.json {
                print_json(&serde_json::to_value(&rec)?);
            } else {
                println!(
                    "checked out {} to {} ({}); device clock offset {} ms{}",
                    rec.device,
                    rec.officer,
                    rec.id,
                    rec.check.clock_offset_ms,
                    rec.override_reason
                        .as_ref()
                        .map(|r| format!("; check overridden: {r}"))
                        .unwrap_or_default()
                );
            }
        }
        Command::Checkin { device, note } => {
            let edge = open_rw(&cli)?;
            let rec = edge.check_in(&actor, device, note.clone())?;
            if cli.json {
                print_json(&serde_json::to_value(&rec)?);
            } else {
                println!("checked in {} ({})", rec.device, rec.id);
            }
        }
        Command::Ledger { month } => {
            let edge = open_ro(&cli)?;
            let month = month.clone().unwrap_or_else(|| time::month(now_ms()));
            for c in edge.ledger(&month)? {
                if cli.json {
                    print_json(&serde_json::to_value(&c)?);
                } else {
                    println!(
                        "{}  {} -> {}  out {}  in {}  battery {}% free {} MB clock {:+} ms  {}{}",
                        c.id,
                        c.device,
                        c.officer,
                        time::format(c.out_at),
                        c.in_at.map(time::format).unwrap_or_else(|| "-".into()),
                        c.check.battery_pct,
                        c.check.free_storage_mb,
                        c.check.clock_offset_ms,
                        c.purpose,
                        c.override_reason
                            .as_ref()
                            .map(|r| format!("  [override: {r}]"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        Command::Activity(cmd) => activity(&cli, &actor, cmd)?,
        Command::Ingest(a) => return ingest(&cli, &actor, a),
        Command::Items { unlinked } => {
            let edge = open_ro(&cli)?;
            for r in edge.items()? {
                if *unlinked && r.item.activity.is_some() {
                    continue;
                }
                if cli.json {
                    print_json(&serde_json::to_value(&r)?);
                } else {
                    println!(
                        "{}  {:<6} {:>10} B  {}  {}  {}  {}",
                        &r.item.hash[..16],
                        kind_name(r.item.kind),
                        r.item.size,
                        time::format(r.item.capture_start),
                        r.item.device,
                        r.item.activity.as_deref().unwrap_or("(unlinked)"),
                        r.item.original_name
                    );
                }
            }
        }
        Command::Item { hash } => {
            let edge = open_rw(&cli)?;
            let rec = edge.resolve_item(hash)?;
            let key = parse_hash(&rec.item.hash)?;
            let mut tx = edge.begin();
            tx.audit(
                &actor,
                Action::Access,
                &format!("item:{}", rec.item.hash),
                json!({"what": "details"}),
                &[key],
            )?;
            tx.commit()?;
            let custody = edge.custody(&key)?;
            if cli.json {
                print_json(&json!({"item": rec, "custody": custody}));
            } else {
                println!("{}", serde_json::to_string_pretty(&rec)?);
                println!("custody:");
                for e in custody {
                    println!(
                        "  #{} {} {:?} by {} {}",
                        e.seq,
                        time::format(e.at),
                        e.action,
                        e.actor,
                        e.detail
                    );
                }
            }
        }
        Command::Export { hash, out } => {
            let edge = open_rw(&cli)?;
            let rec = edge.resolve_item(hash)?;
            export(&edge, &actor, &rec, out)?;
            if cli.json {
                print_json(&json!({"exported": rec.item.hash, "to": out}));
            } else {
                println!("exported {} to {} (verified)", rec.item.hash, out.display());
            }
        }
        Command::Verify { hash } => {
            let edge = open_ro(&cli)?;
            let records = match hash {
                Some(h) => vec![edge.resolve_item(h)?],
                None => edge.items()?,
            };
            let (mut bad, mut freed) = (0, 0);
            for r in &records {
                // footage freed after the center verified it is not corruption
                if edge.chunks_freed(&r.item.hash)? {
                    freed += 1;
                    if cli.json {
                        print_json(&json!({"hash": r.item.hash, "ok": true, "freed": true}));
                    }
                    continue;
                }
                let result = edge.verify_item(r);
                if cli.json {
                    print_json(
                        &json!({"hash": r.item.hash, "ok": result.is_ok(), "error": result.as_ref().err().map(|e| format!("{e:#}"))}),
                    );
                } else if let Err(e) = &result {
                    println!("CORRUPT {}", one_line(e));
                }
                bad += usize::from(result.is_err());
            }
            if !cli.json {
                println!(
                    "{} items checked, {} intact, {} corrupt{}",
                    records.len(),
                    records.len() - bad - freed,
                    bad,
                    if freed > 0 {
                        format!(", {freed} freed after center verification")
                    } else {
                        String::new()
                    }
                );
            }
            if bad > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Dock(DockCmd::Watch {
            dir,
            wipe,
            once,
            interval,
            settle,
            cameras,
        }) => {
            let edge = open_rw(&cli)?;
            let opts = DockOptions {
                dir: dir.clone(),
                wipe: *wipe,
                once: *once,
                interval: Duration::from_secs(*interval),
                settle: Duration::from_secs(*settle),
                cameras: cameras.unwrap_or(edge.cfg.dock.concurrent_cameras),
            };
            let json_out = cli.json;
            if !json_out && !once {
                println!(
                    "watching {} for docked devices (one folder per device id), every {interval}s{}; Ctrl-C to stop",
                    dir.display(),
                    if *wipe { ", deleting verified files from the devices" } else { "" }
                );
            }
            edge.dock_watch(
                &actor,
                &opts,
                &mut |ev| {
                    if json_out {
                        print_json(&serde_json::to_value(ev).unwrap_or_default());
                    } else {
                        match ev {
                            DockEvent::Ingested {
                                device,
                                path,
                                hash,
                                size,
                                duplicate,
                            } => println!(
                                "{device}: stored {} ({size} B) as {}{}",
                                path.display(),
                                &hash[..16],
                                if *duplicate {
                                    " (already held: custody event added)"
                                } else {
                                    ""
                                }
                            ),
                            DockEvent::Wiped { device, path, .. } => println!(
                                "{device}: verified and deleted {} from the device",
                                path.display()
                            ),
                            DockEvent::Skipped { device, path, why } => match path {
                                Some(p) => println!("{device}: skipped {}: {why}", p.display()),
                                None => println!("{device}: skipped folder: {why}"),
                            },
                        }
                    }
                },
                &|| false,
            )?;
        }
        Command::Audit(AuditCmd::Verify) => {
            let edge = open_ro(&cli)?;
            let report = edge.verify_audit()?;
            if cli.json {
                print_json(&serde_json::to_value(&report)?);
            } else if report.is_intact() {
                println!(
                    "audit log intact: {} entries, head {}",
                    report.entries,
                    audit::hex32::to_hex(&report.last_hash)
                );
            } else {
                println!(
                    "audit log BROKEN: {} entries, {} problems",
                    report.entries,
                    report.problems.len()
                );
                for p in &report.problems {
                    println!("  {p}");
                }
            }
            if !report.is_intact() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Audit(AuditCmd::Show { subject }) => {
            let edge = open_ro(&cli)?;
            for (_, bytes) in edge.audit_entries()? {
                let e = audit::Entry::decode(&bytes).map_err(|_| {
                    anyhow!("an audit entry is unreadable: run `edge-node audit verify`")
                })?;
                if subject
                    .as_ref()
                    .is_some_and(|s| !e.subject.starts_with(s.as_str()))
                {
                    continue;
                }
                if cli.json {
                    print_json(&serde_json::to_value(&e)?);
                } else {
                    println!(
                        "#{:<5} {}  {:<18} {:<10} {}  {}",
                        e.seq,
                        time::format(e.at),
                        format!("{:?}", e.action),
                        e.actor,
                        e.subject,
                        e.detail
                    );
                }
            }
        }
        Command::Docs => {
            let edge = open_ro(&cli)?;
            for name in edge.doc_names("")? {
                if let Some(mut d) = edge.load_doc(&name)? {
                    let mut heads: Vec<String> =
                        d.get_heads().iter().map(|h| h.to_string()).collect();
                    heads.sort();
                    if cli.json {
                        print_json(
                            &json!({"name": name, "heads": heads, "content": jilu_common::doc::to_json(&d)?}),
                        );
                    } else {
                        println!("{name:<40} {}", heads.join(","));
                    }
                }
            }
        }
        Command::Sync { once, give_up } => {
            let edge = std::sync::Arc::new(open_rw(&cli)?);
            let report = runtime()?.block_on(async move {
                let cancel = tokio_util::sync::CancellationToken::new();
                let c = cancel.clone();
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    c.cancel();
                });
                crate::uplink::run(edge, *once, Duration::from_secs(*give_up), cancel).await
            })?;
            if cli.json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                println!(
                    "sync: {} session(s), {} document(s) merged, {} item(s) verified at the center, {:.1} MiB sent",
                    report.sessions,
                    report.docs_synced,
                    report.items_verified,
                    report.bytes_sent as f64 / 1048576.0
                );
                for d in &report.docs_refused {
                    println!("  the center refused our changes to {d} (see `edge-node audit show --subject doc:{d}`)");
                }
                for h in &report.refused_items {
                    println!("  the center refused item {h} (see `edge-node audit show --subject item:{h}`)");
                }
                for h in &report.locally_corrupt {
                    println!("  LOCAL CORRUPTION: item {h} is damaged in this node's store and was not uploaded; keep the device's copy");
                }
            }
            // footage that will not reach the center needs the keeper's attention
            if !report.locally_corrupt.is_empty() || !report.refused_items.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Run { dock, wipe } => {
            let edge = std::sync::Arc::new(open_rw(&cli)?);
            let cancel = tokio_util::sync::CancellationToken::new();
            let rt = runtime()?;
            let dock_thread = dock.clone().map(|dir| {
                let (edge, cancel, actor, wipe) =
                    (edge.clone(), cancel.clone(), actor.clone(), *wipe);
                std::thread::spawn(move || {
                    let opts = DockOptions {
                        dir,
                        wipe,
                        once: false,
                        interval: Duration::from_secs(5),
                        settle: Duration::from_secs(3),
                        cameras: edge.cfg.dock.concurrent_cameras,
                    };
                    edge.dock_watch(
                        &actor,
                        &opts,
                        &mut |ev| println!("{}", serde_json::to_string(ev).unwrap_or_default()),
                        &|| cancel.is_cancelled(),
                    )
                })
            });
            println!(
                "edge {} running{}{}; Ctrl-C to stop",
                edge.cfg.node,
                if edge.cfg.center.is_some() {
                    ", syncing with the center"
                } else {
                    ""
                },
                if dock.is_some() {
                    ", watching the dock"
                } else {
                    ""
                }
            );
            rt.block_on(async {
                let c = cancel.clone();
                let sync = edge.cfg.center.is_some().then(|| {
                    tokio::spawn(crate::uplink::run(edge.clone(), false, Duration::MAX, c))
                });
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                cancel.cancel();
                if let Some(s) = sync {
                    let _ = tokio::time::timeout(Duration::from_secs(8), s).await;
                }
                anyhow::Ok(())
            })?;
            if let Some(t) = dock_thread {
                t.join().map_err(|_| anyhow!("dock watch panicked"))??;
            }
        }
        Command::Status => {
            let edge = open_ro(&cli)?;
            let s = edge.status()?;
            if cli.json {
                print_json(&serde_json::to_value(&s)?);
            } else {
                print!("{}", crate::status::render(&s));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn activity(cli: &Cli, actor: &str, cmd: &ActivityCmd) -> Result<()> {
    let show = |a: &jilu_common::activity::Activity| -> Result<()> {
        if cli.json {
            print_json(&serde_json::to_value(a)?);
        } else {
            println!(
                "{}  matter {}  {}  {} .. {}  officers {}  items {}{}",
                a.id,
                a.matter,
                a.place,
                time::format(a.arrival),
                a.departure
                    .map(time::format)
                    .unwrap_or_else(|| "(on site)".into()),
                a.officers.join(","),
                a.items.len(),
                if a.notice.is_some() {
                    "  notice given"
                } else {
                    ""
                }
            );
        }
        Ok(())
    };
    match cmd {
        ActivityCmd::New {
            matter,
            place,
            officers,
            arrival,
            departure,
            remote,
            id,
        } => {
            let req = NewActivity {
                id: id.clone(),
                matter: matter.clone(),
                place: place.clone(),
                officers: officers.clone(),
                arrival: parse_time(arrival)?,
                departure: departure.as_deref().map(parse_time).transpose()?,
                remote: *remote,
            };
            let edge = open_rw(cli)?;
            show(&edge.new_activity(actor, req)?)?;
        }
        ActivityCmd::Set {
            id,
            place,
            arrival,
            departure,
            remote,
        } => {
            let change = ActivityChange {
                place: place.clone(),
                arrival: arrival.as_deref().map(parse_time).transpose()?,
                departure: departure.as_deref().map(parse_time).transpose()?,
                remote: *remote,
            };
            let edge = open_rw(cli)?;
            show(&edge.change_activity(actor, id, change)?)?;
        }
        ActivityCmd::Notice { id, at, by, words } => {
            let notice = Notice {
                at: parse_time(at)?,
                by: by.clone(),
                words: words.clone(),
            };
            let edge = open_rw(cli)?;
            edge.officer(by)?;
            show(&edge.give_notice(actor, id, notice)?)?;
        }
        ActivityCmd::Annotate {
            id,
            kind,
            text,
            item,
            at,
        } => {
            let at = at.as_deref().map(parse_time).transpose()?;
            let edge = open_rw(cli)?;
            let annotation = Annotation {
                kind: *kind,
                text: text.clone(),
                item: item.clone(),
                at,
                by: actor.to_string(),
            };
            show(&edge.annotate(actor, id, annotation)?)?;
        }
        ActivityCmd::Link { id, items } => {
            let edge = open_rw(cli)?;
            show(&edge.link_items(actor, id, items)?)?;
        }
        ActivityCmd::Interruption {
            id,
            reason,
            basis,
            from,
            to,
            by,
        } => {
            let req = NewInterruption {
                reason: *reason,
                basis: basis.clone(),
                from: parse_time(from)?,
                to: parse_time(to)?,
                by: by.clone(),
            };
            let edge = open_rw(cli)?;
            let rec = edge.file_interruption(actor, id, req)?;
            if cli.json {
                print_json(&serde_json::to_value(&rec)?);
            } else {
                println!(
                    "filed interruption {} on {id}: {:?}, approval pending at the center",
                    rec.id, rec.reason
                );
            }
        }
        ActivityCmd::List => {
            let edge = open_ro(cli)?;
            for a in edge.activities()? {
                show(&a)?;
            }
        }
        ActivityCmd::Show { id } => {
            let edge = open_ro(cli)?;
            let a = edge.activity(id)?;
            if cli.json {
                print_json(&serde_json::to_value(&a)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&a)?);
            }
        }
    }
    Ok(())
}

fn ingest(cli: &Cli, actor: &str, a: &IngestArgs) -> Result<ExitCode> {
    let files = crate::ingest::plan(&a.paths)?;
    let edge = open_rw(cli)?;
    let ctx = edge.resolve_source(&Source {
        device: a.device.clone(),
        officer: a.officer.clone(),
        activity: a.activity.clone(),
    })?;
    let show_bar = !cli.json && std::io::stderr().is_terminal();
    let mut failed = 0usize;
    for path in &files {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let bar = show_bar.then(|| {
            let b = indicatif::ProgressBar::new(size);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            b
        });
        let result = edge.ingest_file(actor, path, &ctx, &mut |done| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        });
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        match result {
            Ok(ack) => {
                if cli.json {
                    print_json(&serde_json::to_value(&ack)?);
                } else {
                    println!(
                        "stored {} ({} B, {}) as {}{}",
                        path.display(),
                        ack.size,
                        kind_name(ack.item.kind),
                        ack.hash,
                        if ack.duplicate {
                            " (already held: custody event added)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {}", one_line(&e));
                failed += 1;
                if matches!(
                    e.downcast_ref::<crate::store::StoreError>(),
                    Some(crate::store::StoreError::DiskFull(_))
                ) {
                    bail!(
                        "stopped: the store's disk is full ({} of {} files not stored)",
                        files.len() - (files.iter().position(|p| p == path).unwrap_or(0)),
                        files.len()
                    );
                }
            }
        }
    }
    if failed > 0 {
        if !cli.json && files.len() > 1 {
            eprintln!("{failed} of {} files were not stored; the others are stored and acknowledged above", files.len());
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an item out, verified chunk by chunk, to a new file (temp + fsync + rename).
fn export(
    edge: &Edge,
    actor: &str,
    rec: &crate::edge::ItemRecord,
    out: &std::path::Path,
) -> Result<()> {
    use std::io::Write;
    if out.exists() {
        bail!("{} already exists: choose a new file name", out.display());
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".{}.jilu-export", rec.item.hash));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?;
    let written = edge.for_each_chunk(rec, &mut |_, data| Ok(f.write_all(data)?));
    if let Err(e) = written.and_then(|_| Ok(f.sync_all()?)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    let key = parse_hash(&rec.item.hash)?;
    let mut tx = edge.begin();
    tx.audit(
        actor,
        Action::Export,
        &format!("item:{}", rec.item.hash),
        json!({"to": out.display().to_string()}),
        &[key],
    )?;
    tx.commit()
}
