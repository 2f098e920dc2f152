//! The center's state and every decision it takes on what peers send: which
//! documents differ, whether a peer's changes may be merged, whether an offered item
//! is consistent and attributable, and when an item is verified. Async sessions
//! ([`crate::session`]) only move frames; they call these (off the reactor).

use jilu_common::subject::Subject;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use automerge::sync::{Message, State, SyncDoc};
use jilu_certs::identity::Identity;
use jilu_common::activity::{Activity, ApprovalState, Hold};
use jilu_common::audit::Action;
use jilu_common::item::Item;
use jilu_common::time::Millis;
use jilu_common::transfer::{decode_bits, encode_bits, Receiver};
use jilu_common::wire::{DocHeads, Offer};
use jilu_common::{doc, sync};
use jilu_store::db::{self, Mode, Store};
use jilu_store::journal::{now_ms, Journal};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::blobs::Blobs;
use crate::config::CenterConfig;

pub use crate::schema::{ITEMS, PARTIAL, PEERS, SYNCSTATE};
const FIXED: [&str; 8] = crate::schema::FAMILIES;

/// An item as the center holds it: the edge's record, who sent it, when verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterItem {
    pub item: Item,
    /// node whose certificate uploaded it first
    pub origin: String,
    pub verified_at: Millis,
    /// every node that offered these bytes (custody)
    pub holders: Vec<String>,
}

/// What the center knows of a peer (for `center edges` and the edge queue view).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    pub node: String,
    pub county: String,
    pub role: String,
    pub first_seen: Millis,
    pub last_contact: Millis,
    pub connected: bool,
    pub sessions: u64,
    pub bytes_received: u64,
    pub items_verified: u64,
    /// bytes per second over the last finished item
    pub recent_rate: f64,
    /// what the edge last said it still had to send
    pub pending_items: u64,
    pub pending_bytes: u64,
    pub last_refusal: Option<String>,
}

/// Outcome of an offer.
#[derive(Debug)]
pub enum OfferOutcome {
    /// the center already holds the item verified
    Verified { at: Millis },
    /// receive the missing chunks into this state
    Receive(Box<Receiver>),
}

pub struct Center {
    pub journal: Journal,
    pub blobs: Blobs,
    pub cfg: CenterConfig,
    /// items being received, one lock each (see [`ItemLocks`])
    pub receiving: ItemLocks,
}

/// One lock per item being received. An item stream holds its item's lock from
/// the offer until what it received is durable and recorded. An edge that is
/// restarted, or reconnects right after a cut, offers the item again before the
/// center has noticed (idle timeout) that the old connection is gone, so before the
/// old stream has recorded its last chunks. Answered from that stale record, the
/// new stream asked for those chunks again, two streams wrote one partial file, and
/// the old stream's late record could overwrite the new one's (or outlive the
/// verified item). Waiting for the lock makes the new offer see everything the old
/// stream kept, at the cost of waiting for the old connection to time out.
#[derive(Debug, Default)]
pub struct ItemLocks(std::sync::Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>);

impl ItemLocks {
    /// Waits for the lock of item `hash`, at most `wait` (then goes on without it:
    /// a stream that takes longer to end is not one a dead connection left behind).
    pub async fn lock(
        &self,
        hash: &[u8; 32],
        wait: std::time::Duration,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // forget the locks nobody holds or waits for
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(*hash).or_default().clone()
        };
        tokio::time::timeout(wait, lock.lock_owned()).await.ok()
    }
}

impl std::fmt::Debug for Center {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Center")
            .field("node", &self.cfg.node)
            .finish()
    }
}

fn open_store(dir: &Path, mode: Mode, create: bool) -> Result<Store> {
    let path = dir.join("db");
    // read-only, a store of an older build lacks the newer families: open what it has
    let on_disk = match mode {
        Mode::ReadOnly => {
            rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap_or_default()
        }
        Mode::ReadWrite => Vec::new(),
    };
    let fixed: Vec<&str> = FIXED
        .iter()
        .copied()
        .filter(|f| mode == Mode::ReadWrite || on_disk.iter().any(|n| n == f))
        .collect();
    Ok(Store::open(&path, mode, create, &fixed, &|_| {
        db::plain_options()
    })?)
}

