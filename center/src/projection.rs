//! Keeps the projections of [`crate::index`] up to date: every merge of an
//! activity document, every item verified and every decision at the center adds
//! the rows it changes to its own write batch. Findings are those of `edge-node
//! status`, from the same rules in [`jilu_common::compliance`], computed per
//! activity, so a merge costs the activity's items, not the county's; with them
//! the interruption records waiting for approval (per activity) and the
//! overridden pre-use checks (per ledger document).
//!
//! What a projection holds depends on the documents and items only, never on
//! the clock or the order things arrived in, so [`rebuild`] (`center reindex`)
//! gives the same bytes as the incremental updates. The one time-dependent
//! finding, "hand-over overdue", is read at query time from the deadline rows.

use std::collections::BTreeMap;

use anyhow::Result;
use automerge::AutoCommit;
use jilu_common::access::{Class, ItemClass};
use jilu_common::activity::{Activity, ApprovalState};
use jilu_common::compliance::{self, Finding, Rules};
use jilu_common::hash::Hash;
use jilu_common::item::Item;
use jilu_common::ledger::CheckOut;
use jilu_common::matter::{Matter, CATALOGUE};
use jilu_common::retention_policy::Policy;
use jilu_common::{doc, sync};
use jilu_store::journal::Tx;

use crate::center::{Center, CenterItem};
use crate::index::keys::{self, Key};
use crate::index::overlay::Overlay;
use crate::index::{ActivityRow, DeviceRow, FindingRow, ItemRow, ItemState};
use crate::schema::INDEX;

/// The (county, id) of an activity document name.
pub fn activity_of(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("activity/")?;
    rest.split_once('/')
}

/// The (county, month) of a ledger document name.
pub fn ledger_of(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix("ledger/")?.split_once('/')
}

/// Owner of the findings of a ledger document (overridden pre-use checks):
/// `ledger:YYYY-MM`.
pub const LEDGER_OWNER: &str = "ledger:";

fn matters(ov: &Overlay<'_>, center: Option<&Center>) -> Result<Vec<Matter>> {
    if let Some(v) = ov.get(keys::MATTERS)? {
        return Ok(serde_json::from_slice(&v)?);
    }
    match center.and_then(|c| c.journal.load_doc(CATALOGUE).transpose()) {
        Some(d) => Ok(doc::get_all::<Matter>(&d?, &["matters"])?
            .into_iter()
            .map(|(_, m)| m)
            .collect()),
        None => Ok(Vec::new()),
    }
}

fn put_matters(ov: &mut Overlay<'_>, d: &AutoCommit) -> Result<()> {
    let rows: Vec<Matter> = doc::get_all::<Matter>(d, &["matters"])?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    ov.put(keys::MATTERS.to_vec(), serde_json::to_vec(&rows)?);
    Ok(())
}

/// Called in a merge's change: `name` now reads as `d`.
pub fn on_doc(center: &Center, tx: &mut Tx<'_>, name: &str, d: &AutoCommit) -> Result<()> {
    let mut ov = Overlay::over(&center.journal.store);
    apply_doc(&mut ov, Some(center), name, d)?;
    ov.flush(tx)
}

/// Called in the change that records an item verified.
pub fn on_item(center: &Center, tx: &mut Tx<'_>, item: &CenterItem) -> Result<()> {
    let mut ov = Overlay::over(&center.journal.store);
    apply_item(&mut ov, Some(center), &item.item)?;
    ov.flush(tx)
}

fn apply_doc(
    ov: &mut Overlay<'_>,
    center: Option<&Center>,
    name: &str,
    d: &AutoCommit,
) -> Result<()> {
    if name == CATALOGUE {
        return put_matters(ov, d);
    }
    if let Some(county) = name.strip_prefix("registry/") {
        crate::equipment::put_registry(ov, county, d)?;
        return put_item_classes(ov, county, d);
    }
    if let Some((county, month)) = ledger_of(name) {
        let checkouts: Vec<CheckOut> = doc::get_all::<CheckOut>(d, &["checkouts"])?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        crate::equipment::put_ledger(ov, county, month, &checkouts)?;
        let owner = format!("{LEDGER_OWNER}{month}");
        return put_findings(
            ov,
            county,
            &owner,
            compliance::overridden_checks(&checkouts),
        );
    }
    let Some((county, id)) = activity_of(name) else {
        return Ok(());
    };
    let Some(a) = doc::get::<Activity>(d, &["activity"])? else {
        return Ok(());
    };
    put_activity(ov, center, county, id, a)
}

