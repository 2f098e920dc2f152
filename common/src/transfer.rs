//! The center's receive state for one item: which chunks it holds verified and
//! durable, which it still needs, and whether the item is complete.
//!
//! An offer is accepted only if its chunk values rebuild the offered root hash, so
//! the values can be trusted to check each chunk as it arrives. A chunk is written
//! only after it verifies; it counts as held only after the center has made it
//! durable (`mark_durable`), so a crash can lose received chunks but never make a
//! missing chunk look present.

use crate::chunk_tree::{chunk_count, chunk_len, root_from_cvs, verify_chunk};
use crate::wire::{to_ranges, Offer};

/// Why an offer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the offer's chunk values do not rebuild its hash")]
    BadTree,
    #[error("the offer's size, chunk count or record disagree")]
    Inconsistent,
}

/// What to do with a received chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// verified: write it, then `mark_durable`
    Accept,
    /// already held: ignore (a duplicate or replay)
    Duplicate,
    /// does not match its chaining value: ask again
    Reject,
    /// no such chunk in this item
    OutOfRange,
}

#[derive(Debug, Clone)]
pub struct Receiver {
    pub hash: [u8; 32],
    pub size: u64,
    cvs: Vec<[u8; 32]>,
    held: Vec<bool>,
    /// accepted on this stream but not yet durable: a second copy is a duplicate
    /// (not written or counted twice)
    taken: Vec<bool>,
}

impl Receiver {
    /// Checks an offer; `held` is the durable bitmap from an earlier session, if any.
    pub fn new(offer: &Offer, held: Option<Vec<bool>>) -> Result<Receiver, OfferError> {
        let n = chunk_count(offer.size);
        if offer.cvs.len() as u64 != n
            || offer.item.size != offer.size
            || *offer.item.hash.as_bytes() != offer.hash
        {
            return Err(OfferError::Inconsistent);
        }
        if root_from_cvs(&offer.cvs).as_bytes() != &offer.hash {
            return Err(OfferError::BadTree);
        }
        let held = held
            .filter(|h| h.len() as u64 == n)
            .unwrap_or_else(|| vec![false; n as usize]);
        Ok(Receiver {
            hash: offer.hash,
            size: offer.size,
            cvs: offer.cvs.clone(),
            taken: vec![false; held.len()],
            held,
        })
    }

    pub fn chunks(&self) -> u64 {
        self.cvs.len() as u64
    }

    pub fn chunk_len(&self, index: u64) -> usize {
        chunk_len(index, self.size)
    }

    pub fn check(&self, index: u64, data: &[u8]) -> Verdict {
        match self.held.get(index as usize) {
            None => Verdict::OutOfRange,
            Some(true) => Verdict::Duplicate,
            Some(false) if self.taken.get(index as usize) == Some(&true) => Verdict::Duplicate,
            Some(false) if verify_chunk(index, data, self.size, &self.cvs) => Verdict::Accept,
            Some(false) => Verdict::Reject,
        }
    }

    /// Marks an accepted chunk as taken (on its way to the disk): the same chunk
    /// again is a [`Verdict::Duplicate`].
    pub fn take(&mut self, index: u64) {
        if let Some(t) = self.taken.get_mut(index as usize) {
            *t = true;
        }
    }

    pub fn mark_durable(&mut self, index: u64) {
        if let Some(h) = self.held.get_mut(index as usize) {
            *h = true;
        }
    }

    pub fn missing(&self) -> Vec<(u64, u64)> {
        to_ranges(
            self.held
                .iter()
                .enumerate()
                .filter(|(_, h)| !**h)
                .map(|(i, _)| i as u64),
        )
    }

    pub fn is_complete(&self) -> bool {
        self.held.iter().all(|h| *h)
    }

    pub fn held(&self) -> &[bool] {
        &self.held
    }

    pub fn cvs(&self) -> &[[u8; 32]] {
        &self.cvs
    }
}

/// Bitmap persistence: one bit per chunk.
pub fn encode_bits(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        if *b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

pub fn decode_bits(bytes: &[u8], n: usize) -> Vec<bool> {
    (0..n)
        .map(|i| bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk_tree::{TreeHasher, CHUNK_SIZE};
    use crate::hash::Hash;
    use crate::item::Item;
    use crate::media::{MediaKind, TimeSource};

    fn offer(data: &[u8]) -> Offer {
        let mut h = TreeHasher::new();
        if data.is_empty() {
            h.push(data, 0);
        }
        for c in data.chunks(CHUNK_SIZE) {
            h.push(c, data.len() as u64);
        }
        let (root, cvs) = h.finish();
        Offer {
            hash: *root.as_bytes(),
            size: data.len() as u64,
            cvs,
            item: Item {
                hash: root.into(),
                size: data.len() as u64,
                chunks: chunk_count(data.len() as u64),
                kind: MediaKind::Video,
                container: "mp4".into(),
                original_name: "x".into(),
                capture_start: 0,
                duration_ms: None,
                time_source: TimeSource::FileTime,
                clock_offset_ms: 0,
                device: "d".into(),
                officer: "o".into(),
                activity: None,
                ingested_at: 0,
                period: "2026-11".into(),
                county: "1".into(),
                node: "edge-1".into(),
            },
        }
    }

    #[test]
    fn verifies_resumes_and_completes() {
        let data: Vec<u8> = (0..3 * CHUNK_SIZE + 10)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let o = offer(&data);
        let mut r = Receiver::new(&o, None).unwrap();
        assert_eq!(r.missing(), vec![(0, 4)]);
        let chunk = |i: usize| &data[i * CHUNK_SIZE..((i + 1) * CHUNK_SIZE).min(data.len())];
        assert_eq!(r.check(1, chunk(1)), Verdict::Accept);
        r.mark_durable(1);
        assert_eq!(r.check(1, chunk(1)), Verdict::Duplicate);
        let mut bad = chunk(2).to_vec();
        bad[0] ^= 1;
        assert_eq!(r.check(2, &bad), Verdict::Reject);
        assert_eq!(
            r.check(2, chunk(1)),
            Verdict::Reject,
            "right bytes, wrong place"
        );
        assert_eq!(r.check(9, chunk(0)), Verdict::OutOfRange);
        // resume from the persisted bitmap
        let bits = encode_bits(r.held());
        let mut r2 = Receiver::new(&o, Some(decode_bits(&bits, 4))).unwrap();
        assert_eq!(r2.missing(), vec![(0, 1), (2, 4)]);
        for i in [0, 2, 3] {
            assert_eq!(r2.check(i, chunk(i as usize)), Verdict::Accept);
            r2.mark_durable(i);
        }
        assert!(r2.is_complete());
    }

    #[test]
    fn forged_offers_are_refused() {
        let data = vec![5u8; 2 * CHUNK_SIZE];
        let mut o = offer(&data);
        o.cvs[1][0] ^= 1;
        assert_eq!(Receiver::new(&o, None).unwrap_err(), OfferError::BadTree);
        let mut o = offer(&data);
        o.size += 1;
        assert_eq!(
            Receiver::new(&o, None).unwrap_err(),
            OfferError::Inconsistent
        );
        let mut o = offer(&data);
        o.item.hash = Hash::from_bytes([0; 32]);
        assert_eq!(
            Receiver::new(&o, None).unwrap_err(),
            OfferError::Inconsistent
        );
    }
}
