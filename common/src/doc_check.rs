//! A document a peer changed must still decode as its type before it is merged:
//! the center refuses it with the reason and stores nothing, so one county's
//! broken (or hostile) node cannot break the bureau's view of every county.

use automerge::AutoCommit;

use crate::activity::Activity;
use crate::doc::{self, DocError};
use crate::doc_name::{DocKind, DocName};
use crate::ledger::CheckOut;
use crate::matter::Matter;
use crate::registry::{Device, Officer};

/// Why a document does not pass as its type.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// its format is newer than this build, or a record has the wrong shape
    #[error("document {name}: {source}")]
    Doc { name: String, source: Box<DocError> },
    /// a record the kind needs is not there
    #[error("document {name} holds no {what}")]
    Missing { name: String, what: &'static str },
    /// the activity inside is not the one the name says
    #[error("document {name} holds activity {found}, not the one its name says")]
    WrongId { name: String, found: String },
}

/// Checks `doc` against the schema of the kind `name` names.
pub fn check(name: &DocName, doc: &AutoCommit) -> Result<(), SchemaError> {
    let err = |source| SchemaError::Doc {
        name: name.to_string(),
        source: Box::new(source),
    };
    doc::check_format(doc).map_err(err)?;
    match name.kind() {
        DocKind::Activity => {
            let a: Activity =
                doc::get(doc, &["activity"])
                    .map_err(err)?
                    .ok_or_else(|| SchemaError::Missing {
                        name: name.to_string(),
                        what: "activity",
                    })?;
            if Some(a.id.as_str()) != name.activity_id() {
                return Err(SchemaError::WrongId {
                    name: name.to_string(),
                    found: crate::log_escape::escape(&a.id),
                });
            }
        }
        DocKind::Ledger => {
            doc::get_all::<CheckOut>(doc, &["checkouts"]).map_err(err)?;
        }
        DocKind::Registry => {
            doc::get_all::<Device>(doc, &["devices"]).map_err(err)?;
            doc::get_all::<Officer>(doc, &["officers"]).map_err(err)?;
            doc::get_all::<crate::access::ItemClass>(doc, &["item_classes"]).map_err(err)?;
        }
        DocKind::Catalogue => {
            doc::get_all::<Matter>(doc, &["matters"]).map_err(err)?;
        }
        DocKind::Policy => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_shape_is_refused_with_the_reason() {
        let name = DocName::parse("activity/410422/A-1").unwrap();
        let mut d = doc::new_document(doc::actor_for("n")).unwrap();
        assert!(matches!(check(&name, &d), Err(SchemaError::Missing { .. })));
        doc::put(&mut d, &["activity"], &serde_json::json!({"id": 5})).unwrap();
        let e = check(&name, &d).unwrap_err();
        assert!(e.to_string().contains("activity"), "{e}");
        // a ledger with a malformed check-out
        let ledger = DocName::parse("ledger/410422/2026-11").unwrap();
        let mut l = doc::new_document(doc::actor_for("n")).unwrap();
        assert!(check(&ledger, &l).is_ok());
        doc::put(
            &mut l,
            &["checkouts", "x"],
            &serde_json::json!({"device": 1}),
        )
        .unwrap();
        assert!(check(&ledger, &l).is_err());
    }
}
