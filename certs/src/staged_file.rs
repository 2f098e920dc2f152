//! Crash-safe file writes: a file is written beside its destination, flushed, and
//! only then renamed over it, so a reader (or a crash) sees the old file or the new
//! one, never half of either. Staging several files before committing any lets a
//! command check that every write will succeed before it changes anything.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::CertError;

/// Permissions of private keys: readable by their owner only.
pub const SECRET_MODE: u32 = 0o600;
/// Permissions of certificates, revocation lists and the registry.
pub const PUBLIC_MODE: u32 = 0o644;

/// A file written to a temporary name beside its destination, not yet in place.
/// Dropping it without [`StagedFile::commit`] removes the temporary file.
#[derive(Debug)]
pub struct StagedFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Writes `bytes` to a temporary file beside `dest` with permissions `mode`, and
    /// flushes it to disk.
    pub fn write(dest: &Path, bytes: &[u8], mode: u32) -> Result<Self, CertError> {
        let file_name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = dest.with_file_name(format!(
            ".{}.tmp-{}",
            file_name.unwrap_or_default(),
            std::process::id()
        ));
        // From here on, Drop cleans the temporary file up whatever fails.
        let staged = StagedFile {
            tmp,
            dest: dest.to_owned(),
            committed: false,
        };
        let io = |source| CertError::io("writing", &staged.tmp, source);
        // Created with the final mode so a key is never readable by others, even briefly.
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&staged.tmp)
            .map_err(io)?;
        // The umask may have removed bits; set exactly what was asked.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(staged)
    }

    /// The path this file will have once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Moves the file into place and makes the rename durable.
    pub fn commit(mut self) -> Result<(), CertError> {
        fs::rename(&self.tmp, &self.dest)
            .map_err(|source| CertError::io("replacing", &self.dest, source))?;
        self.committed = true;
        sync_parent(&self.dest)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the temporary file is harmless if it stays.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Flushes a folder's entries, so a rename inside it survives a power cut.
fn sync_parent(path: &Path) -> Result<(), CertError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| CertError::io("syncing", parent, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_stage_leaves_nothing_and_commit_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        fs::write(&dest, b"old").unwrap();
        drop(StagedFile::write(&dest, b"new", SECRET_MODE).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        StagedFile::write(&dest, b"new", SECRET_MODE)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
