//! What it takes to be a *holder* of an item at the center.
//!
//! A holder is a node the center records, in the item's custody, as having had
//! the item's exact bytes. There are two ways to become one:
//! - **upload**: the node sent every chunk, each verified against its chaining
//!   value and the whole blob re-hashed ([`crate::transfer`]);
//! - **proof of possession**: for an item the center already holds verified, a node
//!   that offers it (with the same size) gets a challenge: a fresh 32-byte nonce
//!   from the center and a few chunk indices the center picks from it. The node
//!   answers with a BLAKE3 MAC keyed with the nonce over those chunks' bytes
//!   ([`proof`]). The center computes the same from its verified blob; only a match
//!   records the node as a holder. Knowing the hash (or every chaining value) is
//!   not enough: the MAC needs the bytes, and the nonce is new every time, so an
//!   earlier answer cannot be replayed.
//!
//! A node that fails is not a holder and is told `Refused`; nothing is recorded
//! but the refusal.

/// Chunks a proof covers (all of them for items of fewer chunks).
pub const PROOF_CHUNKS: u64 = 4;

/// The chunk indices a challenge with `nonce` covers, for an item of `chunks`
/// chunks: distinct, sorted, derived from the nonce (so the center need not
/// remember them, and the node cannot pick them).
pub fn challenge_chunks(nonce: &[u8; 32], chunks: u64) -> Vec<u64> {
    if chunks <= PROOF_CHUNKS {
        return (0..chunks).collect();
    }
    let mut out = std::collections::BTreeSet::new();
    let mut x = *blake3::hash(nonce).as_bytes();
    // always the last chunk (its length depends on the item's size), then pseudo-random ones
    out.insert(chunks - 1);
    while (out.len() as u64) < PROOF_CHUNKS {
        let n = u64::from_be_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        out.insert(n % chunks);
        x = *blake3::hash(&x).as_bytes();
    }
    out.into_iter().collect()
}

/// The MAC over `chunks` (index, length and bytes of each, in order) keyed with
/// `nonce`; `read` gives a chunk's bytes (`None`: not held, no proof).
pub fn proof(
    nonce: &[u8; 32],
    chunks: &[u64],
    mut read: impl FnMut(u64) -> Option<Vec<u8>>,
) -> Option<[u8; 32]> {
    let mut h = blake3::Hasher::new_keyed(nonce);
    for &i in chunks {
        let data = read(i)?;
        h.update(&i.to_be_bytes());
        h.update(&(data.len() as u64).to_be_bytes());
        h.update(&data);
    }
    Some(*h.finalize().as_bytes())
}

/// Whether `mac` proves the bytes `read` gives (a constant-time comparison).
pub fn check(
    nonce: &[u8; 32],
    chunks: &[u64],
    mac: &[u8; 32],
    read: impl FnMut(u64) -> Option<Vec<u8>>,
) -> bool {
    proof(nonce, chunks, read)
        .is_some_and(|m| blake3::Hash::from_bytes(m) == blake3::Hash::from_bytes(*mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_needs_the_bytes_and_the_nonce() {
        let data: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 100]).collect();
        let nonce = [3u8; 32];
        let picked = challenge_chunks(&nonce, 10);
        assert_eq!(picked.len(), 4);
        assert!(picked.contains(&9));
        assert_eq!(picked, challenge_chunks(&nonce, 10));
        assert_ne!(picked, challenge_chunks(&[4u8; 32], 10));
        let read = |i: u64| data.get(i as usize).cloned();
        let mac = proof(&nonce, &picked, read).unwrap();
        assert!(check(&nonce, &picked, &mac, read));
        // another nonce: the old answer does not replay
        let other = [5u8; 32];
        assert!(!check(&other, &challenge_chunks(&other, 10), &mac, read));
        // one byte off in a picked chunk
        let mut bad = data.clone();
        bad[picked[0] as usize][7] ^= 1;
        assert!(!check(&nonce, &picked, &mac, |i| bad
            .get(i as usize)
            .cloned()));
        assert_eq!(challenge_chunks(&nonce, 2), vec![0, 1]);
    }
}
