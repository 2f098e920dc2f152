//! The digests a bag's manifests carry. SHA-256 is what every BagIt tool checks;
//! BLAKE3 is the hash Jilu took at ingest (the item's name); SM3 (GB/T 32905) is
//! the digest China's commercial-cryptography assessment expects. All three are
//! computed in one read of each file.

use std::io::{self, Read};
use std::path::Path;

use sha2::Digest as _;

/// A digest algorithm of a bag's manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Blake3,
    Sm3,
}

impl Algorithm {
    /// Every algorithm a Jilu bag carries, in the order the manifests are written.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Blake3, Algorithm::Sm3];

    /// The name in `manifest-<name>.txt` (RFC 8493 §2.1.3: lowercase, no dashes).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Blake3 => "blake3",
            Algorithm::Sm3 => "sm3",
        }
    }
}

/// The three digests of one file, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: String,
    pub blake3: String,
    pub sm3: String,
    pub len: u64,
}

impl Digests {
    pub fn get(&self, a: Algorithm) -> &str {
        match a {
            Algorithm::Sha256 => &self.sha256,
            Algorithm::Blake3 => &self.blake3,
            Algorithm::Sm3 => &self.sm3,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The three digests being taken over one stream of bytes.
#[derive(Default)]
pub struct Digester {
    sha: sha2::Sha256,
    b3: blake3::Hasher,
    sm: sm3::Sm3,
    len: u64,
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester").field("len", &self.len).finish()
    }
}

impl Digester {
    pub fn new() -> Digester {
        Digester::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.b3.update(bytes);
        self.sm.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: hex(&self.sha.finalize()),
            blake3: self.b3.finalize().to_hex().to_string(),
            sm3: hex(&self.sm.finalize()),
            len: self.len,
        }
    }
}

/// Feeds `r` to `each` 1 MiB at a time (a recording is never held whole).
pub fn for_each_block(
    mut r: impl Read,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => each(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Digests everything `r` yields.
pub fn of_reader(r: impl Read) -> io::Result<Digests> {
    let mut d = Digester::new();
    for_each_block(r, |b| {
        d.update(b);
        Ok(())
    })?;
    Ok(d.finish())
}

pub fn of_file(path: &Path) -> io::Result<Digests> {
    of_reader(std::fs::File::open(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // GB/T 32905-2016 appendix A, example 1; FIPS 180-2 "abc"; BLAKE3's own
        let d = of_reader(&b"abc"[..]).unwrap();
        assert_eq!(
            d.sm3,
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.blake3, blake3::hash(b"abc").to_hex().as_str());
        assert_eq!(d.len, 3);
    }

    #[test]
    fn long_input_crosses_buffers() {
        let data: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i * 7) as u8).collect();
        let d = of_reader(&data[..]).unwrap();
        assert_eq!(d.blake3, blake3::hash(&data).to_hex().as_str());
        assert_eq!(d.sha256, hex(&sha2::Sha256::digest(&data)));
        assert_eq!(d.len, data.len() as u64);
    }
}
