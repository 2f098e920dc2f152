//! The custody chain a bag carries (`data/custody.jsonl`): first one line per item
//! (its BLAKE3, size and file in the bag), then every custody event the center holds
//! for those items, in order. Each line is a JSON object whose `prev` is the BLAKE3
//! of the line before it (the first line's is 64 zeros), so a line edited, dropped,
//! reordered or added anywhere breaks the chain at that line, whatever the
//! manifests say.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An item the bag holds: the file under `data/` and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemLine {
    /// BLAKE3 root, hex: the item's name in Jilu
    pub hash: String,
    pub size: u64,
    /// path under `data/`
    pub file: String,
}

/// One line of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub prev: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item: Option<ItemLine>,
    /// a custody event as the center recorded it
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event: Option<Value>,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Writes the chain for `items` and `events`.
pub fn render(items: &[ItemLine], events: &[Value]) -> String {
    let mut out = String::new();
    let mut prev = GENESIS.to_string();
    let lines = items
        .iter()
        .map(|i| Line {
            prev: String::new(),
            item: Some(i.clone()),
            event: None,
        })
        .chain(events.iter().map(|e| Line {
            prev: String::new(),
            item: None,
            event: Some(e.clone()),
        }));
    for mut line in lines {
        line.prev = prev;
        // a Line is plain data: serialising it cannot fail
        let text = serde_json::to_string(&line).unwrap_or_default();
        prev = blake3::hash(text.as_bytes()).to_hex().to_string();
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// What is wrong with a chain, naming its line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("custody line {0} is not a custody record")]
    Unreadable(usize),
    #[error("custody line {0} does not link to the line before it")]
    Broken(usize),
    #[error("the custody chain names no item")]
    Empty,
}

/// Checks the links and returns the items the chain names and how many lines it has.
pub fn check(text: &str) -> Result<(Vec<ItemLine>, usize), ChainError> {
    let mut prev = GENESIS.to_string();
    let mut items = Vec::new();
    let mut n = 0;
    for (i, raw) in text.lines().enumerate() {
        let line: Line = serde_json::from_str(raw).map_err(|_| ChainError::Unreadable(i + 1))?;
        if line.prev != prev {
            return Err(ChainError::Broken(i + 1));
        }
        if let Some(item) = line.item {
            items.push(item);
        }
        prev = blake3::hash(raw.as_bytes()).to_hex().to_string();
        n += 1;
    }
    if items.is_empty() {
        return Err(ChainError::Empty);
    }
    Ok((items, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> String {
        let items = vec![ItemLine {
            hash: "ab".repeat(32),
            size: 5,
            file: "footage/A0001.MP4".into(),
        }];
        let events = vec![
            serde_json::json!({"action": "verified_at_center", "at": 1}),
            serde_json::json!({"action": "export", "at": 2}),
        ];
        render(&items, &events)
    }

    #[test]
    fn intact_chain_checks() {
        let (items, n) = check(&chain()).unwrap();
        assert_eq!((items.len(), n), (1, 3));
    }

    #[test]
    fn edits_drops_and_reorders_are_named() {
        let text = chain();
        let lines: Vec<&str> = text.lines().collect();
        let edited = text.replace("\"at\":1", "\"at\":9");
        assert_eq!(check(&edited), Err(ChainError::Broken(3)));
        let dropped = format!("{}\n{}\n", lines[0], lines[2]);
        assert_eq!(check(&dropped), Err(ChainError::Broken(2)));
        let reordered = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]);
        assert_eq!(check(&reordered), Err(ChainError::Broken(2)));
    }
}
