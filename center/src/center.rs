//! The center's state and every decision it takes on what peers send: which
//! documents differ, whether a peer's changes may be merged, whether an offered item
//! is consistent and attributable, and when an item is verified. Async sessions
//! ([`crate::session`]) only move frames; they call these (off the reactor).

use jilu_common::subject::Subject;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use automerge::sync::{Message, State, SyncDoc};
use jilu_certs::identity::Identity;
use jilu_common::activity::{Activity, ApprovalState, Hold};
use jilu_common::audit::Action;
use jilu_common::doc_name::DocName;
use jilu_common::doc_summary::{self, Answer};
use jilu_common::log_escape::escape;
use jilu_common::time::Millis;
use jilu_common::transfer::{decode_bits, encode_bits, Receiver};
use jilu_common::wire::{HeadsPage, Offer};
use jilu_common::{doc, sync};
use jilu_store::db::{self, Mode, Store};
use jilu_store::heads;
use jilu_store::journal::{now_ms, Journal};
use serde_json::json;

use crate::blobs::Blobs;
use crate::config::CenterConfig;

use crate::schema::{partial_key, Partial, FIXED};
pub use crate::schema::{CenterItem, PeerRecord, ITEMS, PARTIAL, PEERS, SYNCSTATE};

/// Outcome of an offer.
#[derive(Debug)]
pub enum OfferOutcome {
    /// the center already holds the item verified, and the sender is a holder
    Verified { at: Millis },
    /// the center holds the item, the sender is not a holder yet: challenge it
    /// ([`jilu_common::holder`])
    Prove { nonce: [u8; 32], chunks: Vec<u64> },
    /// receive the missing chunks into this state
    Receive(Box<Receiver>),
}

pub struct Center {
    pub journal: Journal,
    pub blobs: Blobs,
    pub cfg: CenterConfig,
    /// items being received, one lock per item and node (see [`ItemLocks`])
    pub receiving: ItemLocks,
    /// per-peer quotas in use (offers in flight, documents)
    pub usage: crate::quota::Usage,
    /// rate-limited refusal logging per peer
    pub refusals: crate::refusals::RefusalLog,
    /// connections audited per peer and minute
    pub connections: crate::conn_audit::ConnAudit,
}

/// One lock per item and sending node. An item stream holds its item's lock from
/// the offer until what it received is durable and recorded. An edge that is
/// restarted, or reconnects right after a cut, offers the item again before the
/// center has noticed (idle timeout) that the old connection is gone, so before the
/// old stream has recorded its last chunks. Answered from that stale record, the
/// new stream asked for those chunks again, two streams wrote one partial file, and
/// the old stream's late record could overwrite the new one's (or outlive the
/// verified item). Waiting for the lock makes the new offer see everything the old
/// stream kept, at the cost of waiting for the old connection to time out (or for
/// its stream timeout, `limits.stream_timeout_ms`).
///
/// The lock is per node, as are partial uploads: a node of another county that
/// offers the same hash never waits behind (or holds up) the owner's upload.
#[derive(Debug, Default)]
pub struct ItemLocks(std::sync::Mutex<HashMap<LockKey, Arc<tokio::sync::Mutex<()>>>>);

/// An item's root hash and the node sending it.
type LockKey = ([u8; 32], String);

/// Activities that read, and (name, why) of each document that does not.
pub type CheckedActivities = (Vec<Activity>, Vec<(String, String)>);

