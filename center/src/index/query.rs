//! Paging over the `index` family: a range scan that starts after a cursor (the
//! last key a page examined) and stops after a page of rows, or after a bounded
//! number of keys, so rows a user may not see never make a request cost the
//! whole list.

use anyhow::Result;
use jilu_store::db::Store;
use rocksdb::{Direction, IteratorMode};

use crate::schema::INDEX;

/// Where a scan runs: keys under `prefix`, from `lower` (inclusive, full key) to
/// `upper` (exclusive, full key), after `cursor`.
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub prefix: Vec<u8>,
    pub lower: Option<Vec<u8>>,
    pub upper: Option<Vec<u8>>,
    pub cursor: Option<Vec<u8>>,
}

/// Why a cursor was refused.
#[derive(Debug, thiserror::Error)]
#[error("the cursor does not belong to this list: start again without it")]
pub struct BadCursor;

pub fn encode_cursor(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(text: &str) -> Result<Vec<u8>, BadCursor> {
    if !text.len().is_multiple_of(2)
        || text.len() > 1024
        || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(BadCursor);
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| BadCursor))
        .collect()
}

/// Visits keys of `range` in order; `take` returns whether the key made a row.
/// Stops after `limit` rows or `budget` keys; returns the cursor of the next
/// page (`None`: the list is done).
pub fn scan(
    store: &Store,
    range: &Range,
    limit: usize,
    budget: usize,
    mut take: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<Option<Vec<u8>>> {
    if let Some(c) = &range.cursor {
        if !c.starts_with(&range.prefix) {
            return Err(BadCursor.into());
        }
    }
    let mut start = range.lower.clone().unwrap_or_else(|| range.prefix.clone());
    if let Some(c) = &range.cursor {
        let mut after = c.clone();
        after.push(0);
        start = start.max(after);
    }
    let cf = store.cf(INDEX)?;
    let (mut rows, mut seen) = (0usize, 0usize);
    let mut last: Option<Vec<u8>> = None;
    for entry in store
        .db
        .iterator_cf(&cf, IteratorMode::From(&start, Direction::Forward))
    {
        let (k, _) = entry.map_err(|e| store.err(e))?;
        if !k.starts_with(&range.prefix) || range.upper.as_deref().is_some_and(|u| *k >= *u) {
            return Ok(None);
        }
        if rows >= limit || seen >= budget {
            return Ok(last);
        }
        seen += 1;
        if take(&k)? {
            rows += 1;
        }
        last = Some(k.to_vec());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let k = b"ic\x00410422\x00\x80\xff".to_vec();
        assert_eq!(decode_cursor(&encode_cursor(&k)).unwrap(), k);
        for bad in ["zz", "abc", "\u{2c6c0}:5", "é1"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
