//! The Automerge fixture: the documents an edge keeps (an activity with its notice,
//! annotations, interruption record, items and the bureau's decisions; a ledger
//! month; the county registry; the seeded annex catalogue), the edge's stored sync
//! state with the center, and one sync message, all built through Jilu's own
//! mapping (`doc::put`, `doc::seeded`) with the node actors and the `commit()` the
//! store uses, so one Automerge release always writes the same bytes.
//!
//! What a release wrote is kept under `tests/fixtures/automerge-<release>/` (see its
//! README) and read back by the release Jilu builds with now
//! (`tests/tests/automerge_fixture.rs`): stored documents must stay readable across
//! upgrades, and their heads must not move.

use std::path::Path;

use jilu_common::activity::{
    Activity, Annotation, AnnotationKind, Approval, ApprovalState, Hold, Interruption,
    InterruptionReason, Notice,
};
use jilu_common::automerge::sync::{Message, State, SyncDoc};
use jilu_common::automerge::{AutoCommit, ChangeHash};
use jilu_common::doc;
use jilu_common::ledger::{CheckOut, PreUseCheck};
use jilu_common::matter;
use jilu_common::registry::{Device, DeviceKind, DeviceStatus, Officer};
use jilu_common::time::Millis;
use serde_json::{json, Value};

pub const COUNTY: &str = "410422";
pub const EDGE_NODE: &str = "edge-410422";
pub const CENTER_NODE: &str = "center-city";
/// 2026-11-28T09:00:00+08:00
pub const T0: Millis = 1_795_827_600_000;
const MIN: Millis = 60_000;

/// The fixture's documents, by file stem.
pub const DOCS: [&str; 4] = ["activity", "ledger", "registry", "catalogue"];

/// One stored document of the fixture.
pub struct FixtureDoc {
    /// file stem under the fixture directory (`<file>.automerge`, `<file>.json`)
    pub file: &'static str,
    /// the document's name in the store
    pub name: String,
    pub doc: AutoCommit,
}

/// Everything the fixture holds, as built by the running Automerge release.
pub struct Fixture {
    pub docs: Vec<FixtureDoc>,
    /// the edge's sync state with the center for the activity, as the uplink stores it
    /// (`State::encode`) once both sides hold the same changes
    pub sync_state: Vec<u8>,
    /// the edge's message that carries its next edit of the activity (a third
    /// annotation) to the center, in the session that follows
    pub sync_message: Vec<u8>,
    /// the edited activity on the edge: what the center holds once it applied the message
    pub edited: AutoCommit,
}

/// A typical activity as the edge's CLI builds it: two officers, the notice, two
/// annotations, a pending interruption record, two items.
pub fn activity() -> Activity {
    Activity {
        id: "A-410422-1".into(),
        matter: "1".into(),
        place: "叶县某食品有限公司".into(),
        officers: vec!["41042201".into(), "41042202".into()],
        arrival: T0 + 5 * MIN,
        departure: None,
        remote: false,
        notice: Some(Notice {
            at: T0 + 6 * MIN,
            by: "41042201".into(),
            words: "现在对执法过程进行全程音像记录".into(),
        }),
        annotations: vec![
            Annotation {
                kind: AnnotationKind::Scene,
                text: "仓库门口，当事人在场".into(),
                item: None,
                at: Some(T0 + 7 * MIN),
                by: "41042201".into(),
            },
            Annotation {
                kind: AnnotationKind::Evidence,
                text: "过期原料三箱".into(),
                item: Some(hash_of(b"item-1")),
                at: Some(T0 + 21 * MIN),
                by: "41042202".into(),
            },
        ],
        interruptions: vec![Interruption {
            id: "I1".into(),
            reason: InterruptionReason::Battery,
            basis: "电量不足，更换电池".into(),
            from: T0 + 30 * MIN,
            to: T0 + 34 * MIN,
            written_at: T0 + 40 * MIN,
            written_by: "41042201".into(),
            approval: Approval {
                state: ApprovalState::Pending,
                by: None,
                at: None,
                note: None,
            },
        }],
        items: vec![hash_of(b"item-1"), hash_of(b"item-2")],
        hold: None,
        classification: None,
    }
}

fn hash_of(seed: &[u8]) -> jilu_common::hash::Hash {
    jilu_common::hash::Hash::of(seed)
}

fn device(id: &str, kind: DeviceKind, serial: &str) -> Device {
    Device {
        id: id.into(),
        kind,
        serial: serial.into(),
        unit: "执法一队".into(),
        status: DeviceStatus::Available,
    }
}

fn officer(badge: &str, name: &str) -> Officer {
    Officer {
        badge: badge.into(),
        name: name.into(),
        unit: "执法一队".into(),
    }
}

