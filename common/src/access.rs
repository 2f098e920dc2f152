//! Who may do what through the center's API: the role table of the bureau's
//! accounts, the classification of records (art. 14) and the one decision
//! ([`decide`]) every path of the API asks before it answers.
//!
//! | role | may |
//! |---|---|
//! | officer | read own activities and items |
//! | keeper | everything of own county, read (edges and devices too); annotate |
//! | supervisor | all counties, read; holds, classification; grants |
//! | head | all counties, read; approve interruptions |
//! | auditor | all metadata and audit logs, read; footage only with a grant |
//! | admin | users and tokens; no records, no footage |
//!
//! Above ordinary, a record is seen only by a user whose role may see it **and**
//! who holds a live grant for it. What a user may not see is [`Verdict::Hidden`]:
//! absent from lists, 404 by its id, so its existence does not leak.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A bureau account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Officer,
    Keeper,
    Supervisor,
    Head,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Officer,
        Role::Keeper,
        Role::Supervisor,
        Role::Head,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Keeper => "keeper",
            Role::Supervisor => "supervisor",
            Role::Head => "head",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Whether the role is bound to one county (`--county` required).
    pub fn county_scoped(self) -> bool {
        matches!(self, Role::Officer | Role::Keeper)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role '{s}': use officer, keeper, supervisor, head, auditor or admin"
                )
            })
    }
}

/// Secrecy classification of an activity or item (art. 14), lowest first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    #[default]
    Ordinary,
    PersonalPrivacy,
    CommercialSecret,
    StateSecret,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Ordinary,
        Class::PersonalPrivacy,
        Class::CommercialSecret,
        Class::StateSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ordinary => "ordinary",
            Class::PersonalPrivacy => "personal-privacy",
            Class::CommercialSecret => "commercial-secret",
            Class::StateSecret => "state-secret",
        }
    }

    /// The class a document states. Absent is ordinary; a value this build does
    /// not know is read as the highest (fail closed).
    pub fn of_doc(value: Option<&str>) -> Class {
        match value {
            None => Class::Ordinary,
            Some(v) => v.parse().unwrap_or(Class::StateSecret),
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Class {
    type Err = String;
    fn from_str(s: &str) -> Result<Class, String> {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown classification '{s}': use ordinary, personal-privacy, commercial-secret or state-secret")
            })
    }
}

/// An item's own classification (art. 14), set by a supervisor at the center
/// and kept in the item's county registry document under `item_classes/<hash>`,
/// so it reaches the edge. The item's effective class is the stricter of this
/// and its activity's ([`effective`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemClass {
    /// a [`Class`] name; one this build does not know reads as the highest
    pub class: String,
    pub by: String,
    pub at: crate::time::Millis,
}

/// The class that governs an item: the stricter of its own and its activity's.
pub fn effective(own: Class, activity: Class) -> Class {
    own.max(activity)
}

/// Who asks: an account's role and scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// the account name (for an officer, the badge)
    pub name: String,
    pub role: Role,
    /// the county of an officer or keeper
    pub county: Option<String>,
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// an activity's or item's metadata (lists, records, custody, findings)
    ReadRecord,
    /// an item's footage
    ReadContent,
    /// the audit log
    ReadAudit,
    /// edges and devices (operational metadata, no records)
    ReadOperations,
    Annotate,
    SetHold,
    SetClassification,
    DecideInterruption,
    /// grant or revoke access to classified records
    Grant,
    /// accounts and tokens
    ManageUsers,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::ReadRecord,
        Op::ReadContent,
        Op::ReadAudit,
        Op::ReadOperations,
        Op::Annotate,
        Op::SetHold,
        Op::SetClassification,
        Op::DecideInterruption,
        Op::Grant,
        Op::ManageUsers,
    ];
}

/// The record asked about; `None` for ops that concern no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub county: &'a str,
    /// badges of the officers the record belongs to
    pub officers: &'a [String],
    pub class: Class,
    /// whether the principal holds a live grant for this record
    pub granted: bool,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// the principal may not see the record at all: answer as if it did not exist
    Hidden,
    /// the principal sees the record but may not do this to it (or the op is not
    /// the role's at all)
    Forbidden,
}

/// Whether the role may see a record in scope at all (before classification).
fn in_scope(p: &Principal, t: &Target<'_>) -> bool {
    let own_county = p.county.as_deref() == Some(t.county);
    match p.role {
        Role::Officer => own_county && t.officers.contains(&p.name),
        Role::Keeper => own_county,
        Role::Supervisor | Role::Head | Role::Auditor => true,
        Role::Admin => false,
    }
}

