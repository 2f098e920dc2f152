//! A bag's ISO 9660 image, ready to burn (art. 16: "刻录光盘"). Written by Debian's
//! `xorriso` with Rock Ridge and Joliet (long names, so Chinese file names survive
//! on any reader), ISO level 3 (files over 4 GiB), MD5s recorded for every file, and
//! every timestamp set to one given time, so the same bag gives the same image byte
//! for byte.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

fn xorriso() -> Command {
    let mut c = Command::new("xorriso");
    // no startup files: the image must not depend on the operator's ~/.xorrisorc
    c.env_remove("HOME");
    c
}

fn run(mut c: Command, what: &str) -> Result<()> {
    let out = c.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("{what}: xorriso is not installed (Debian: apt-get install xorriso)")
        } else {
            anyhow::anyhow!("{what}: cannot run xorriso: {e}")
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rfind(|l| l.contains("FAILURE") || l.contains("SORRY") || l.contains("FATAL"))
            .unwrap_or_else(|| err.lines().next_back().unwrap_or("no output"));
        bail!("{what}: xorriso failed: {last}");
    }
    Ok(())
}

/// The image's volume id: ISO 9660 allows 32 characters of A-Z, 0-9 and `_`.
pub fn volume_id(number: &str, copy: u8) -> String {
    let mut v: String = number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    v.truncate(27);
    format!("{v}_C{copy}")
}

/// Writes `bag` as the image `out`, with every timestamp at `epoch_secs`.
pub fn write(bag: &Path, out: &Path, volid: &str, epoch_secs: i64) -> Result<()> {
    if out.exists() {
        bail!(
            "{} already exists: choose a new file for the image",
            out.display()
        );
    }
    let secs = epoch_secs.max(0);
    // YYYYMMDDhhmmsscc, UTC, as both options take it
    let t = format!("{}00", time_string(secs));
    let mut c = xorriso();
    c.env("SOURCE_DATE_EPOCH", secs.to_string())
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-iso-level",
            "3",
            "-R",
            "-J",
            "-joliet-long",
        ])
        .args(["-V", volid, "--md5"])
        .args(["--set_all_file_dates", &t])
        .arg(format!("--modification-date={t}"))
        .arg("-o")
        .arg(out)
        .arg(bag);
    run(c, &format!("writing the image {}", out.display()))
}

/// Checks every file of the image against the MD5 recorded when it was written.
pub fn check_md5(image: &Path) -> Result<()> {
    let mut c = xorriso();
    c.args([
        "-abort_on",
        "NEVER",
        "-return_with",
        "FAILURE",
        "32",
        "-md5",
        "on",
        "-indev",
    ])
    .arg(image)
    .args(["-check_md5_r", "FAILURE", "/", "--"]);
    run(c, &format!("checking {}", image.display()))
}

/// Extracts the image into `dir` (which must not exist), to check the bag inside.
pub fn extract(image: &Path, dir: &Path) -> Result<()> {
    let mut c = xorriso();
    c.args(["-osirrox", "on", "-indev"])
        .arg(image)
        .args(["-extract", "/"])
        .arg(dir);
    run(c, &format!("reading the image {}", image.display()))
}

/// `YYYYMMDDhhmmss` in UTC, as xorriso takes it.
fn time_string(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) of the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_strings() {
        assert_eq!(time_string(0), "19700101000000");
        assert_eq!(time_string(1_796_168_416), "20261201234016");
    }

    #[test]
    fn volume_ids_are_iso_names() {
        assert_eq!(volume_id("A-410422-001", 2), "A_410422_001_C2");
        assert!(volume_id(&"x".repeat(60), 1).len() <= 32);
    }
}