/// A new edge-side document, as `Journal::load_or_new_doc` starts one.
fn edge_doc() -> AutoCommit {
    AutoCommit::new().with_actor(doc::actor_for(EDGE_NODE))
}

/// The registry: three devices (one sent to repair later), two officers; one change
/// per CLI command, as the edge writes them.
pub fn registry() -> AutoCommit {
    let mut d = edge_doc();
    let devices = [
        device("cam-01", DeviceKind::BodyCamera, "DSJ-0001"),
        device("cam-02", DeviceKind::BodyCamera, "DSJ-0002"),
        device("rec-01", DeviceKind::AudioRecorder, "LY-0101"),
    ];
    for dev in &devices {
        put(&mut d, &["devices", &dev.id], dev);
    }
    for o in [officer("41042201", "张伟"), officer("41042202", "李娜")] {
        put(&mut d, &["officers", &o.badge], &o);
    }
    let mut repair = devices[1].clone();
    repair.status = DeviceStatus::Repair;
    put(&mut d, &["devices", &repair.id], &repair);
    d
}

/// The ledger month: one check-out returned, one taken with a failed check and an
/// override reason.
pub fn ledger() -> AutoCommit {
    let mut d = edge_doc();
    let mut first = CheckOut {
        id: "C-410422-1".into(),
        device: "cam-01".into(),
        officer: "41042201".into(),
        out_at: T0,
        purpose: "执法检查".into(),
        check: PreUseCheck::new(95, 30_000, true, T0 + 12_000, T0),
        check_failures: vec![],
        override_reason: None,
        in_at: None,
        in_note: None,
    };
    put(&mut d, &["checkouts", &first.id], &first);
    let second = CheckOut {
        id: "C-410422-2".into(),
        device: "rec-01".into(),
        officer: "41042202".into(),
        out_at: T0 + 3 * MIN,
        purpose: "听证".into(),
        check: PreUseCheck::new(40, 8_000, true, T0 + 3 * MIN, T0 + 3 * MIN),
        check_failures: vec!["battery 40% is below 50%".into()],
        override_reason: Some("备用电池随行".into()),
        in_at: None,
        in_note: None,
    };
    put(&mut d, &["checkouts", &second.id], &second);
    first.in_at = Some(T0 + 120 * MIN);
    first.in_note = Some("完好".into());
    put(&mut d, &["checkouts", &first.id], &first);
    d
}

/// Writes a record and commits, as an edge command does (`doc::put`, then
/// `Tx::put_doc`'s `commit()`).
fn put<T: serde::Serialize>(d: &mut AutoCommit, path: &[&str], record: &T) {
    doc::put(d, path, record).expect("doc::put");
    d.commit();
}

/// Runs the Automerge sync protocol between two in-memory documents until neither
/// has anything to send.
pub fn sync_pair(a: &mut AutoCommit, sa: &mut State, b: &mut AutoCommit, sb: &mut State) {
    for _ in 0..64 {
        let to_b = a.sync().generate_sync_message(sa);
        let to_a = b.sync().generate_sync_message(sb);
        if to_b.is_none() && to_a.is_none() {
            return;
        }
        if let Some(m) = to_b {
            let m = Message::decode(&m.encode()).expect("decode");
            b.sync().receive_sync_message(sb, m).expect("apply at b");
        }
        if let Some(m) = to_a {
            let m = Message::decode(&m.encode()).expect("decode");
            a.sync().receive_sync_message(sa, m).expect("apply at a");
        }
    }
    panic!("sync did not settle in 64 rounds");
}

/// The activity as the edge writes it, one record per CLI command: created at
/// arrival, then the notice, each annotation, the items, and the interruption record
/// with the departure. The last step is [`activity`] with its departure.
pub fn activity_steps() -> Vec<Activity> {
    let full = activity();
    let mut a = full.clone();
    a.notice = None;
    a.annotations.clear();
    a.interruptions.clear();
    a.items.clear();
    let mut steps = vec![a.clone()];
    a.notice = full.notice.clone();
    steps.push(a.clone());
    for note in &full.annotations {
        a.annotations.push(note.clone());
        steps.push(a.clone());
    }
    a.items = full.items.clone();
    steps.push(a.clone());
    a.interruptions = full.interruptions.clone();
    a.departure = Some(T0 + 55 * MIN);
    steps.push(a);
    steps
}

