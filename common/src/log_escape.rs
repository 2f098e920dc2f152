//! Peer-supplied strings on their way to a log line, an audit entry or
//! `last_refusal`: every control character, quote and backslash escaped (so no
//! newline can forge a line and no NUL is written raw), and cut to a bounded
//! length (so no peer makes a log line longer than a few KiB).

/// Longest escaped text kept, in bytes; the rest is summarised by its length.
pub const MAX_SHOWN: usize = 256;

/// `s` escaped and bounded (see the module doc).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN) + 16);
    for (i, c) in s.char_indices() {
        if out.len() >= MAX_SHOWN {
            out.push_str(&format!("…(+{} bytes)", s.len() - i));
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&c.escape_unicode().to_string())
            }
            c => out.push(c),
        }
    }
    out
}

/// A peer's text made safe to store (bytes that are not UTF-8 shown lossily).
pub fn escape_bytes(b: &[u8]) -> String {
    escape(&String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_breaks_no_nul_bounded() {
        let forged = "edge 1\n2026-12-01T00:00:00Z  INFO center: forged\0\r\u{1b}[31m";
        let e = escape(forged);
        assert!(
            !e.contains('\n') && !e.contains('\0') && !e.contains('\r') && !e.contains('\u{1b}')
        );
        assert!(e.contains("\\u{a}"), "{e}");
        assert_eq!(escape("plain 张三"), "plain 张三");
        let long = "x".repeat(1 << 20);
        let e = escape(&long);
        assert!(e.len() < MAX_SHOWN + 32, "{}", e.len());
        assert!(e.ends_with("bytes)"));
    }
}