/// `ik` county hash → the item's own class, from the county's registry document.
fn put_item_classes(ov: &mut Overlay<'_>, county: &str, d: &AutoCommit) -> Result<()> {
    let prefix = Key::new("ik").text(county).done();
    for k in ov.keys(&prefix)? {
        ov.delete(k);
    }
    for (hex, c) in doc::get_all::<ItemClass>(d, &["item_classes"])? {
        let Ok(hash) = hex.parse::<Hash>().map(<[u8; 32]>::from) else {
            continue;
        };
        let class = Class::of_doc(Some(&c.class));
        if class > Class::Ordinary {
            ov.put(
                keys::item_class(county, &hash),
                class.as_str().as_bytes().to_vec(),
            );
        }
    }
    Ok(())
}

fn put_activity(
    ov: &mut Overlay<'_>,
    center: Option<&Center>,
    county: &str,
    id: &str,
    a: Activity,
) -> Result<()> {
    let old: Option<ActivityRow> = ov.get_record(&keys::activity_row(county, id))?;
    if let Some(o) = &old {
        drop_activity_keys(ov, o);
    }
    let rules = Rules::default();
    let linked = linked_items(ov, county, id)?;
    let deadline = a.departure.map(|d| d + rules.handover_hours * 3_600_000);
    let row = ActivityRow {
        county: county.to_string(),
        class: Class::of_doc(a.classification.as_deref()),
        deadline,
        items: linked.len() as u64,
        pending: a
            .interruptions
            .iter()
            .filter(|i| i.approval.state == ApprovalState::Pending)
            .count() as u64,
        activity: a,
    };
    let a = &row.activity;
    ov.mark(
        Key::new("ac")
            .text(county)
            .time(a.arrival)
            .text(county)
            .text(id)
            .done(),
    );
    for o in &a.officers {
        ov.mark(
            Key::new("ao")
                .text(o)
                .time(a.arrival)
                .text(county)
                .text(id)
                .done(),
        );
    }
    if row.pending > 0 {
        ov.mark(Key::new("ap").text(county).text(id).done());
    }
    if a.hold.is_some() {
        ov.mark(Key::new("ah").text(county).text(id).done());
    }
    if let (Some(dl), true) = (deadline, linked.is_empty()) {
        ov.mark(
            Key::new("ad")
                .text(county)
                .time(dl)
                .text(county)
                .text(id)
                .done(),
        );
    }
    let state = if a.hold.is_some() {
        ItemState::Held
    } else {
        ItemState::Verified
    };
    let old_activity = old.as_ref().map(|o| &o.activity);
    for r in &linked {
        let hash = *r.item.hash.as_bytes();
        if r.state == ItemState::Verified {
            ov.delete(expiry_key(center, &r.item, &hash, old_activity));
        }
        if state == ItemState::Verified {
            ov.mark(expiry_key(center, &r.item, &hash, Some(a)));
        }
        if r.state != state {
            set_state(ov, &r.item, r.state, state)?;
        }
    }
    let items: Vec<Item> = linked.into_iter().map(|r| r.item).collect();
    let mut found = compliance::check(
        std::slice::from_ref(a),
        &items,
        &matters(ov, center)?,
        &rules,
        i64::MAX,
    );
    found.extend(compliance::pending_approvals(a));
    put_findings(ov, county, id, found)?;
    ov.put_record(keys::activity_row(county, id), &row);
    Ok(())
}