impl Center {
    /// Opens the center's store, creating it (with the seeded catalogue) on first run.
    pub fn open(cfg: CenterConfig, mode: Mode) -> Result<Center> {
        let fresh = !cfg.data_dir.join("db").join("CURRENT").exists();
        if fresh && mode == Mode::ReadOnly {
            bail!(
                "no center store in {}: start the center once with `center run`",
                cfg.data_dir.display()
            );
        }
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
        let journal = Journal::new(open_store(&cfg.data_dir, mode, fresh)?, &cfg.node)?;
        let blobs = Blobs::open(&cfg.data_dir.join("blobs"))?;
        let center = Center {
            journal,
            blobs,
            cfg,
            receiving: ItemLocks::default(),
        };
        if fresh {
            let mut catalogue = jilu_common::matter::seed_catalogue()?;
            let mut tx = center.journal.begin();
            tx.put_doc(jilu_common::matter::CATALOGUE, &mut catalogue)?;
            crate::projection::on_doc(
                &center,
                &mut tx,
                jilu_common::matter::CATALOGUE,
                &catalogue,
            )?;
            tx.audit(
                "jilu",
                Action::NodeInitialised,
                Subject::Node(center.cfg.node.to_string()),
                json!({"role": "center"}),
                &[],
            )?;
            tx.commit()?;
        }
        Ok(center)
    }

    // ----- documents -----

    /// Heads of every document visible to an edge of `county`.
    pub fn heads_for(&self, county: &str) -> Result<BTreeMap<String, Vec<[u8; 32]>>> {
        let mut out = BTreeMap::new();
        for (k, v) in self.journal.store.scan(db::DOCS)? {
            let name = String::from_utf8_lossy(&k).into_owned();
            if !sync::visible_to(&name, county) {
                continue;
            }
            let mut d = automerge::AutoCommit::load(&v)
                .map_err(|e| anyhow!("document {name} is corrupt: {e}"))?;
            out.insert(name, d.get_heads().into_iter().map(|h| h.0).collect());
        }
        Ok(out)
    }

    /// Names the edge and the center must sync: heads that differ, one side only.
    pub fn differing(&self, peer: &Identity, edge: &[DocHeads]) -> Result<Vec<String>> {
        let visible: Vec<DocHeads> = edge
            .iter()
            .filter(|d| sync::visible_to(&d.name, &peer.county))
            .cloned()
            .collect();
        Ok(sync::differing(&visible, &self.heads_for(&peer.county)?))
    }

    fn state_key(peer: &str, name: &str) -> Vec<u8> {
        format!("{peer}\u{0}{name}").into_bytes()
    }

    /// One step of the Automerge sync protocol for `name` with `peer`: merges what
    /// the peer sent, if the peer may write it, and returns the center's reply.
    pub fn sync_doc(
        &self,
        peer: &Identity,
        name: &str,
        incoming: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        if !sync::visible_to(name, &peer.county) {
            bail!("document {name} is not visible to county {}", peer.county);
        }
        let key = Self::state_key(&peer.node, name);
        let mut state = match self.journal.store.get(SYNCSTATE, &key)? {
            Some(b) => State::decode(&b).unwrap_or_else(|_| State::new()),
            None => State::new(),
        };
        let mut doc = self.journal.load_or_new_doc(name)?;
        let before = doc.get_heads();
        let mut merged = 0usize;
        if let Some(bytes) = incoming {
            let msg = Message::decode(bytes)
                .map_err(|e| anyhow!("malformed sync message for {name}: {e}"))?;
            let mut trial = doc.fork().with_actor(self.journal.actor().clone());
            trial
                .sync()
                .receive_sync_message(&mut state, msg)
                .map_err(|e| anyhow!("sync message for {name} does not apply: {e}"))?;
            let new = trial.get_changes(&before);
            let actors: Vec<automerge::ActorId> =
                new.iter().map(|c| c.actor_id().clone()).collect();
            let node_actor = doc::actor_for(&peer.node);
            if let Err(refusal) =
                sync::check_changes(name, &peer.county, &peer.node, &node_actor, &actors)
            {
                let mut tx = self.journal.begin();
                tx.audit(
                    &peer.node,
                    Action::ChangeRefused,
                    Subject::Doc(name.to_string()),
                    json!({"reason": refusal.to_string(), "changes": actors.len()}),
                    &[],
                )?;
                tx.commit()?;
                return Err(anyhow!(refusal));
            }
            merged = new.len();
            doc = trial;
        }
        let reply = doc
            .sync()
            .generate_sync_message(&mut state)
            .map(|m| m.encode());
        let mut tx = self.journal.begin();
        if merged > 0 {
            tx.put_doc(name, &mut doc)?;
            crate::projection::on_doc(self, &mut tx, name, &doc)?;
            tx.audit(
                &peer.node,
                Action::DocumentMerged,
                Subject::Doc(name.to_string()),
                json!({"changes": merged}),
                &[],
            )?;
        }
        tx.put(SYNCSTATE, &key, &state.encode())?;
        tx.commit()?;
        Ok(reply)
    }

