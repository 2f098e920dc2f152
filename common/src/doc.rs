//! Typed records in Automerge documents.
//!
//! Records are written field by field (a reconcile, not a blind overwrite): a
//! scalar is put only when it changed and nested maps are reused, so two nodes that
//! edit different fields of the same record merge without losing either edit.
//! Lists are replaced whole when they differ: they are short (officers, annotations)
//! and ordered merges of them are not needed by the regulation.
//!
//! Why not `autosurgeon`: its derive needs a trait impl on every model type and ties
//! the model to one Automerge release; going through `serde_json::Value` keeps the
//! model plain serde and this module the only place that knows Automerge.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value as Json};

/// Why a document could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// the stored document bytes are not an Automerge document (corrupt store)
    #[error("document is corrupt: {0}")]
    Corrupt(#[from] automerge::AutomergeError),
    /// the record in the document does not have the expected shape
    #[error("record at {path} has an unexpected shape: {source}")]
    Shape {
        path: String,
        source: serde_json::Error,
    },
    /// a record must serialise to a JSON object
    #[error("record at {0} is not a map")]
    NotAMap(String),
    /// a newer Jilu wrote the document: it must not be guessed at
    #[error("document has format {found}, newer than this build of Jilu reads (format {known}): upgrade Jilu")]
    Newer { found: u64, known: u64 },
}

/// The schema version of the documents this build writes, in the root key
/// `format`. A document without it was written before documents were versioned
/// (format 0, the same shape as 1). Fields that only add to a record do not bump
/// it: older nodes read past fields they do not know. A change they would misread
/// does, and a node refuses a document of a newer format by name
/// ([`check_format`]) instead of guessing at it.
pub const FORMAT: u64 = 1;

/// The document's schema version (0: from before versions).
pub fn format_of(doc: &AutoCommit) -> u64 {
    match doc.get(ROOT, "format") {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Uint(n) => *n,
            ScalarValue::Int(n) => u64::try_from(*n).unwrap_or(u64::MAX),
            _ => u64::MAX,
        },
        _ => 0,
    }
}

/// Refuses a document of a format newer than [`FORMAT`].
pub fn check_format(doc: &AutoCommit) -> Result<(), DocError> {
    match format_of(doc) {
        f if f <= FORMAT => Ok(()),
        found => Err(DocError::Newer {
            found,
            known: FORMAT,
        }),
    }
}

/// A new document of this build's [`FORMAT`], written by `actor`.
pub fn new_document(actor: ActorId) -> Result<AutoCommit, DocError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "format", ScalarValue::Uint(FORMAT))?;
    Ok(doc)
}

/// The actor id a node writes with: stable per node, so its changes are attributable.
pub fn actor_for(node: &str) -> ActorId {
    ActorId::from(&blake3::hash(node.as_bytes()).as_bytes()[..16])
}

/// A document whose first change is the same bytes on every node (fixed actor and
/// time), so independently seeded copies merge into one history instead of two
/// conflicting ones. Used for the annex catalogue.
///
/// What is identical is the change, and so its hash (the heads), not the saved
/// document: `save()`'s encoding belongs to the Automerge release (0.7.4 saves the
/// catalogue in 526 bytes, 0.12 in 532). Nodes exchange changes, never saved bytes,
/// and `tests/tests/automerge_fixture.rs` checks that this seed still has the heads
/// of the catalogue automerge 0.7.4 seeded, and merges with it into one history.
pub fn seeded<T: Serialize>(
    seed_name: &str,
    path: &[&str],
    records: &[(String, T)],
) -> Result<AutoCommit, DocError> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(
        &blake3::hash(seed_name.as_bytes()).as_bytes()[..16],
    ));
    for (key, record) in records {
        let mut full: Vec<&str> = path.to_vec();
        full.push(key);
        put(&mut doc, &full, record)?;
    }
    doc.commit_with(CommitOptions::default().with_time(0));
    Ok(doc)
}

