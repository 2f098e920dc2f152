//! Manifest lines: `<hex digest>  <path>`, one per file, paths relative to the bag
//! with `/` separators. RFC 8493 §2.1.3 asks that CR, LF and `%` in a path be
//! percent-encoded so every line stays one line.

use std::collections::BTreeMap;

/// Encodes a path for a manifest line.
pub fn encode_path(p: &str) -> String {
    p.replace('%', "%25")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

/// Decodes a manifest line's path.
pub fn decode_path(p: &str) -> String {
    p.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
}

/// Writes a manifest: one line per (path, digest), sorted by path.
pub fn render(entries: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (path, digest) in entries {
        out.push_str(digest);
        out.push_str("  ");
        out.push_str(&encode_path(path));
        out.push('\n');
    }
    out
}

/// A manifest line that is not `<hex>  <path>`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: not '<hex digest> <path>'")]
pub struct BadLine {
    pub line: usize,
}

/// Reads a manifest into path -> digest.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, BadLine> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (digest, path) = line
            .split_once(char::is_whitespace)
            .ok_or(BadLine { line: i + 1 })?;
        let path = path.trim_start();
        if digest.is_empty() || path.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadLine { line: i + 1 });
        }
        out.insert(decode_path(path), digest.to_ascii_lowercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_awkward_names() {
        let mut m = BTreeMap::new();
        m.insert("data/叶县 执法记录.mp4".to_string(), "ab".repeat(32));
        m.insert("data/100%\nodd\r.bin".to_string(), "cd".repeat(32));
        let text = render(&m);
        assert_eq!(text.lines().count(), 2);
        assert_eq!(parse(&text).unwrap(), m);
    }

    #[test]
    fn junk_is_refused_with_its_line() {
        assert_eq!(parse("ab  data/x\nnot-hex data/y\n").unwrap_err().line, 2);
        assert_eq!(parse("abcdef\n").unwrap_err().line, 1);
    }
}