impl ItemLocks {
    /// Waits for the lock of item `hash`, at most `wait` (then goes on without it:
    /// a stream that takes longer to end is not one a dead connection left behind).
    pub async fn lock(
        &self,
        hash: &[u8; 32],
        node: &str,
        wait: std::time::Duration,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // forget the locks nobody holds or waits for
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry((*hash, node.to_string())).or_default().clone()
        };
        tokio::time::timeout(wait, lock.lock_owned()).await.ok()
    }

    /// Whether a stream holds (or waits for) the lock of `hash` from `node`.
    pub fn busy(&self, hash: &[u8; 32], node: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(*hash, node.to_string()))
            .is_some_and(|l| Arc::strong_count(l) > 1)
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
    // read-only, a store of an older build lacks the newer families: Store opens
    // what it has
    let store = Store::open(&dir.join("db"), mode, create, &FIXED, &|_| {
        db::plain_options()
    })?;
    store.check_layout(crate::schema::LAYOUT, &crate::schema::migrate)?;
    Ok(store)
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
            usage: Default::default(),
            refusals: Default::default(),
            connections: Default::default(),
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

    /// The summary of the documents an edge of `peer`'s county sees, from the
    /// heads index ([`jilu_store::heads`]): `None` when its root is `root` (the
    /// edge's), else the bucket digests.
    pub fn summary_for(&self, peer: &Identity, root: &[u8; 32]) -> Result<Option<Vec<[u8; 32]>>> {
        let mine = heads::visible_summary(&self.journal.store, &peer.county)?;
        Ok((&mine.root() != root).then_some(mine.buckets))
    }

    /// Answers one page of the heads exchange ([`jilu_common::doc_summary`]): the
    /// documents that differ in it, and how far it was compared. A page that
    /// breaks the rules is refused with the reason.
    pub fn answer_page(&self, peer: &Identity, page: &HeadsPage) -> Result<Answer> {
        doc_summary::check_page(page).map_err(|e| anyhow!("a heads page is refused: {e}"))?;
        let mine = heads::docs_after(
            &self.journal.store,
            &peer.county,
            &page.buckets,
            page.after.as_deref(),
            doc_summary::MAX_PAGE_DOCS + page.docs.len(),
        )?;
        Ok(doc_summary::answer(page, &mine, &peer.county))
    }

    /// One step of the Automerge sync protocol for `name` with `peer`: merges what
    /// the peer sent, if the peer may write it and the result still decodes as its
    /// kind ([`jilu_common::doc_check`]), and returns the center's reply. A name
    /// outside the grammar is refused; sync state is kept only for documents that
    /// exist, and a county creates documents only within its quota.
    pub fn sync_doc(
        &self,
        peer: &Identity,
        name: &str,
        incoming: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        let name =
            DocName::parse(name).map_err(|e| anyhow!("'{}' is refused: {e}", escape(name)))?;
        if !sync::visible_to(name.as_str(), &peer.county) {
            bail!("document {name} is not visible to county {}", peer.county);
        }
        let key = crate::schema::sync_state_key(&peer.node, name.as_str());
        let mut state = match self.journal.store.get(SYNCSTATE, &key)? {
            Some(b) => State::decode(&b).unwrap_or_else(|_| State::new()),
            None => State::new(),
        };
        let existing = self.journal.load_doc(name.as_str())?;
        let exists = existing.is_some();
        let mut doc = match existing {
            Some(d) => d,
            None => self.journal.load_or_new_doc(name.as_str())?,
        };
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
            let checked = sync::check_changes(
                name.as_str(),
                &peer.county,
                &peer.node,
                &node_actor,
                &actors,
            )
            .map_err(|r| r.to_string())
            .and_then(|()| {
                if new.is_empty() {
                    Ok(())
                } else {
                    jilu_common::doc_check::check(&name, &trial).map_err(|e| e.to_string())
                }
            })
            .and_then(|()| {
                if exists || new.is_empty() {
                    Ok(())
                } else {
                    crate::quota::check_new_document(self, peer).map_err(|e| format!("{e:#}"))
                }
            });
            if let Err(refusal) = checked {
                let mut tx = self.journal.begin();
                tx.audit(
                    &peer.node,
                    Action::ChangeRefused,
                    Subject::Doc(name.to_string()),
                    json!({"reason": refusal, "changes": actors.len()}),
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
        // a name the center holds no document under gets no sync state: asking for
        // names is not a way to make the center store anything (nor, for a
        // document still to come, a synced commit of nothing)
        if !exists && merged == 0 {
            return Ok(reply);
        }
        let mut tx = self.journal.begin();
        if merged > 0 {
            tx.put_doc(name.as_str(), &mut doc)?;
            crate::projection::on_doc(self, &mut tx, name.as_str(), &doc)?;
            tx.audit(
                &peer.node,
                Action::DocumentMerged,
                Subject::Doc(name.to_string()),
                json!({"changes": merged}),
                &[],
            )?;
            if !exists {
                self.usage.document_created(&peer.county);
            }
        }
        if incoming.is_some() {
            let theirs = state.their_heads.clone().unwrap_or_default();
            crate::delivery::on_sync(
                self,
                &mut tx,
                &peer.node,
                (name.as_str(), &mut doc),
                &theirs,
            )?;
        }
        tx.put(SYNCSTATE, &key, &state.encode())?;
        tx.commit()?;
        Ok(reply)
    }

    // ----- items -----

    pub fn item(&self, hash: &[u8; 32]) -> Result<Option<CenterItem>> {
        Ok(self.journal.store.get_record(ITEMS, hash)?)
    }

    pub fn items(&self) -> Result<Vec<CenterItem>> {
        Ok(self
            .journal
            .store
            .scan_records::<CenterItem>(ITEMS, &[])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Checks an offer: consistent, attributable to the sending node, within the
    /// node's quotas, and what is still missing (or, for an item the center holds,
    /// whether the sender must prove possession first).
    pub fn offer(&self, peer: &Identity, offer: &Offer) -> Result<OfferOutcome> {
        if offer.item.county != peer.county || offer.item.node != peer.node {
            bail!(
                "an item is attributed to node '{}' of county '{}', but the sender is {} of county {}",
                escape(&offer.item.node),
                escape(&offer.item.county),
                peer.node,
                peer.county
            );
        }
        let hex = blake3::Hash::from_bytes(offer.hash).to_hex();
        let receiver = Receiver::new(offer, None).map_err(|e| anyhow!("offer of {hex}: {e}"))?;
        if let Some(known) = self.item(&offer.hash)? {
            if self.blobs.has(&offer.hash) {
                if known.item.size != offer.size {
                    bail!(
                        "offer of {hex}: {} bytes offered, but the verified item has {}",
                        offer.size,
                        known.item.size
                    );
                }
                if known.holders.contains(&peer.node) {
                    return Ok(OfferOutcome::Verified {
                        at: known.verified_at,
                    });
                }
                let (nonce, chunks) = crate::holder::challenge(receiver.chunks())?;
                return Ok(OfferOutcome::Prove { nonce, chunks });
            }
        }
        let key = partial_key(&offer.hash, &peer.node);
        let held = match self.journal.store.get_record::<Partial>(PARTIAL, &key) {
            Ok(Some(p)) if p.size == offer.size => {
                Some(decode_bits(&p.bits, receiver.chunks() as usize))
            }
            _ => None,
        };
        if held.is_none() {
            crate::quota::check_partial_bytes(self, peer, offer.size)?;
        }
        let receiver = Receiver::new(offer, held).map_err(|e| anyhow!("offer of {hex}: {e}"))?;
        Ok(OfferOutcome::Receive(Box::new(receiver)))
    }

    /// Records chunks as durable after they were written and fsynced.
    pub fn save_progress(&self, node: &str, r: &Receiver) -> Result<()> {
        self.blobs.sync(&r.hash, node)?;
        let mut tx = self.journal.begin();
        tx.put_record(
            PARTIAL,
            &partial_key(&r.hash, node),
            &Partial {
                node: node.to_string(),
                size: r.size,
                bits: encode_bits(r.held()),
                updated_at: now_ms(),
            },
        )?;
        tx.commit()
    }

    /// Every chunk is held: re-hash the whole blob, move it into place and record
    /// the custody event. Only then is the item "verified at center". If another
    /// node completed the same bytes first, this node becomes one of its holders
    /// (it sent every byte).
    pub fn complete(&self, peer: &Identity, r: &Receiver, offer: &Offer) -> Result<Millis> {
        let key = partial_key(&r.hash, &peer.node);
        if let Err(e) = self.blobs.finish(&r.hash, &peer.node, r.size) {
            // the bytes on disk are not the item: forget the progress, start over
            let mut tx = self.journal.begin();
            tx.delete(PARTIAL, &key)?;
            tx.commit()?;
            return Err(e);
        }
        let mut tx = self.journal.begin();
        // the record as it now stands, and the custody entry it earns (none when this
        // node already held the item)
        let (record, custody) = match self.item(&r.hash)? {
            Some(known) if known.holders.contains(&peer.node) => (known, None),
            Some(mut known) => {
                known.holders.push(peer.node.clone());
                let detail = json!({"also_held_by": peer.node, "proof": "upload", "size": r.size});
                (known, Some(detail))
            }
            None => {
                let record = CenterItem {
                    item: offer.item.clone(),
                    origin: peer.node.clone(),
                    verified_at: now_ms(),
                    holders: vec![peer.node.clone()],
                };
                let detail = json!({"size": r.size, "chunks": r.chunks(), "from": peer.node});
                (record, Some(detail))
            }
        };
        if let Some(detail) = custody {
            tx.put_record(ITEMS, &r.hash, &record)?;
            crate::projection::on_item(self, &mut tx, &record)?;
            tx.audit(
                &peer.node,
                Action::VerifiedAtCenter,
                Subject::Item(r.hash.into()),
                detail,
                &[r.hash],
            )?;
        }
        tx.delete(PARTIAL, &key)?;
        tx.commit()?;
        Ok(record.verified_at)
    }

    // ----- peers -----

    pub fn peer(&self, node: &str) -> Result<Option<PeerRecord>> {
        Ok(self.journal.store.get_record(PEERS, node.as_bytes())?)
    }

    pub fn peers(&self) -> Result<Vec<PeerRecord>> {
        Ok(self
            .journal
            .store
            .scan_records::<PeerRecord>(PEERS, &[])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
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
        tx.put_record(PEERS, peer.node.as_bytes(), &rec)?;
        tx.commit()
    }

    // ----- decisions taken at the center -----

    /// Reads an activity's document, changes the activity with `f`, and writes
    /// it back with its projections and an audit entry `action` in one batch.
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
        crate::delivery::record(self, &mut tx, (name, ""), action, actor, &mut d)?;
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
        let name = activity_name(county, activity)?;
        self.edit_activity(actor, name.as_str(), Action::InterruptionDecided, |a| {
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
        let name = activity_name(county, activity)?;
        self.edit_activity(actor, name.as_str(), Action::HoldSet, |a| {
            a.hold = Some(Hold {
                reason: reason.to_string(),
                by: actor.to_string(),
                at: now_ms(),
            });
            Ok(json!({"reason": reason}))
        })
    }

    /// Every activity document at the center (all counties) that reads as one;
    /// see [`Center::activities_checked`] for the ones that do not.
    pub fn activities(&self) -> Result<Vec<Activity>> {
        Ok(self.activities_checked()?.0)
    }

    /// Every activity document at the center, and, apart, each one that does not
    /// read as an activity (name and why): one bad document is reported, the rest
    /// is still listed.
    pub fn activities_checked(&self) -> Result<CheckedActivities> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for name in self.journal.doc_names("activity/")? {
            let read = self.journal.load_doc(&name).and_then(|d| match d {
                Some(d) => Ok(doc::get::<Activity>(&d, &["activity"])?),
                None => Ok(None),
            });
            match read {
                Ok(Some(a)) => out.push(a),
                Ok(None) => bad.push((escape(&name), "holds no activity".to_string())),
                Err(e) => bad.push((escape(&name), format!("{e:#}"))),
            }
        }
        Ok((out, bad))
    }
}

/// The document of activity `id` of `county`, or an error naming both when
/// either breaks the id rule.
pub(crate) fn activity_name(county: &str, id: &str) -> Result<DocName> {
    DocName::activity(county, id).map_err(|e| anyhow!("activity {county}/{id}: {e}"))
}