    // ----- items -----

    pub fn item(&self, hash: &[u8; 32]) -> Result<Option<CenterItem>> {
        match self.journal.store.get(ITEMS, hash)? {
            None => Ok(None),
            Some(v) => Ok(Some(
                serde_json::from_slice(&v).context("an item record is unreadable")?,
            )),
        }
    }

    pub fn items(&self) -> Result<Vec<CenterItem>> {
        self.journal
            .store
            .scan(ITEMS)?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).context("an item record is unreadable"))
            .collect()
    }

    /// Checks an offer: consistent, attributable to the sending node, and what is
    /// still missing.
    pub fn offer(&self, peer: &Identity, offer: &Offer) -> Result<OfferOutcome> {
        if offer.item.county != peer.county || offer.item.node != peer.node {
            bail!(
                "item {} is attributed to node {} of county {}, but the sender is {} of county {}",
                offer.item.hash,
                offer.item.node,
                offer.item.county,
                peer.node,
                peer.county
            );
        }
        let receiver =
            Receiver::new(offer, None).map_err(|e| anyhow!("offer of {}: {e}", offer.item.hash))?;
        if let Some(mut known) = self.item(&offer.hash)? {
            if self.blobs.has(&offer.hash) {
                if !known.holders.contains(&peer.node) {
                    known.holders.push(peer.node.clone());
                    let mut tx = self.journal.begin();
                    tx.put(ITEMS, &offer.hash, &serde_json::to_vec(&known)?)?;
                    tx.audit(
                        &peer.node,
                        Action::VerifiedAtCenter,
                        format!("item:{}", offer.item.hash),
                        json!({"also_held_by": peer.node}),
                        &[offer.hash],
                    )?;
                    tx.commit()?;
                }
                return Ok(OfferOutcome::Verified {
                    at: known.verified_at,
                });
            }
        }
        let held = self
            .journal
            .store
            .get(PARTIAL, &offer.hash)?
            .map(|b| decode_bits(&b, receiver.chunks() as usize));
        let receiver =
            Receiver::new(offer, held).map_err(|e| anyhow!("offer of {}: {e}", offer.item.hash))?;
        Ok(OfferOutcome::Receive(Box::new(receiver)))
    }

    /// Records chunks as durable after they were written and fsynced.
    pub fn save_progress(&self, r: &Receiver) -> Result<()> {
        self.blobs.sync(&r.hash)?;
        let mut tx = self.journal.begin();
        tx.put(PARTIAL, &r.hash, &encode_bits(r.held()))?;
        tx.commit()
    }

    /// Every chunk is held: re-hash the whole blob, move it into place and record
    /// the custody event. Only then is the item "verified at center".
    pub fn complete(&self, peer: &Identity, r: &Receiver, offer: &Offer) -> Result<Millis> {
        if let Err(e) = self.blobs.finish(&r.hash, r.size) {
            // the bytes on disk are not the item: forget the progress, start over
            let mut tx = self.journal.begin();
            tx.delete(PARTIAL, &r.hash)?;
            tx.commit()?;
            return Err(e);
        }
        let at = now_ms();
        let record = CenterItem {
            item: offer.item.clone(),
            origin: peer.node.clone(),
            verified_at: at,
            holders: vec![peer.node.clone()],
        };
        let mut tx = self.journal.begin();
        tx.put(ITEMS, &r.hash, &serde_json::to_vec(&record)?)?;
        crate::projection::on_item(self, &mut tx, &record)?;
        tx.delete(PARTIAL, &r.hash)?;
        tx.audit(
            &peer.node,
            Action::VerifiedAtCenter,
            format!("item:{}", offer.item.hash),
            json!({"size": r.size, "chunks": r.chunks(), "from": peer.node}),
            &[r.hash],
        )?;
        tx.commit()?;
        Ok(at)
    }

    // ----- peers -----

    pub fn peer(&self, node: &str) -> Result<Option<PeerRecord>> {
        match self.journal.store.get(PEERS, node.as_bytes())? {
            None => Ok(None),
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
        }
    }

    pub fn peers(&self) -> Result<Vec<PeerRecord>> {
        self.journal
            .store
            .scan(PEERS)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }

    /// Updates a peer's record (connection state, figures).
    pub fn update_peer(&self, peer: &Identity, f: impl FnOnce(&mut PeerRecord)) -> Result<()> {
        let now = now_ms();
        let mut rec = self.peer(&peer.node)?.unwrap_or_else(|| PeerRecord {
            node: peer.node.clone(),
            county: peer.county.clone(),
            role: peer.role.to_string(),
            first_seen: now,
            ..PeerRecord::default()
        });
        rec.last_contact = now;
        f(&mut rec);
        let mut tx = self.journal.begin();
        tx.put(PEERS, peer.node.as_bytes(), &serde_json::to_vec(&rec)?)?;
        tx.commit()
    }

    // ----- decisions taken at the center -----

    pub(crate) fn edit_activity(
        &self,
        actor: &str,
        name: &str,
        action: Action,
        f: impl FnOnce(&mut Activity) -> Result<serde_json::Value>,
    ) -> Result<Activity> {
        let mut d = self
            .journal
            .load_doc(name)?
            .ok_or_else(|| anyhow!("no document {name} at the center (has the edge synced?)"))?;
        let mut a: Activity = doc::get(&d, &["activity"])?
            .ok_or_else(|| anyhow!("document {name} holds no activity"))?;
        let detail = f(&mut a)?;
        doc::put(&mut d, &["activity"], &a)?;
        let mut tx = self.journal.begin();
        tx.put_doc(name, &mut d)?;
        crate::projection::on_doc(self, &mut tx, name, &d)?;
        tx.audit(actor, action, Subject::Doc(name.to_string()), detail, &[])?;
        tx.commit()?;
        Ok(a)
    }

    /// The unit head's decision on an interruption record (art. 12).
    pub fn decide_interruption(
        &self,
        actor: &str,
        county: &str,
        activity: &str,
        interruption: &str,
        approve: bool,
        note: Option<String>,
    ) -> Result<Activity> {
        let name = format!("activity/{county}/{activity}");
        self.edit_activity(actor, &name, Action::InterruptionDecided, |a| {
            let rec = a
                .interruptions
                .iter_mut()
                .find(|i| i.id == interruption)
                .ok_or_else(|| anyhow!("activity {activity} has no interruption {interruption}"))?;
            rec.approval.state = if approve {
                ApprovalState::Approved
            } else {
                ApprovalState::Rejected
            };
            rec.approval.by = Some(actor.to_string());
            rec.approval.at = Some(now_ms());
            rec.approval.note = note;
            Ok(json!({"interruption": interruption, "approved": approve}))
        })
    }

    /// A hold for long-term preservation (art. 16).
    pub fn set_hold(
        &self,
        actor: &str,
        county: &str,
        activity: &str,
        reason: &str,
    ) -> Result<Activity> {
        let name = format!("activity/{county}/{activity}");
        self.edit_activity(actor, &name, Action::HoldSet, |a| {
            a.hold = Some(Hold {
                reason: reason.to_string(),
                by: actor.to_string(),
                at: now_ms(),
            });
            Ok(json!({"reason": reason}))
        })
    }

    /// Every activity document at the center (all counties).
    pub fn activities(&self) -> Result<Vec<Activity>> {
        let mut out = Vec::new();
        for name in self.journal.doc_names("activity/")? {
            if let Some(d) = self.journal.load_doc(&name)? {
                if let Some(a) = doc::get::<Activity>(&d, &["activity"])? {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }
}