/// The one decision: may `p` do `op` (to `target`)?
pub fn decide(p: &Principal, op: Op, target: Option<&Target<'_>>) -> Verdict {
    let role = p.role;
    let Some(t) = target else {
        let ok = match op {
            Op::ReadAudit => role == Role::Auditor,
            // a keeper sees the edges and devices of the own county
            Op::ReadOperations => {
                matches!(
                    role,
                    Role::Keeper | Role::Supervisor | Role::Head | Role::Auditor
                )
            }
            Op::ManageUsers => role == Role::Admin,
            Op::Grant => role == Role::Supervisor,
            // listing records: each one is then decided with its target
            Op::ReadRecord => role != Role::Admin,
            _ => false,
        };
        return if ok {
            Verdict::Allow
        } else {
            Verdict::Forbidden
        };
    };
    if !in_scope(p, t) || (t.class > Class::Ordinary && !t.granted) {
        return Verdict::Hidden;
    }
    let ok = match op {
        Op::ReadRecord => true,
        Op::ReadContent => role != Role::Auditor || t.granted,
        Op::Annotate => role == Role::Keeper,
        Op::SetHold | Op::SetClassification => role == Role::Supervisor,
        Op::DecideInterruption => role == Role::Head,
        Op::ReadAudit => role == Role::Auditor,
        Op::ReadOperations | Op::Grant | Op::ManageUsers => false,
    };
    if ok {
        Verdict::Allow
    } else {
        Verdict::Forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, county: Option<&str>) -> Principal {
        Principal {
            name: "P001".into(),
            role,
            county: county.map(String::from),
        }
    }

    fn target(
        county: &str,
        officer: &str,
        class: Class,
        granted: bool,
    ) -> (String, Class, bool, String) {
        (county.to_string(), class, granted, officer.to_string())
    }

    /// The whole table, every role × op × (own/other county, own/other officer,
    /// class, grant), against the words.
    #[test]
    fn the_role_table() {
        use Role::*;
        use Verdict::*;
        let mut checked = 0;
        for role in Role::ALL {
            let p = who(role, role.county_scoped().then_some("410422"));
            for op in Op::ALL {
                for (county, officer) in
                    [("410422", "P001"), ("410422", "P002"), ("410423", "P001")]
                {
                    for class in Class::ALL {
                        for granted in [false, true] {
                            let (c, cl, g, o) = target(county, officer, class, granted);
                            let officers = [o];
                            let t = Target {
                                county: &c,
                                officers: &officers,
                                class: cl,
                                granted: g,
                            };
                            let got = decide(&p, op, Some(&t));
                            let scope = match role {
                                Officer => county == "410422" && officer == "P001",
                                Keeper => county == "410422",
                                Admin => false,
                                _ => true,
                            };
                            let visible = scope && (class == Class::Ordinary || granted);
                            let want = if !visible {
                                Hidden
                            } else {
                                let may = match op {
                                    Op::ReadRecord => true,
                                    Op::ReadContent => role != Auditor || granted,
                                    Op::Annotate => role == Keeper,
                                    Op::SetHold | Op::SetClassification => role == Supervisor,
                                    Op::DecideInterruption => role == Head,
                                    Op::ReadAudit => role == Auditor,
                                    _ => false,
                                };
                                if may {
                                    Allow
                                } else {
                                    Forbidden
                                }
                            };
                            assert_eq!(
                                got, want,
                                "{role} {op:?} {county} {officer} {class} granted={granted}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 6 * 10 * 3 * 4 * 2);
    }

    #[test]
    fn ops_without_a_record() {
        let v = |r, op| decide(&who(r, None), op, None);
        assert_eq!(v(Role::Admin, Op::ManageUsers), Verdict::Allow);
        assert_eq!(v(Role::Admin, Op::ReadRecord), Verdict::Forbidden);
        assert_eq!(v(Role::Supervisor, Op::ManageUsers), Verdict::Forbidden);
        assert_eq!(v(Role::Auditor, Op::ReadAudit), Verdict::Allow);
        assert_eq!(v(Role::Head, Op::ReadAudit), Verdict::Forbidden);
        assert_eq!(v(Role::Supervisor, Op::Grant), Verdict::Allow);
        assert_eq!(v(Role::Keeper, Op::ReadOperations), Verdict::Allow);
        assert_eq!(v(Role::Officer, Op::ReadOperations), Verdict::Forbidden);
        assert_eq!(v(Role::Admin, Op::ReadOperations), Verdict::Forbidden);
        assert_eq!(v(Role::Auditor, Op::ReadOperations), Verdict::Allow);
    }

    #[test]
    fn classes_parse_and_fail_closed() {
        for c in Class::ALL {
            assert_eq!(c.as_str().parse::<Class>(), Ok(c));
        }
        assert_eq!(Class::of_doc(None), Class::Ordinary);
        assert_eq!(Class::of_doc(Some("top-secret")), Class::StateSecret);
        assert!("Secret".parse::<Class>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}
