//! Per-peer quotas (`[quotas]` in `center.toml`) and the expiry of unfinished
//! uploads, so that a node, hostile or broken, cannot make the center store junk
//! without bound: documents per county, bytes of unfinished uploads per node,
//! offers in flight per node, and partial uploads that expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use jilu_certs::identity::Identity;
use jilu_common::doc_name::DocName;
use jilu_common::record;
use jilu_store::journal::now_ms;
use tracing::info;

use crate::center::{Center, PARTIAL};
use crate::schema::Partial;

/// Quotas in use, in memory (rebuilt from the store when needed).
#[derive(Debug, Default)]
pub struct Usage {
    offers: Arc<Mutex<HashMap<String, u32>>>,
    documents: Mutex<HashMap<String, u64>>,
}

/// One offer in flight; released on drop.
#[derive(Debug)]
pub struct OfferSlot {
    offers: Arc<Mutex<HashMap<String, u32>>>,
    node: String,
}

impl Drop for OfferSlot {
    fn drop(&mut self) {
        let mut m = self.offers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.node);
            }
        }
    }
}

impl Usage {
    /// Takes one of `node`'s offers in flight, if its quota allows.
    pub fn offer(&self, node: &str, quota: u32) -> Result<OfferSlot> {
        let mut m = self.offers.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(node.to_string()).or_default();
        if *n >= quota {
            bail!(
                "node {node} already has {n} offers in flight (quotas.offers_in_flight = {quota})"
            );
        }
        *n += 1;
        Ok(OfferSlot {
            offers: self.offers.clone(),
            node: node.to_string(),
        })
    }

    /// A county's document was created.
    pub fn document_created(&self, county: &str) {
        if let Some(n) = self
            .documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(county)
        {
            *n += 1;
        }
    }
}

/// Documents of `county` at the center (counted once, then kept up to date).
fn documents_of(center: &Center, county: &str) -> Result<u64> {
    if let Some(n) = center
        .usage
        .documents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(county)
    {
        return Ok(*n);
    }
    let mut n = 0u64;
    for prefix in [
        DocName::activity_prefix(county),
        DocName::ledger_prefix(county),
    ] {
        n += center.journal.doc_names(&prefix)?.len() as u64;
    }
    // one registry per county: its exact name (a prefix scan of `registry/41042`
    // would also count county 410422's)
    if let Ok(registry) = DocName::registry(county) {
        if center.journal.load_doc(registry.as_str())?.is_some() {
            n += 1;
        }
    }
    center
        .usage
        .documents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(county.to_string(), n);
    Ok(n)
}

/// Refuses a new document of `peer`'s county beyond `quotas.documents`.
pub fn check_new_document(center: &Center, peer: &Identity) -> Result<()> {
    let quota = center.cfg.quotas.documents;
    let n = documents_of(center, &peer.county)?;
    if n >= quota {
        bail!(
            "county {} already holds {n} documents at the center (quotas.documents = {quota})",
            peer.county
        );
    }
    Ok(())
}

/// Refuses a new unfinished upload of `size` bytes beyond `quotas.partial_bytes`.
pub fn check_partial_bytes(center: &Center, peer: &Identity, size: u64) -> Result<()> {
    let quota = center.cfg.quotas.partial_bytes;
    let held: u64 = partials(center)?
        .iter()
        .filter(|(_, p)| p.as_ref().is_some_and(|p| p.node == peer.node))
        .filter_map(|(_, p)| p.as_ref().map(|p| p.size))
        .sum();
    if held.saturating_add(size) > quota {
        bail!(
            "node {} has {held} bytes of unfinished uploads at the center; {size} more would pass quotas.partial_bytes = {quota}",
            peer.node
        );
    }
    Ok(())
}

/// Every partial record (`None`: unreadable, e.g. from layout 0).
fn partials(center: &Center) -> Result<Vec<(Vec<u8>, Option<Partial>)>> {
    Ok(center
        .journal
        .store
        .scan(PARTIAL)?
        .into_iter()
        .map(|(k, v)| {
            let p = record::decode::<Partial>(&v).ok();
            (k, p)
        })
        .collect())
}

/// Drops unfinished uploads without progress for `quotas.partial_expiry_secs`
/// whose node is not offering them right now, and partial files no record
/// names that are as old. Returns how many were dropped.
pub fn expire_partials(center: &Center) -> Result<usize> {
    let expiry_ms = center.cfg.quotas.partial_expiry_secs.saturating_mul(1000) as i64;
    let now = now_ms();
    let mut dropped = 0;
    let mut keep = std::collections::HashSet::new();
    let mut tx = center.journal.begin();
    for (key, p) in partials(center)? {
        let hash: Option<[u8; 32]> = key.get(..32).and_then(|h| h.try_into().ok());
        let node = String::from_utf8_lossy(key.get(32..).unwrap_or_default()).into_owned();
        let (Some(hash), Some(p)) = (hash, p) else {
            tx.delete(PARTIAL, &key)?;
            dropped += 1;
            continue;
        };
        let path = center.blobs.partial_path(&hash, &node);
        if now - p.updated_at < expiry_ms || center.receiving.busy(&hash, &node) {
            keep.insert(path);
            continue;
        }
        tx.delete(PARTIAL, &key)?;
        let _ = std::fs::remove_file(&path);
        dropped += 1;
    }
    tx.commit()?;
    let cutoff =
        std::time::SystemTime::now() - std::time::Duration::from_millis(expiry_ms.max(0) as u64);
    for (path, _, modified) in center.blobs.partials()? {
        if !keep.contains(&path) && modified < cutoff {
            let _ = std::fs::remove_file(&path);
            dropped += 1;
        }
    }
    if dropped > 0 {
        info!(dropped, "unfinished uploads expired");
    }
    Ok(dropped)
}