/// Writes `record` at `path` (a chain of map keys from the root), creating maps on the way.
pub fn put<T: Serialize>(doc: &mut AutoCommit, path: &[&str], record: &T) -> Result<(), DocError> {
    let name = path.join("/");
    let value = serde_json::to_value(record).map_err(|source| DocError::Shape {
        path: name.clone(),
        source,
    })?;
    let Json::Object(fields) = value else {
        return Err(DocError::NotAMap(name));
    };
    let (parent, last) = match path.split_last() {
        Some((last, parents)) => (map_path(doc, parents)?, *last),
        None => return reconcile_map(doc, &ROOT, &fields),
    };
    let target = match doc.get(&parent, last)? {
        Some((Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(&parent, last, ObjType::Map)?,
    };
    reconcile_map(doc, &target, &fields)
}

/// Reads the record at `path`, if there is one.
pub fn get<T: DeserializeOwned>(doc: &AutoCommit, path: &[&str]) -> Result<Option<T>, DocError> {
    let Some(obj) = find(doc, path)? else {
        return Ok(None);
    };
    let json = read(doc, &obj)?;
    serde_json::from_value(json)
        .map(Some)
        .map_err(|source| DocError::Shape {
            path: path.join("/"),
            source,
        })
}

/// Every record in the map at `path`, by key order.
pub fn get_all<T: DeserializeOwned>(
    doc: &AutoCommit,
    path: &[&str],
) -> Result<Vec<(String, T)>, DocError> {
    let Some(obj) = find(doc, path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in doc.keys(&obj) {
        if let Some((Value::Object(_), child)) = doc.get(&obj, key.as_str())? {
            let mut full: Vec<&str> = path.to_vec();
            full.push(&key);
            let record =
                serde_json::from_value(read(doc, &child)?).map_err(|source| DocError::Shape {
                    path: full.join("/"),
                    source,
                })?;
            out.push((key.clone(), record));
        }
    }
    Ok(out)
}

/// The whole document as JSON (for `show --json` and tests).
pub fn to_json(doc: &AutoCommit) -> Result<Json, DocError> {
    read(doc, &ROOT)
}

fn find(doc: &AutoCommit, path: &[&str]) -> Result<Option<ObjId>, DocError> {
    let mut obj = ROOT;
    for key in path {
        match doc.get(&obj, *key)? {
            Some((Value::Object(_), id)) => obj = id,
            _ => return Ok(None),
        }
    }
    Ok(Some(obj))
}

fn map_path(doc: &mut AutoCommit, path: &[&str]) -> Result<ObjId, DocError> {
    let mut obj = ROOT;
    for key in path {
        obj = match doc.get(&obj, *key)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => doc.put_object(&obj, *key, ObjType::Map)?,
        };
    }
    Ok(obj)
}

fn reconcile_map(
    doc: &mut AutoCommit,
    obj: &ObjId,
    fields: &Map<String, Json>,
) -> Result<(), DocError> {
    let stale: Vec<String> = doc.keys(obj).filter(|k| !fields.contains_key(k)).collect();
    for key in stale {
        doc.delete(obj, key.as_str())?;
    }
    for (key, value) in fields {
        let existing = doc.get(obj, key.as_str())?;
        match (value, existing) {
            (Json::Object(inner), Some((Value::Object(ObjType::Map), id))) => {
                reconcile_map(doc, &id, inner)?
            }
            (Json::Object(inner), _) => {
                let id = doc.put_object(obj, key.as_str(), ObjType::Map)?;
                reconcile_map(doc, &id, inner)?;
            }
            (Json::Array(items), existing) => {
                let same = match existing {
                    Some((Value::Object(ObjType::List), id)) => read(doc, &id)? == *value,
                    _ => false,
                };
                if !same {
                    let id = doc.put_object(obj, key.as_str(), ObjType::List)?;
                    fill_list(doc, &id, items)?;
                }
            }
            (scalar, existing) => {
                let same = match existing {
                    Some((Value::Scalar(s), _)) => scalar_to_json(&s) == *scalar,
                    _ => false,
                };
                if !same {
                    doc.put(obj, key.as_str(), json_to_scalar(scalar))?;
                }
            }
        }
    }
    Ok(())
}

fn fill_list(doc: &mut AutoCommit, list: &ObjId, items: &[Json]) -> Result<(), DocError> {
    for (i, item) in items.iter().enumerate() {
        match item {
            Json::Object(inner) => {
                let id = doc.insert_object(list, i, ObjType::Map)?;
                reconcile_map(doc, &id, inner)?;
            }
            Json::Array(inner) => {
                let id = doc.insert_object(list, i, ObjType::List)?;
                fill_list(doc, &id, inner)?;
            }
            scalar => doc.insert(list, i, json_to_scalar(scalar))?,
        }
    }
    Ok(())
}

fn read(doc: &AutoCommit, obj: &ObjId) -> Result<Json, DocError> {
    let value_of = |doc: &AutoCommit, v: Value<'_>, id: ObjId| -> Result<Json, DocError> {
        match v {
            Value::Object(_) => read(doc, &id),
            Value::Scalar(s) => Ok(scalar_to_json(&s)),
        }
    };
    match doc.object_type(obj)? {
        ObjType::Map | ObjType::Table => {
            let mut map = Map::new();
            for key in doc.keys(obj) {
                if let Some((v, id)) = doc.get(obj, key.as_str())? {
                    map.insert(key.clone(), value_of(doc, v, id)?);
                }
            }
            Ok(Json::Object(map))
        }
        ObjType::List | ObjType::Text => {
            let mut list = Vec::new();
            for i in 0..doc.length(obj) {
                if let Some((v, id)) = doc.get(obj, i)? {
                    list.push(value_of(doc, v, id)?);
                }
            }
            Ok(Json::Array(list))
        }
    }
}

fn json_to_scalar(v: &Json) -> ScalarValue {
    match v {
        Json::Null => ScalarValue::Null,
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => ScalarValue::Int(i),
            (None, Some(u), _) => ScalarValue::Uint(u),
            (_, _, f) => ScalarValue::F64(f.unwrap_or(0.0)),
        },
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Array(_) | Json::Object(_) => ScalarValue::Null,
    }
}