fn drop_activity_keys(ov: &mut Overlay<'_>, o: &ActivityRow) {
    let (county, id, a) = (&o.county, &o.activity.id, &o.activity);
    ov.delete(
        Key::new("ac")
            .text(county)
            .time(a.arrival)
            .text(county)
            .text(id)
            .done(),
    );
    for off in &a.officers {
        ov.delete(
            Key::new("ao")
                .text(off)
                .time(a.arrival)
                .text(county)
                .text(id)
                .done(),
        );
    }
    ov.delete(Key::new("ap").text(county).text(id).done());
    ov.delete(Key::new("ah").text(county).text(id).done());
    if let Some(dl) = o.deadline {
        ov.delete(
            Key::new("ad")
                .text(county)
                .time(dl)
                .text(county)
                .text(id)
                .done(),
        );
    }
}

fn put_findings(
    ov: &mut Overlay<'_>,
    county: &str,
    owner: &str,
    found: Vec<Finding>,
) -> Result<()> {
    let prefix = keys::findings_of(county, owner);
    for k in ov.keys(&prefix)? {
        ov.delete(k);
    }
    // "overdue" depends on the clock: queries add it from the deadline rows
    let kept = found
        .into_iter()
        .filter(|f| !matches!(f, Finding::HandoverOverdue { .. }));
    for (n, f) in kept.enumerate() {
        let mut k = prefix.clone();
        k.extend_from_slice(&(n as u32).to_be_bytes());
        ov.put_record(
            k,
            &FindingRow {
                county: county.to_string(),
                owner: owner.to_string(),
                article: f.article().to_string(),
                finding: f,
            },
        );
    }
    Ok(())
}