/// Builds the whole fixture with the running Automerge release.
pub fn build() -> Fixture {
    let name = format!("activity/{COUNTY}/{}", activity().id);
    let mut edge = edge_doc();
    for step in activity_steps() {
        put(&mut edge, &["activity"], &step);
    }

    // first sync: the center starts from an empty document of its own
    let mut center = AutoCommit::new().with_actor(doc::actor_for(CENTER_NODE));
    let (mut se, mut sc) = (State::new(), State::new());
    sync_pair(&mut edge, &mut se, &mut center, &mut sc);

    // the bureau approves the interruption and sets a hold; the edge receives both
    let mut decided: Activity = doc::get(&center, &["activity"])
        .expect("read at center")
        .expect("activity at center");
    decided.interruptions[0].approval = Approval {
        state: ApprovalState::Approved,
        by: Some("王局长".into()),
        at: Some(T0 + 24 * 60 * MIN),
        note: Some("情况属实".into()),
    };
    decided.hold = Some(Hold {
        reason: "投诉待查".into(),
        by: "督查科".into(),
        at: T0 + 25 * 60 * MIN,
    });
    put(&mut center, &["activity"], &decided);
    sync_pair(&mut edge, &mut se, &mut center, &mut sc);
    assert_eq!(
        edge.get_heads(),
        center.get_heads(),
        "fixture sync converged"
    );
    let sync_state = se.encode();

    // the next session: the edge adds an annotation; both sides start from their
    // stored states, and the edge's message carrying the change is kept
    let mut edited = edge.fork().with_actor(doc::actor_for(EDGE_NODE));
    let mut more: Activity = doc::get(&edited, &["activity"])
        .expect("read")
        .expect("activity");
    more.annotations.push(Annotation {
        kind: AnnotationKind::PartyConduct,
        text: "当事人拒绝签字".into(),
        item: Some(hash_of(b"item-2")),
        at: Some(T0 + 50 * MIN),
        by: "41042201".into(),
    });
    put(&mut edited, &["activity"], &more);
    let mut se = State::decode(&sync_state).expect("state");
    let mut sc = State::decode(&sc.encode()).expect("state");
    let mut peer = center.fork();
    let sync_message = loop {
        let m = edited
            .sync()
            .generate_sync_message(&mut se)
            .expect("the edge has a change to send");
        if !m.changes.is_empty() {
            break m.encode();
        }
        peer.sync()
            .receive_sync_message(&mut sc, m)
            .expect("apply at center");
        if let Some(answer) = peer.sync().generate_sync_message(&mut sc) {
            edited
                .sync()
                .receive_sync_message(&mut se, answer)
                .expect("apply at edge");
        }
    };

    Fixture {
        docs: vec![
            FixtureDoc {
                file: "activity",
                name,
                doc: edge,
            },
            FixtureDoc {
                file: "ledger",
                name: format!("ledger/{COUNTY}/2026-11"),
                doc: ledger(),
            },
            FixtureDoc {
                file: "registry",
                name: format!("registry/{COUNTY}"),
                doc: registry(),
            },
            FixtureDoc {
                file: "catalogue",
                name: matter::CATALOGUE.into(),
                doc: matter::seed_catalogue().expect("seed catalogue"),
            },
        ],
        sync_state,
        sync_message,
        edited,
    }
}

/// Heads as sorted hex strings (their order carries no meaning).
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut out: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    out.sort();
    out
}

/// What is recorded next to a document: its name, heads and `doc::to_json`.
pub fn expected_doc(name: &str, d: &mut AutoCommit) -> Value {
    json!({
        "name": name,
        "heads": heads_hex(&d.get_heads()),
        "json": doc::to_json(d).expect("to_json"),
    })
}

/// Writes the fixture into `dir`: `<doc>.automerge` + `<doc>.json` for each document,
/// `sync-state.bin` + `.json`, `sync-message.bin` + `.json`.
pub fn write(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut f = build();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("json") + "\n";
    for d in &mut f.docs {
        std::fs::write(dir.join(format!("{}.automerge", d.file)), d.doc.save())?;
        let v = expected_doc(&d.name, &mut d.doc);
        std::fs::write(dir.join(format!("{}.json", d.file)), pretty(&v))?;
    }
    let state = State::decode(&f.sync_state).expect("state");
    std::fs::write(dir.join("sync-state.bin"), &f.sync_state)?;
    std::fs::write(
        dir.join("sync-state.json"),
        pretty(&json!({
            "document": "activity",
            "shared_heads": heads_hex(&state.shared_heads),
        })),
    )?;
    let msg = Message::decode(&f.sync_message).expect("message");
    std::fs::write(dir.join("sync-message.bin"), &f.sync_message)?;
    std::fs::write(
        dir.join("sync-message.json"),
        pretty(&json!({
            "from": EDGE_NODE,
            "applies_to": "activity",
            "heads": heads_hex(&msg.heads),
            "need": heads_hex(&msg.need),
            "change_chunks": msg.changes.len(),
            "after": expected_doc("activity", &mut f.edited),
        })),
    )?;
    Ok(())
}
