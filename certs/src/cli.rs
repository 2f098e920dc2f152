//! The `certs` command line: the operator's front end to [`jilu_certs::Ca`]. Every
//! command prints one `error: ...` line on failure (exit status 1) and changes nothing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use jilu_certs::ca::{DEFAULT_CA_DAYS, DEFAULT_CA_NAME, DEFAULT_NODE_DAYS};
use jilu_certs::registry::format_time;
use jilu_certs::{Ca, CertRecord, IssueRequest, RevokeReason, Role};
use serde_json::json;
use time::OffsetDateTime;

#[derive(Parser, Debug)]
#[command(
    name = "certs",
    version,
    about = "Jilu's certificate authority: node certificates for edges, the center and the replica, and the revocation list.",
    long_about = "Jilu's certificate authority: node certificates for edges, the center and the replica, and the revocation list.\n\n\
Every Jilu node proves who it is with a certificate from this CA; the certificate names the node, its\n\
county and its role. Typical use:\n\n  \
certs init                                                  # once, creates the CA\n  \
certs issue --node edge-410422 --county 410422 --role edge  # one per node; copy the folder it prints\n  \
certs revoke edge-410422 --reason keyCompromise             # a lost or stolen machine\n  \
certs list                                                  # what was issued and revoked\n  \
certs crl                                                   # re-sign the revocation list before it expires\n\n\
After revoke and crl, copy crl.pem to the center and the replica: they refuse nodes on it, and they\n\
refuse every node once it has expired.\n\n\
Keep the CA folder (above all ca.key) on an offline, backed-up machine."
)]
struct Cli {
    /// The CA folder (ca.pem, ca.key, issued.json, crl.pem, nodes/).
    #[arg(long, global = true, env = "JILU_CA_DIR", default_value = "jilu-ca")]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the CA in --dir (refuses if one is already there).
    Init {
        /// The CA's name, shown in every certificate it issues.
        #[arg(long, default_value = DEFAULT_CA_NAME)]
        name: String,
        /// How many days the CA is valid; every node certificate ends by then.
        #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
        days: u32,
    },
    /// Issue a node its certificate and private key.
    ///
    /// Writes NODE.pem (certificate), NODE.key (private key, readable by you only),
    /// ca.pem and crl.pem into --out. Copy that folder to the node; move the key, do not
    /// leave copies of it around.
    Issue {
        /// The node's name: 1-64 of A-Z a-z 0-9 . _ - (peers also use it as the TLS server
        /// name). For --role web it defaults to the first --dns name.
        #[arg(long, required_unless_present = "dns")]
        node: Option<String>,
        /// The county code the node belongs to (same characters as --node). For --role
        /// web it defaults to "city".
        #[arg(long, required_unless_present = "dns")]
        county: Option<String>,
        /// edge: a county office (connects to the center); center: the city center
        /// (accepts connections); replica: the DR site (both); web: the center's HTTPS
        /// API (server only, with the --dns names and --ip addresses browsers check).
        #[arg(long, value_parser = ["edge", "center", "replica", "web"])]
        role: String,
        /// A DNS name the web server answers to (repeatable; --role web).
        #[arg(long)]
        dns: Vec<String>,
        /// An IP address the web server answers on (repeatable; --role web).
        #[arg(long)]
        ip: Vec<std::net::IpAddr>,
        /// How many days the certificate is valid (never beyond the CA's own expiry).
        #[arg(long, default_value_t = DEFAULT_NODE_DAYS)]
        days: u32,
        /// Where to write the files [default: DIR/nodes/NODE].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Revoke (as superseded) whatever certificate the node still holds, then issue the new one.
        #[arg(long)]
        replace: bool,
    },
    /// Revoke a node's certificate and write a new crl.pem (copy it to the center and replica).
    Revoke {
        /// The node whose certificate to revoke.
        node: String,
        /// keyCompromise: lost, stolen or copied machine; superseded: replaced by a new
        /// certificate; cessationOfOperation: the node is retired.
        #[arg(
            long,
            default_value = "unspecified",
            value_parser = ["keyCompromise", "superseded", "cessationOfOperation", "unspecified"]
        )]
        reason: String,
    },
    /// Show every certificate issued, whether it is valid, expired or revoked, and the CRL.
    List {
        /// Print one JSON value instead of a table, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Re-sign the revocation list with a fresh expiry, changing nothing else.
    ///
    /// The center refuses every node once its crl.pem has expired: run this (and copy
    /// crl.pem to the center and replica) well before the date `certs list` shows.
    Crl {
        /// How many days the new CRL is valid; later revocations use it too [default: as before, 30 at first].
        #[arg(long)]
        days: Option<u32>,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // Help is not a failure; let clap print it the usual way.
                let _ = err.print();
                return if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                };
            }
            let text = err.to_string();
            let text = text.trim_start_matches("error: ");
            eprintln!("error: {}", squash(text));
            return ExitCode::FAILURE;
        }
    };
    match run(&cli) {
        Ok(out) => {
            // A closed pipe (`certs list | head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// Runs a command and returns what it prints.
fn run(cli: &Cli) -> Result<String> {
    let mut out = String::new();
    match &cli.command {
        Command::Init { name, days } => {
            let ca = Ca::init(&cli.dir, name, *days)?;
            let dir = ca.dir().display();
            writeln!(
                out,
                "created CA {:?} in {dir}, valid until {}",
                ca.name(),
                format_time(ca.not_after())
            )?;
            writeln!(
                out,
                "  ca.pem       the CA certificate: every node gets a copy"
            )?;
            writeln!(
                out,
                "  ca.key       the CA's private key: keep it offline and backed up"
            )?;
            writeln!(
                out,
                "  crl.pem      the revocation list: copy it to the center and the replica"
            )?;
            writeln!(out, "  issued.json  what this CA has issued and revoked")?;
            writeln!(
                out,
                "next: certs --dir {dir} issue --node NAME --county CODE --role edge|center|replica"
            )?;
        }
        Command::Issue {
            node,
            county,
            role,
            days,
            out: out_dir,
            replace,
            dns,
            ip,
        } => {
            let role: Role = role.parse()?;
            if role != Role::Web && !(dns.is_empty() && ip.is_empty()) {
                return Err(anyhow::anyhow!("--dns and --ip are for --role web only"));
            }
            if role == Role::Web && dns.is_empty() && ip.is_empty() {
                return Err(anyhow::anyhow!(
                    "--role web needs the names browsers check: --dns NAME and/or --ip ADDR"
                ));
            }
            let node = match (node, dns.first()) {
                (Some(n), _) => n,
                (None, Some(d)) if role == Role::Web => d,
                _ => return Err(anyhow::anyhow!("--node is required")),
            };
            let county = match county {
                Some(c) => c.as_str(),
                None if role == Role::Web => "city",
                None => return Err(anyhow::anyhow!("--county is required")),
            };
            // Names are checked before the CA is opened, so a typo gets the clearest error.
            jilu_certs::Identity::new(node, county, role)?;
            let mut ca = Ca::open(&cli.dir)?;
            let out_dir = out_dir.clone().unwrap_or_else(|| ca.node_dir(node));
            let report = ca.issue_with(&IssueRequest {
                node: node.clone(),
                county: county.to_owned(),
                role,
                days: *days,
                replace: *replace,
                out: Some(out_dir.clone()),
                dns: dns.clone(),
                ips: ip.clone(),
            })?;
            let r = &report.record;
            writeln!(
                out,
                "issued {} ({}, county {}), serial {}, valid until {}",
                r.node,
                r.role,
                r.county,
                r.serial,
                format_time(r.not_after)
            )?;
            for file in &report.files {
                writeln!(out, "  wrote {}", file.display())?;
            }
            writeln!(
                out,
                "copy {} to the node; {}.key is its secret key",
                out_dir.display(),
                r.node
            )?;
            for old in &report.replaced {
                writeln!(out, "revoked old serial {} (superseded)", old.serial)?;
            }
            if !report.replaced.is_empty() {
                crl_written(&mut out, &ca)?;
            }
        }
        Command::Revoke { node, reason } => {
            let reason: RevokeReason = reason.parse()?;
            jilu_certs::identity::check_name("node name", node)?;
            let mut ca = Ca::open(&cli.dir)?;
            for r in ca.revoke(node, reason)? {
                writeln!(out, "revoked {} serial {} ({reason})", r.node, r.serial)?;
            }
            crl_written(&mut out, &ca)?;
        }
        Command::List { json } => {
            let ca = Ca::open(&cli.dir)?;
            if *json {
                writeln!(out, "{}", list_json(&ca))?;
            } else {
                list_text(&mut out, &ca)?;
            }
        }
        Command::Crl { days } => {
            let mut ca = Ca::open(&cli.dir)?;
            ca.refresh_crl(*days)?;
            crl_written(&mut out, &ca)?;
        }
    }
    Ok(out)
}

fn crl_written(out: &mut String, ca: &Ca) -> Result<()> {
    writeln!(
        out,
        "CRL number {} written to {}, valid until {}",
        ca.crl_number(),
        ca.crl_path().display(),
        ca.crl_next_update().map(format_time).unwrap_or_default()
    )?;
    writeln!(
        out,
        "copy it to the center and the replica now: until then they still accept revoked nodes"
    )?;
    Ok(())
}

fn list_text(out: &mut String, ca: &Ca) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    writeln!(
        out,
        "CA {:?} in {}, valid until {}",
        ca.name(),
        ca.dir().display(),
        format_time(ca.not_after())
    )?;
    writeln!(
        out,
        "CRL number {}, valid until {} ({})",
        ca.crl_number(),
        ca.crl_next_update().map(format_time).unwrap_or_default(),
        ca.crl_path().display()
    )?;
    if ca.list().is_empty() {
        writeln!(out, "no certificates issued yet")?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = ca
        .list()
        .iter()
        .map(|r| {
            let status = match (r.revoked_at, r.reason) {
                (Some(at), Some(reason)) => format!("revoked {} ({reason})", format_time(at)),
                _ => status_name(r, now).to_owned(),
            };
            [
                r.node.clone(),
                r.county.clone(),
                r.role.to_string(),
                r.serial.clone(),
                format_time(r.not_after),
                status,
            ]
        })
        .collect();
    let header = ["NODE", "COUNTY", "ROLE", "SERIAL", "NOT AFTER", "STATUS"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut line = |cells: [&str; 6]| -> Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                write!(text, "{cell:<w$}  ")?;
            }
        }
        writeln!(out, "{text}")?;
        Ok(())
    };
    line(header)?;
    for row in &rows {
        line(row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn status_name(r: &CertRecord, now: OffsetDateTime) -> &'static str {
    match r.status(now) {
        jilu_certs::Status::Valid => "valid",
        jilu_certs::Status::Expired => "expired",
        jilu_certs::Status::Revoked => "revoked",
    }
}

fn list_json(ca: &Ca) -> serde_json::Value {
    let now = OffsetDateTime::now_utc();
    let certificates: Vec<_> = ca
        .list()
        .iter()
        .map(|r| {
            json!({
                "node": r.node,
                "county": r.county,
                "role": r.role,
                "serial": r.serial,
                "not_before": format_time(r.not_before),
                "not_after": format_time(r.not_after),
                "revoked_at": r.revoked_at.map(format_time),
                "reason": r.reason,
                "status": r.status(now),
            })
        })
        .collect();
    json!({
        "ca": {
            "name": ca.name(),
            "dir": ca.dir(),
            "not_after": format_time(ca.not_after()),
        },
        "crl": {
            "number": ca.crl_number(),
            "path": ca.crl_path(),
            "next_update": ca.crl_next_update().map(format_time),
            "days": ca.crl_days(),
        },
        "certificates": certificates,
    })
}

/// The error and its causes on one line, without repeating a cause the message
/// already contains.
fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    squash(&out)
}

/// Folds a multi-line message (clap's usage errors) into one line.
fn squash(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
