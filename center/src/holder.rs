//! Proof of possession at the center ([`jilu_common::holder`]): a fresh nonce and
//! the chunks it picks for a node that offers an item the center already holds,
//! and the check of its answer against the verified blob. Only a correct answer
//! adds the node to the item's holders (with a custody entry); anything else is a
//! refusal, and nothing else is recorded.

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use jilu_certs::identity::Identity;
use jilu_common::audit::Action;
use jilu_common::holder;
use jilu_common::time::Millis;
use serde_json::json;

use crate::center::{Center, ITEMS};

/// A fresh challenge for an item of `chunks` chunks: a nonce from the OS's
/// random source, and the chunks it picks.
pub fn challenge(chunks: u64) -> Result<([u8; 32], Vec<u64>)> {
    let mut nonce = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut nonce))
        .context("cannot read a nonce from /dev/urandom")?;
    Ok((nonce, holder::challenge_chunks(&nonce, chunks)))
}

impl Center {
    /// Checks `mac`, a node's answer to the challenge `nonce` for item `hash`; on a
    /// match records the node as a holder and returns when the item was verified.
    pub fn prove(
        &self,
        peer: &Identity,
        hash: &[u8; 32],
        nonce: &[u8; 32],
        mac: &[u8; 32],
    ) -> Result<Millis> {
        let mut known = self
            .item(hash)?
            .ok_or_else(|| anyhow!("the item is no longer at the center"))?;
        let hex = blake3::Hash::from_bytes(*hash).to_hex();
        let size = known.item.size;
        let chunks = holder::challenge_chunks(nonce, jilu_common::chunk_tree::chunk_count(size));
        if !holder::check(nonce, &chunks, mac, |i| {
            self.blobs.read_chunk(hash, i, size)
        }) {
            bail!(
                "item {hex}: the proof of possession does not match the center's copy: node {} is not recorded as a holder",
                peer.node
            );
        }
        if !known.holders.contains(&peer.node) {
            known.holders.push(peer.node.clone());
            let mut tx = self.journal.begin();
            tx.put_record(ITEMS, hash, &known)?;
            tx.audit(
                &peer.node,
                Action::VerifiedAtCenter,
                format!("item:{hex}"),
                json!({"also_held_by": peer.node, "proof": "possession", "chunks": chunks.len()}),
                &[*hash],
            )?;
            tx.commit()?;
        }
        Ok(known.verified_at)
    }
}