fn linked_items(ov: &Overlay<'_>, county: &str, id: &str) -> Result<Vec<ItemRow>> {
    let mut out = Vec::new();
    for k in ov.keys(&Key::new("ia").text(county).text(id).done())? {
        if let Some(h) = keys::trailing_hash(&k) {
            if let Some(r) = ov.get_record::<ItemRow>(&keys::item_row(&h))? {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// `ie` time(expiry) hash: an item under its matter's retention, by when it may
/// be cleared ([`jilu_common::retention_policy`], `[retention]` in center.toml);
/// held items have none. `activity` is the item's activity as projected.
fn expiry_key(
    center: Option<&Center>,
    item: &Item,
    hash: &[u8; 32],
    activity: Option<&Activity>,
) -> Vec<u8> {
    Key::new("ie")
        .time(item_expiry(center, item, activity))
        .bytes(hash)
        .done()
}

/// When `item` may be cleared under the center's retention policy (the
/// regulation's default without a center, as in unit tests).
pub fn item_expiry(center: Option<&Center>, item: &Item, activity: Option<&Activity>) -> i64 {
    let default = Policy::default();
    let policy = center.map_or(&default, |c| &c.cfg.retention);
    policy.expires_at(item, activity.map(|a| (a.matter.as_str(), a.departure)))
}

fn state_key(state: ItemState, item: &Item, hash: &[u8; 32]) -> Vec<u8> {
    Key::new("ib")
        .text(state.as_str())
        .time(item.capture_start)
        .bytes(hash)
        .done()
}

fn set_state(ov: &mut Overlay<'_>, item: &Item, from: ItemState, to: ItemState) -> Result<()> {
    let hash = *item.hash.as_bytes();
    ov.delete(state_key(from, item, &hash));
    ov.mark(state_key(to, item, &hash));
    ov.put_record(
        keys::item_row(&hash),
        &ItemRow {
            item: item.clone(),
            state: to,
        },
    );
    Ok(())
}

fn apply_item(ov: &mut Overlay<'_>, center: Option<&Center>, item: &Item) -> Result<()> {
    let hash = *item.hash.as_bytes();
    if ov.get(&keys::item_row(&hash))?.is_some() {
        return Ok(()); // items never change; another holder changes no projection
    }
    let county = item.county.as_str();
    let activity: Option<ActivityRow> = match &item.activity {
        Some(a) => ov.get_record(&keys::activity_row(county, a))?,
        None => None,
    };
    let state = match &activity {
        Some(a) if a.activity.hold.is_some() => ItemState::Held,
        _ => ItemState::Verified,
    };
    ov.put_record(
        keys::item_row(&hash),
        &ItemRow {
            item: item.clone(),
            state,
        },
    );
    let t = item.capture_start;
    ov.mark(Key::new("ic").text(county).time(t).bytes(&hash).done());
    ov.mark(
        Key::new("io")
            .text(&item.officer)
            .time(t)
            .bytes(&hash)
            .done(),
    );
    ov.mark(
        Key::new("iv")
            .text(&item.device)
            .time(t)
            .bytes(&hash)
            .done(),
    );
    ov.mark(Key::new("it").time(t).bytes(&hash).done());
    ov.mark(state_key(state, item, &hash));
    if state == ItemState::Verified {
        let a = activity.as_ref().map(|a| &a.activity);
        ov.mark(expiry_key(center, item, &hash, a));
    }
    let dk = keys::device_row(county, &item.device);
    let mut dev = ov.get_record::<DeviceRow>(&dk)?.unwrap_or(DeviceRow {
        county: county.to_string(),
        device: item.device.clone(),
        items: 0,
        last_capture: t,
        registered: None,
    });
    dev.last_capture = if dev.items == 0 {
        t
    } else {
        dev.last_capture.max(t)
    };
    dev.items += 1;
    ov.put_record(dk, &dev);
    match &item.activity {
        Some(id) => {
            ov.mark(Key::new("ia").text(county).text(id).bytes(&hash).done());
            if let Some(row) = activity {
                put_activity(ov, center, county, id, row.activity)?;
            }
        }
        None => {
            let found = compliance::check(
                &[],
                std::slice::from_ref(item),
                &[],
                &Rules::default(),
                i64::MAX,
            );
            put_findings(ov, county, &format!("item:{}", item.hash), found)?;
        }
    }
    Ok(())
}

/// Whether the stored projections were built under this center's retention
/// policy (expiry keys depend on it); `center run` rebuilds them when not.
pub fn built_under_current_policy(center: &Center) -> Result<bool> {
    let stored = center.journal.store.get(INDEX, keys::RETENTION)?;
    Ok(stored.as_deref() == Some(center.cfg.retention.fingerprint().as_bytes()))
}

/// The whole index, built from the documents and items alone (and the
/// fingerprint of the retention policy it was built under).
pub fn rebuild(center: &Center) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut ov = Overlay::empty();
    if let Some(d) = center.journal.load_doc(CATALOGUE)? {
        put_matters(&mut ov, &d)?;
    }
    for kind in ["activity/", "ledger/", "registry/"] {
        for name in center.journal.doc_names(kind)? {
            if sync::owner(&name).is_none() {
                continue;
            }
            if let Some(d) = center.journal.load_doc(&name)? {
                apply_doc(&mut ov, Some(center), &name, &d)?;
            }
        }
    }
    for item in center.items()? {
        apply_item(&mut ov, Some(center), &item.item)?;
    }
    ov.put(
        keys::RETENTION.to_vec(),
        center.cfg.retention.fingerprint().into_bytes(),
    );
    Ok(ov.into_entries())
}

/// The index as stored.
pub fn stored(center: &Center) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    Ok(center.journal.store.scan(INDEX)?.into_iter().collect())
}

/// Replaces the stored index with `fresh`; returns the number of entries.
pub fn replace(center: &Center, fresh: BTreeMap<Vec<u8>, Vec<u8>>) -> Result<usize> {
    let n = fresh.len();
    let old = stored(center)?;
    let mut tx = center.journal.begin();
    for k in old.keys().filter(|k| !fresh.contains_key(*k)) {
        tx.delete(INDEX, k)?;
    }
    for (k, v) in &fresh {
        tx.put(INDEX, k, v)?;
    }
    tx.audit(
        "jilu",
        jilu_common::audit::Action::Reindexed,
        jilu_common::subject::Subject::Node(center.cfg.node.clone()),
        serde_json::json!({"reindexed": n}),
        &[],
    )?;
    tx.commit()?;
    Ok(n)
}
