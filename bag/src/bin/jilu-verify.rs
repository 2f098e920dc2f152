//! `jilu-verify PATH`: checks a Jilu preservation copy offline (a bag folder, a
//! mounted disc, or the ISO image), with no database and no network.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "jilu-verify",
    version,
    about = "Checks a Jilu preservation copy (art. 16) offline: every footage file against its SHA-256, BLAKE3 and SM3 manifests, the tag manifests, the label, and the custody chain's hash links. Exits 0 if all of it holds, 1 naming each mismatch, 2 if PATH cannot be read."
)]
struct Cli {
    /// The copy: a bag folder (or a mounted disc), or its ISO image file (read with xorriso).
    path: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match jilu_bag::verify(&cli.path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if cli.json {
        let v = serde_json::json!({
            "path": cli.path,
            "ok": report.ok(),
            "files": report.files,
            "bytes": report.bytes,
            "items": report.items,
            "custody_lines": report.custody_lines,
            "label": report.label,
            "problems": report.problems,
        });
        println!("{v}");
    } else {
        if let Some(l) = &report.label {
            println!(
                "copy {}/{} of {} {} (made by {}, {}, {})",
                l.copy, l.copies, l.number, l.name, l.producer, l.unit, l.produced_at
            );
        }
        println!(
            "{} payload files, {} bytes; {} items; custody chain of {} lines",
            report.files, report.bytes, report.items, report.custody_lines
        );
        for p in &report.problems {
            println!("MISMATCH {p}");
        }
        if report.ok() {
            println!("OK: {} verifies", cli.path.display());
        } else {
            println!(
                "FAILED: {} problems in {}",
                report.problems.len(),
                cli.path.display()
            );
        }
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
