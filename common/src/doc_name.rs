//! Document names, with one strict grammar checked everywhere a name arrives
//! (a peer's sync request, a heads frame, a stored key):
//!
//! | name                        | owner  | parts                                     |
//! |-----------------------------|--------|-------------------------------------------|
//! | `activity/<county>/<id>`    | county | county and activity id: [`crate::id`] rule |
//! | `ledger/<county>/<YYYY-MM>` | county | a calendar month, `01`–`12`               |
//! | `registry/<county>`         | county |                                           |
//! | `catalogue`                 | city   |                                           |
//! | `policy/<name>`             | city   | name: [`crate::id`] rule                  |
//!
//! Nothing else is a document name: no empty parts, no `.` or `..`, no other
//! kinds, nothing longer than [`MAX_LEN`] bytes.

use std::fmt;

use crate::sync::Owner;

/// Longest document name accepted (the longest the grammar can build).
pub const MAX_LEN: usize = 9 + 64 + 1 + 64;

/// A document name that follows the grammar.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocName(String);

/// What kind of document a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Activity,
    Ledger,
    Registry,
    Catalogue,
    Policy,
}

/// A name that breaks the grammar (the name itself is not repeated: it may be
/// anything a peer sent; see [`crate::log_escape`] to show it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a document name: {0}")]
pub struct DocNameError(pub &'static str);

fn month_ok(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..].iter().all(u8::is_ascii_digit)
        && matches!(m[5..].parse::<u8>(), Ok(1..=12))
}

impl DocName {
    /// Parses `name` against the grammar.
    pub fn parse(name: &str) -> Result<DocName, DocNameError> {
        if name.len() > MAX_LEN {
            return Err(DocNameError("longer than any document name"));
        }
        let parts: Vec<&str> = name.split('/').collect();
        let id = crate::id::is_valid;
        let ok = match parts.as_slice() {
            ["activity", county, act] => id(county) && id(act),
            ["ledger", county, month] => id(county) && month_ok(month),
            ["registry", county] => id(county),
            ["catalogue"] => true,
            ["policy", p] => id(p),
            _ => return Err(DocNameError("unknown kind or wrong number of parts")),
        };
        if !ok {
            return Err(DocNameError("a part breaks the id rule or is not a month"));
        }
        Ok(DocName(name.to_string()))
    }

    /// `activity/<county>/<id>`
    pub fn activity(county: &str, id: &str) -> Result<DocName, DocNameError> {
        DocName::parse(&format!("activity/{county}/{id}"))
    }

    /// `ledger/<county>/<YYYY-MM>`: one month of a county's check-out ledger.
    pub fn ledger(county: &str, month: &str) -> Result<DocName, DocNameError> {
        DocName::parse(&format!("ledger/{county}/{month}"))
    }

    /// `registry/<county>`: the county's device registry.
    pub fn registry(county: &str) -> Result<DocName, DocNameError> {
        DocName::parse(&format!("registry/{county}"))
    }

    /// What every activity name of `county` starts with (`activity/<county>/`),
    /// for scans of a store's names.
    pub fn activity_prefix(county: &str) -> String {
        format!("activity/{county}/")
    }

    /// What every ledger month of `county` starts with (`ledger/<county>/`).
    pub fn ledger_prefix(county: &str) -> String {
        format!("ledger/{county}/")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> DocKind {
        match self.0.split('/').next() {
            Some("activity") => DocKind::Activity,
            Some("ledger") => DocKind::Ledger,
            Some("registry") => DocKind::Registry,
            Some("policy") => DocKind::Policy,
            _ => DocKind::Catalogue,
        }
    }

    /// The county a county document belongs to.
    pub fn county(&self) -> Option<&str> {
        match self.kind() {
            DocKind::Activity | DocKind::Ledger | DocKind::Registry => self.0.split('/').nth(1),
            DocKind::Catalogue | DocKind::Policy => None,
        }
    }

    /// The last part of an activity's name: its id.
    pub fn activity_id(&self) -> Option<&str> {
        (self.kind() == DocKind::Activity)
            .then(|| self.0.split('/').nth(2))
            .flatten()
    }

    pub fn owner(&self) -> Owner {
        match self.county() {
            Some(c) => Owner::County(c.to_string()),
            None => Owner::City,
        }
    }
}

impl fmt::Display for DocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name reads as the text it is (it can only have been built by the grammar).
impl std::ops::Deref for DocName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for DocName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in [
            "activity/410422/A-1",
            "ledger/410422/2026-11",
            "registry/410422",
            "catalogue",
            "policy/retention",
        ] {
            assert_eq!(DocName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "activity/410499/..",
            "activity/410499/.",
            "activity/../x",
            "activity/410422",
            "activity//x",
            "activity/410422/a/b",
            "ledger/410422/2026-13",
            "ledger/410422/2026-1",
            "ledger/410422/x",
            "registry/a/b",
            "catalogue/x",
            "policy/",
            "other/x",
            "activity/410422/a\nINFO forged",
            "activity/410422/a\0",
            "activity/410422/边",
        ] {
            assert!(DocName::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("activity/410422/{}", "a".repeat(65));
        assert!(DocName::parse(&long).is_err());
        let n = DocName::parse("activity/410422/A-1").unwrap();
        assert_eq!(n.county(), Some("410422"));
        assert_eq!(n.activity_id(), Some("A-1"));
        assert_eq!(DocName::parse("catalogue").unwrap().owner(), Owner::City);
    }

    #[test]
    fn constructors_build_only_grammatical_names() {
        let a = DocName::activity("410422", "A-1").unwrap();
        let l = DocName::ledger("410422", "2026-11").unwrap();
        let r = DocName::registry("410422").unwrap();
        assert_eq!(
            [a.as_str(), l.as_str(), r.as_str()],
            [
                "activity/410422/A-1",
                "ledger/410422/2026-11",
                "registry/410422"
            ]
        );
        assert!(DocName::activity("410422", "..").is_err());
        assert!(DocName::ledger("410422", "2026-13").is_err());
        assert!(DocName::registry("41/0422").is_err());
        // a county's names start with its prefix of their kind, and not with
        // the prefix of a county whose id is a prefix of this one's
        for (n, prefix) in [
            (&a, DocName::activity_prefix as fn(&str) -> String),
            (&l, DocName::ledger_prefix),
        ] {
            assert!(n.as_str().starts_with(&prefix("410422")), "{n}");
            assert!(!n.as_str().starts_with(&prefix("41042")), "{n}");
        }
    }
}
