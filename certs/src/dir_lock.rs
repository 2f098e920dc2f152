//! One writer at a time per CA folder. Two operators issuing at once would otherwise
//! each rewrite `issued.json` from their own copy, and a certificate dropped from the
//! registry is one nobody can revoke by name.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::CertError;

/// The lock file's name inside the CA folder.
pub const LOCK_FILE: &str = ".certs.lock";

/// Holds the CA folder's lock file; removes it when dropped.
///
/// A lock file rather than `flock`: the workspace's minimum Rust (1.85) predates
/// `File::lock`, and `unsafe` (for libc) is denied. A killed command leaves the file
/// behind; the error says to delete it.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir`, or fails at once if another command holds it.
    pub fn acquire(dir: &Path) -> Result<Self, CertError> {
        let path = dir.join(LOCK_FILE);
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                return Err(CertError::Locked { path });
            }
            Err(source) => return Err(CertError::io("creating", path, source)),
        };
        // The pid helps an operator decide whether the lock is stale.
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DirLock { path })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, CertError::Locked { .. }), "{err}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
