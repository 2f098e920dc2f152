//! Items are split into 1 MiB chunks whose BLAKE3 chaining values combine into the
//! item's BLAKE3 root hash: the same hash `b3sum` prints for the whole file.
//!
//! Keeping every chunk's chaining value (32 bytes per MiB) is what lets any copy be
//! checked one chunk at a time: a corrupt chunk is caught on its own, without
//! reading the rest of the item, and a transfer can resume at the first chunk the
//! receiver does not hold. Because `CHUNK_SIZE` is a power-of-two multiple of
//! BLAKE3's 1 KiB chunk, each of our chunks is a complete BLAKE3 subtree and the
//! root is rebuilt from the chaining values alone (BLAKE3 paper, section 2.1).

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};

/// Bytes per chunk: the unit of storage, verification and transfer.
pub const CHUNK_SIZE: usize = 1 << 20;

/// Number of chunks of an item of `len` bytes; an empty item has one empty chunk.
pub fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK_SIZE as u64).max(1)
}

/// Length of chunk `index` of an item of `len` bytes.
pub fn chunk_len(index: u64, len: u64) -> usize {
    let start = index.saturating_mul(CHUNK_SIZE as u64);
    len.saturating_sub(start).min(CHUNK_SIZE as u64) as usize
}

/// The value stored for chunk `index` of an item of `total_len` bytes. For an item
/// of a single chunk this is the root hash itself (BLAKE3 has no parent node there).
pub fn chunk_cv(index: u64, data: &[u8], total_len: u64) -> ChainingValue {
    if chunk_count(total_len) == 1 {
        return *blake3::hash(data).as_bytes();
    }
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index * CHUNK_SIZE as u64);
    h.update(data);
    h.finalize_non_root()
}

/// The root hash from the chunk values, in order. `cvs` must come from [`chunk_cv`]
/// for an item of `chunk_count(total_len)` chunks.
pub fn root_from_cvs(cvs: &[ChainingValue]) -> blake3::Hash {
    match cvs {
        [] => blake3::hash(b""),
        [only] => blake3::Hash::from_bytes(*only),
        _ => {
            let split = left_len(cvs.len());
            merge_subtrees_root(&subtree(&cvs[..split]), &subtree(&cvs[split..]), Mode::Hash)
        }
    }
}

/// True when `data` is chunk `index` of the item whose stored values are `cvs`.
pub fn verify_chunk(index: u64, data: &[u8], total_len: u64, cvs: &[ChainingValue]) -> bool {
    let expected_len = chunk_len(index, total_len);
    match cvs.get(index as usize) {
        Some(cv) => data.len() == expected_len && chunk_cv(index, data, total_len) == *cv,
        None => false,
    }
}

fn subtree(cvs: &[ChainingValue]) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let split = left_len(cvs.len());
    merge_subtrees_non_root(&subtree(&cvs[..split]), &subtree(&cvs[split..]), Mode::Hash)
}

/// BLAKE3's left subtree holds the largest power of two of chunks that leaves at
/// least one on the right; our chunks are full except the last, so in chunk units
/// that is the largest power of two strictly below `n`.
fn left_len(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Hashes an item chunk by chunk as it streams past, collecting the chunk values.
#[derive(Debug, Default)]
pub struct TreeHasher {
    cvs: Vec<ChainingValue>,
}

impl TreeHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk (all chunks but the last must be exactly `CHUNK_SIZE`).
    pub fn push(&mut self, data: &[u8], total_len: u64) -> ChainingValue {
        let cv = chunk_cv(self.cvs.len() as u64, data, total_len);
        self.cvs.push(cv);
        cv
    }

    pub fn finish(self) -> (blake3::Hash, Vec<ChainingValue>) {
        (root_from_cvs(&self.cvs), self.cvs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn tree_root(data: &[u8]) -> (blake3::Hash, Vec<ChainingValue>) {
        let total = data.len() as u64;
        let mut h = TreeHasher::new();
        if data.is_empty() {
            h.push(data, 0);
        }
        for c in data.chunks(CHUNK_SIZE) {
            h.push(c, total);
        }
        h.finish()
    }

    #[test]
    fn root_matches_plain_blake3_for_every_shape() {
        let c = CHUNK_SIZE;
        for len in [
            0,
            1,
            1024,
            c - 1,
            c,
            c + 1,
            2 * c,
            2 * c + 7,
            3 * c,
            4 * c,
            5 * c - 3,
            7 * c + 1,
            8 * c,
            9 * c + 2,
        ] {
            let data = bytes(len);
            let (root, cvs) = tree_root(&data);
            assert_eq!(root, blake3::hash(&data), "len {len}");
            assert_eq!(cvs.len() as u64, chunk_count(len as u64));
        }
    }

    #[test]
    fn a_flipped_byte_fails_only_its_chunk() {
        let data = bytes(3 * CHUNK_SIZE + 100);
        let total = data.len() as u64;
        let (_, cvs) = tree_root(&data);
        for (i, chunk) in data.chunks(CHUNK_SIZE).enumerate() {
            assert!(verify_chunk(i as u64, chunk, total, &cvs));
            let mut bad = chunk.to_vec();
            let mid = bad.len() / 2;
            bad[mid] ^= 1;
            assert!(!verify_chunk(i as u64, &bad, total, &cvs));
            // the right bytes presented as another chunk do not verify either
            assert!(!verify_chunk((i as u64 + 1) % 4, chunk, total, &cvs));
        }
        assert!(!verify_chunk(9, &data[..10], total, &cvs));
    }
}
