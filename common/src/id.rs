//! The one rule for the names Jilu builds paths, keys, document names and
//! certificate identities from: node names, county codes, device ids, officer
//! badges, matter and activity ids. 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting
//! with `.` (so never `.` or `..`). ASCII only: a node's name goes into its
//! certificate's URI and DNS names, and a device id names a dock folder.

/// Longest id accepted.
pub const MAX_LEN: usize = 64;

/// An id that breaks the rule, with what it was meant to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} '{value}' is not usable: use 1-64 letters A-Z a-z, digits, '-', '_' or '.', not starting with '.'")]
pub struct IdError {
    pub what: &'static str,
    pub value: String,
}

/// Checks `value` as the id of `what` ("node name", "device id", ...).
pub fn check(what: &'static str, value: &str) -> Result<(), IdError> {
    if is_valid(value) {
        Ok(())
    } else {
        Err(IdError {
            what,
            value: value.to_string(),
        })
    }
}

/// Whether `value` follows the rule.
pub fn is_valid(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !value.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for ok in [
            "edge-410422",
            "410422",
            "cam-01",
            "A-410422-1",
            "v1.2_x",
            &"a".repeat(64),
        ] {
            assert!(check("id", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "边缘一",
            "a b",
            "a\n",
            &"a".repeat(65),
            "x:y",
        ] {
            let e = check("node name", bad).unwrap_err();
            assert!(e.to_string().starts_with("node name '"), "{e}");
        }
    }
}