fn scalar_to_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Null => Json::Null,
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Json::Number((*i).into()),
        ScalarValue::Uint(u) => Json::Number((*u).into()),
        ScalarValue::F64(f) => Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        ScalarValue::Str(s) => Json::String(s.to_string()),
        ScalarValue::Counter(c) => Json::Number(i64::from(c).into()),
        ScalarValue::Bytes(b) => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        ScalarValue::Unknown { .. } => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Activity;
    use crate::matter::annex;

    fn sample() -> Activity {
        Activity {
            id: "a1".into(),
            matter: "1".into(),
            place: "某公司".into(),
            officers: vec!["1001".into(), "1002".into()],
            arrival: 1_000,
            departure: Some(2_000),
            remote: false,
            notice: None,
            annotations: vec![],
            interruptions: vec![],
            items: vec![crate::hash::Hash::of(b"ab")],
            hold: None,
            classification: None,
        }
    }

    #[test]
    fn round_trip() {
        let mut doc = AutoCommit::new();
        put(&mut doc, &["activity"], &sample()).unwrap();
        let back: Activity = get(&doc, &["activity"]).unwrap().unwrap();
        assert_eq!(back, sample());
        let reloaded = AutoCommit::load(&doc.save()).unwrap();
        assert_eq!(
            get::<Activity>(&reloaded, &["activity"]).unwrap().unwrap(),
            sample()
        );
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive() {
        let mut base = AutoCommit::new().with_actor(actor_for("center"));
        put(&mut base, &["activity"], &sample()).unwrap();
        let mut edge = base.fork().with_actor(actor_for("edge"));
        let mut center = base.fork().with_actor(actor_for("center2"));
        let mut a = sample();
        a.place = "改正的地点".into();
        put(&mut edge, &["activity"], &a).unwrap();
        let mut b = sample();
        b.departure = Some(3_000);
        put(&mut center, &["activity"], &b).unwrap();
        edge.merge(&mut center).unwrap();
        let merged: Activity = get(&edge, &["activity"]).unwrap().unwrap();
        assert_eq!(merged.place, "改正的地点");
        assert_eq!(merged.departure, Some(3_000));
    }

    #[test]
    fn seeded_documents_from_two_nodes_merge_into_one_history() {
        let rows: Vec<(String, _)> = annex().into_iter().map(|m| (m.id.clone(), m)).collect();
        let mut a = seeded("annex", &["matters"], &rows).unwrap();
        let mut b = seeded("annex", &["matters"], &rows).unwrap();
        assert_eq!(a.get_heads(), b.get_heads());
        a.merge(&mut b).unwrap();
        assert_eq!(
            get_all::<crate::matter::Matter>(&a, &["matters"])
                .unwrap()
                .len(),
            2
        );
    }
}
