//! Shared fixtures for the integration tests: a fresh CA in a temp folder, node files
//! on disk, and the real `openssl` binary to judge them.

#![allow(dead_code)]
// each test file uses a different part
// Test fixtures: a failed unwrap is a failed test (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jilu_certs::{Ca, Role};
use tempfile::TempDir;

pub const OPENSSL: &str = "/usr/bin/openssl";

/// A CA in a temporary folder.
pub struct Fixture {
    pub tmp: TempDir,
    pub ca: Ca,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ca = Ca::init(tmp.path().join("ca"), "Test City CA", 3650).unwrap();
        Fixture { tmp, ca }
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.tmp.path().join("ca")
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.ca_dir().join("ca.pem")
    }

    pub fn crl_pem(&self) -> PathBuf {
        self.ca_dir().join("crl.pem")
    }

    /// Issues `node` and writes its certificate to `<tmp>/<node>.pem`.
    pub fn issue(&mut self, node: &str, role: Role) -> PathBuf {
        let issued = self.ca.issue(node, "410422", role, 30).unwrap();
        let path = self.tmp.path().join(format!("{node}.pem"));
        fs::write(&path, issued.cert_pem).unwrap();
        path
    }
}

/// Runs openssl with `args`.
pub fn openssl(args: &[&str]) -> Output {
    Command::new(OPENSSL)
        .args(args)
        .output()
        .expect("run /usr/bin/openssl")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file under `dir` with its bytes, sorted by path.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The DER of the first certificate in a PEM file.
pub fn der(path: &Path) -> Vec<u8> {
    jilu_certs::pem::load_certs(path).unwrap()[0].to_vec()
}

/// The CRL number of a CRL PEM file, as openssl reads it.
pub fn openssl_crl_number(crl: &Path) -> u64 {
    let out = openssl(&["crl", "-in", p(crl), "-noout", "-crlnumber"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let hex = line.trim().strip_prefix("crlNumber=0x").unwrap();
    u64::from_str_radix(hex, 16).unwrap()
}
