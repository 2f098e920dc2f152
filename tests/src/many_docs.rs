//! Many documents at once, written straight into an edge's store through the
//! `edge_node` library (real RocksDB, real Automerge documents, through the same
//! `Tx::put_doc` as every command, so the heads index is kept as usual): the
//! fixture behind the sync benchmark's document part and the paging test. Writing
//! 200,000 activities one `activity new` at a time would take hours.

use std::path::Path;

use anyhow::Result;
use edge_node::store::Mode;

/// The name of the `i`-th document [`write_activities`] writes.
pub fn activity_name(county: &str, i: usize) -> String {
    format!("activity/{county}/A-{i:06}")
}

/// Writes activities `from..to` of `county` (small, realistic records) into the
/// edge store at `dir`, a thousand per batch.
pub fn write_activities(dir: &Path, county: &str, from: usize, to: usize) -> Result<()> {
    let e = edge_node::edge::Edge::open(dir, Mode::ReadWrite)?;
    let mut i = from;
    while i < to {
        let mut tx = e.begin();
        for _ in 0..1000.min(to - i) {
            let name = activity_name(county, i);
            let activity = jilu_common::activity::Activity {
                id: format!("A-{i:06}"),
                matter: "1".into(),
                place: format!("某企业 {i}"),
                officers: vec!["1001".into()],
                arrival: 1_790_000_000_000 + i as i64 * 60_000,
                departure: Some(1_790_000_000_000 + i as i64 * 60_000 + 3_600_000),
                remote: false,
                notice: None,
                annotations: vec![],
                interruptions: vec![],
                items: vec![],
                hold: None,
                classification: None,
            };
            let mut d = e.load_or_create_doc(&name)?;
            jilu_common::doc::put(&mut d, &["activity"], &activity)?;
            tx.put_doc(&name, &mut d)?;
            i += 1;
        }
        tx.commit()?;
    }
    Ok(())
}

/// Copies the edge's documents `names` byte for byte into the store of the
/// center configured by `center_toml` (which must not be running), as if an
/// earlier sync had brought them: the same heads on both sides, indexed and
/// projected as a merge would.
pub fn copy_to_center(edge_dir: &Path, center_toml: &Path, names: &[String]) -> Result<()> {
    let e = edge_node::edge::Edge::open(edge_dir, Mode::ReadOnly)?;
    let cfg = center::config::CenterConfig::load(center_toml)?;
    let c = center::center::Center::open(cfg, Mode::ReadWrite)?;
    for chunk in names.chunks(1000) {
        let mut tx = c.journal.begin();
        for name in chunk {
            let bytes = e
                .store
                .get(edge_node::store::DOCS, name.as_bytes())?
                .ok_or_else(|| anyhow::anyhow!("the edge holds no {name}"))?;
            let mut d = jilu_common::automerge::AutoCommit::load(&bytes)?;
            tx.put_doc(name, &mut d)?;
            center::projection::on_doc(&c, &mut tx, name, &d)?;
        }
        tx.commit()?;
    }
    Ok(())
}
