#![allow(clippy::unwrap_used)]
//! A docking station: many cameras docked at once, ingested concurrently within a
//! limit, each camera's files in order; cameras unplugged mid-copy leave nothing
//! behind and are ingested when they come back; eviction after concurrent ingest
//! still frees an item's own blob files without rewriting other footage.
//!
//! Unplugging is done for real on the files (truncated, deleted, folder renamed
//! away) at a chosen point of the copy: the test holds the dock's progress lock
//! once the camera's ingest has stored its first chunks, which stops the ingest
//! at its next chunk, acts on the files, then lets it go on. The reader is then at
//! most a few chunks ahead, far from the end of the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use edge_node::dock::progress::DockProgress;
use edge_node::dock::{DockEvent, DockOptions};
use edge_node::edge::Edge as Node;
use edge_node::ingest::{IngestAbort, IngestControl};
use edge_node::store::{self, Mode};
use jilu_tests::{b3_file, random_file, Edge};
use serde_json::Value;

const MIB: usize = 1 << 20;

/// An office with cameras cam-01..cam-NN checked out, and the dock folder.
fn station(cameras: usize) -> (Edge, PathBuf, Vec<String>) {
    let e = Edge::office("410402", 0);
    let ids: Vec<String> = (1..=cameras).map(|i| format!("cam-{i:02}")).collect();
    for id in &ids[1..] {
        e.add_camera(id);
    }
    let dock = e.tmp.path().join("dock");
    std::fs::create_dir_all(&dock).unwrap();
    (e, dock, ids)
}

/// Footage chunks whose ingest id is not an item's, over every footage family.
fn orphan_chunks(node: &Node) -> usize {
    let ingests: BTreeSet<u64> = node.items().unwrap().iter().map(|r| r.ingest).collect();
    let mut orphans = 0;
    for period in store::periods(&node.store).unwrap() {
        let cf = node.store.cf(&format!("chunks-{period}")).unwrap();
        for kv in node.store.db.iterator_cf(&cf, rocksdb::IteratorMode::Start) {
            let (k, _) = kv.unwrap();
            if !ingests.contains(&store::read_be64(&k).unwrap()) {
                orphans += 1;
            }
        }
    }
    orphans
}

/// The log without its colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn eight_cameras_are_ingested_concurrently_within_the_limit() {
    let (e, dock, ids) = station(8);
    // two files per camera, in name order
    let mut want: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let dir = dock.join(id).join("DCIM");
        std::fs::create_dir_all(&dir).unwrap();
        for (j, size) in [(1, 6 * MIB + 77), (2, 3 * MIB)] {
            let p = random_file(&dir, &format!("V{j:03}.MP4"), size, (i * 10 + j) as u64);
            want.insert(p.clone(), b3_file(&p));
        }
    }
    const LIMIT: usize = 3;
    let out = e
        .cmd()
        .env("JILU_LOG", "info")
        .args(["--json", "dock", "watch", dock.to_str().unwrap(), "--once"])
        .args(["--cameras", &LIMIT.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // every file acknowledged once, with its independent BLAKE3
    let ingested: Vec<&Value> = events.iter().filter(|v| v["event"] == "ingested").collect();
    assert_eq!(ingested.len(), want.len(), "{events:?}");
    for v in &ingested {
        let path = PathBuf::from(v["path"].as_str().unwrap());
        assert_eq!(
            v["hash"].as_str().unwrap(),
            want[&path],
            "{}",
            path.display()
        );
    }
    // a camera's files in name order
    for id in &ids {
        let mine: Vec<&str> = ingested
            .iter()
            .filter(|v| v["device"] == id.as_str())
            .map(|v| v["path"].as_str().unwrap())
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine.len(), 2, "{id}: {mine:?}");
        assert_eq!(mine, sorted, "{id}");
    }

    // the limit, as the dock reported it at every start: never above LIMIT, and
    // reached (the cameras did overlap)
    let log = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    let active: Vec<usize> = log
        .lines()
        .filter(|l| l.contains("camera ingest started"))
        .map(|l| {
            let at = l.find(" active=").unwrap() + " active=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(active.len(), want.len(), "{log}");
    assert!(active.iter().all(|&a| a <= LIMIT), "{active:?}");
    assert_eq!(active.iter().max(), Some(&LIMIT), "{active:?}");
    // and as the store shows it: no more lanes than the limit were used
    let items = e.items();
    let lanes: BTreeSet<&str> = items
        .iter()
        .map(|i| i["period"].as_str().unwrap())
        .collect();
    assert!(
        lanes.len() <= LIMIT && lanes.len() >= 2,
        "footage periods {lanes:?}"
    );

    // exported bytes equal the sources
    for (path, hash) in &want {
        assert_eq!(
            e.export(hash),
            std::fs::read(path).unwrap(),
            "{}",
            path.display()
        );
    }
    let verify = e.run(&["verify"]);
    assert!(verify.status.success(), "{}", jilu_tests::text(&verify));

    // eviction after concurrent ingest still frees each item's own blob files and
    // rewrites no footage: half the items (each ingested beside others) are freed
    // one by one, and each gives back its own size; the rest still verify
    let node = Node::open(&e.dir, Mode::ReadWrite).unwrap();
    let size_of = |hash: &str| {
        items.iter().find(|i| i["hash"] == hash).unwrap()["size"]
            .as_u64()
            .unwrap()
    };
    let hashes: Vec<&String> = want.values().collect();
    for victim in hashes.iter().step_by(2) {
        let report = node.free_chunks(&victim.parse().unwrap()).unwrap();
        let size = size_of(victim);
        assert_eq!(report.rewritten_blob_bytes, 0, "{report:?}");
        assert!(
            report.freed_bytes() >= size && report.freed_bytes() < size + (256 << 10),
            "freed {} B of an item of {size} B: {report:?}",
            report.freed_bytes()
        );
    }
    for victim in hashes.iter().skip(1).step_by(2) {
        let rec = node
            .item(&edge_node::edge::parse_hash(victim).unwrap())
            .unwrap()
            .unwrap();
        node.verify_item(&rec).unwrap();
    }
    assert_eq!(orphan_chunks(&node), 0);
}

/// What to do to a camera while its file is being read.
#[derive(Debug, Clone, Copy)]
enum Unplug {
    Truncate,
    Delete,
    RenameFolder,
}

fn unplugged_mid_copy(how: Unplug) {
    let (e, dock, _) = station(2);
    let cam = dock.join("cam-02");
    let dcim = cam.join("DCIM");
    std::fs::create_dir_all(&dcim).unwrap();
    let size = 96 * MIB + 5;
    let file = random_file(&dcim, "V001.MP4", size, 7);
    let hash = b3_file(&file);
    // another camera docked at the same time is not disturbed
    let other_dir = dock.join("cam-01");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = random_file(&other_dir, "W001.MP4", 5 * MIB, 8);
    let away = e.tmp.path().join("away");

    let node = Node::open(&e.dir, Mode::ReadWrite).unwrap();
    let progress = DockProgress::shared();
    let opts = DockOptions {
        dir: dock.clone(),
        wipe: true,
        once: true,
        interval: std::time::Duration::from_secs(1),
        settle: std::time::Duration::ZERO,
        cameras: 2,
    };
    let acted = AtomicUsize::new(0);
    let mut events = Vec::new();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut evs = Vec::new();
            node.dock_watch_with(
                &"keeper".into(),
                &opts,
                &progress,
                &mut |ev: &DockEvent| evs.push(serde_json::to_value(ev).unwrap()),
                &|| false,
            )
            .unwrap();
            evs
        });
        // Wait for cam-02's ingest to be under way, then act while holding the
        // progress lock: the ingest cannot pass its next chunk meanwhile.
        loop {
            let p = progress.lock().unwrap();
            let snap = p.snapshot();
            let cam2 = snap.cameras.iter().find(|c| c.device == "cam-02");
            if let Some(c) =
                cam2.filter(|c| c.current.is_some() && c.current_done >= 2 * MIB as u64)
            {
                assert!(
                    c.current_done < 32 * MIB as u64,
                    "too late to unplug: {c:?}"
                );
                match how {
                    Unplug::Truncate => {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&file)
                            .unwrap()
                            .set_len(c.current_done)
                            .unwrap();
                    }
                    Unplug::Delete => std::fs::remove_file(&file).unwrap(),
                    Unplug::RenameFolder => std::fs::rename(&cam, &away).unwrap(),
                }
                acted.fetch_add(1, Ordering::Relaxed);
                break;
            }
            assert!(
                !watcher.is_finished(),
                "the dock finished before the camera was unplugged"
            );
            drop(p);
            std::thread::yield_now();
        }
        events = watcher.join().unwrap();
    });
    assert_eq!(acted.load(Ordering::Relaxed), 1);

    // not acknowledged, reported, nothing of it visible, no chunk left
    let skipped: Vec<&Value> = events
        .iter()
        .filter(|v| v["event"] == "skipped" && v["device"] == "cam-02")
        .collect();
    assert_eq!(skipped.len(), 1, "{events:?}");
    let why = skipped[0]["why"].as_str().unwrap();
    let expected = match how {
        Unplug::Truncate => "shrank",
        Unplug::Delete | Unplug::RenameFolder => "vanished",
    };
    assert!(why.contains(expected), "{how:?}: {why}");
    assert!(
        events
            .iter()
            .all(|v| v["device"] != "cam-02" || v["event"] == "skipped"),
        "{events:?}"
    );
    assert!(node
        .item(&edge_node::edge::parse_hash(&hash).unwrap())
        .unwrap()
        .is_none());
    assert_eq!(
        node.items().unwrap().len(),
        1,
        "only cam-01's file is stored"
    );
    assert!(node.store.scan(store::PENDING).unwrap().is_empty());
    assert_eq!(orphan_chunks(&node), 0, "{how:?}: chunks left behind");
    // the other camera's file was stored and, verified, wiped
    assert!(events
        .iter()
        .any(|v| v["event"] == "wiped" && v["device"] == "cam-01"));
    assert!(!other.exists());
    let snap = progress.lock().unwrap().snapshot();
    let c2 = snap.cameras.iter().find(|c| c.device == "cam-02").unwrap();
    assert_eq!(
        (c2.files_done, c2.files_failed, c2.current.clone()),
        (0, 1, None)
    );
    drop(node);

    // the trace: one ingest_discarded naming the file and why
    let audit = e.json(&["audit", "show"]);
    let discarded: Vec<&Value> = audit
        .iter()
        .filter(|v| v["action"] == "ingest_discarded")
        .collect();
    assert_eq!(discarded.len(), 1, "{audit:?}");
    let detail = discarded[0]["detail"].to_string();
    assert!(
        detail.contains("V001.MP4") && detail.contains(expected),
        "{detail}"
    );

    // the camera comes back whole: nothing was wiped from it (where it still had
    // the file) and the next pass ingests it from the start
    match how {
        Unplug::Truncate => {
            let left = std::fs::metadata(&file).unwrap().len();
            assert!(left > 0 && left < size as u64, "not wiped: {left} B left");
            random_file(&dcim, "V001.MP4", size, 7);
        }
        Unplug::Delete => {
            random_file(&dcim, "V001.MP4", size, 7);
        }
        Unplug::RenameFolder => {
            assert!(away.join("DCIM").join("V001.MP4").exists(), "not wiped");
            std::fs::rename(&away, &cam).unwrap();
        }
    }
    let again = e.json(&["dock", "watch", dock.to_str().unwrap(), "--once"]);
    let stored: Vec<&Value> = again.iter().filter(|v| v["event"] == "ingested").collect();
    assert_eq!(stored.len(), 1, "{again:?}");
    assert_eq!(stored[0]["hash"], hash.as_str());
    assert_eq!(e.export(&hash), std::fs::read(&file).unwrap());
}

#[test]
fn camera_file_truncated_mid_copy_is_discarded_and_ingested_when_back() {
    unplugged_mid_copy(Unplug::Truncate);
}

#[test]
fn camera_file_deleted_mid_copy_is_discarded_and_ingested_when_back() {
    unplugged_mid_copy(Unplug::Delete);
}

#[test]
fn camera_folder_gone_mid_copy_is_discarded_and_ingested_when_back() {
    unplugged_mid_copy(Unplug::RenameFolder);
}

/// The cancellation hook stops an ingest between chunks through the discard path.
#[test]
fn a_cancelled_ingest_leaves_nothing_and_a_trace() {
    let e = Edge::office("410402", 0);
    let src = e.tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = random_file(&src, "long.mp4", 24 * MIB, 3);
    let node = Node::open(&e.dir, Mode::ReadWrite).unwrap();
    let ctx = node
        .resolve_source(&edge_node::ingest::Source {
            device: "cam-01".into(),
            officer: None,
            activity: None,
        })
        .unwrap();
    let seen = std::cell::Cell::new(0u64);
    let err = node
        .ingest_file_with(
            &"keeper".into(),
            &file,
            &ctx,
            IngestControl {
                progress: &mut |done| seen.set(done),
                cancel: &|| seen.get() >= 5 * MIB as u64,
                lanes: 1,
                watch: edge_node::ingest::Watch::Path,
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<IngestAbort>(),
            Some(IngestAbort::Cancelled(_))
        ),
        "{err:#}"
    );
    assert_eq!(
        seen.get(),
        5 * MIB as u64,
        "stopped at the first check after 5 MiB"
    );
    assert!(node.items().unwrap().is_empty());
    assert!(node.store.scan(store::PENDING).unwrap().is_empty());
    assert_eq!(orphan_chunks(&node), 0);
    // the source is untouched, and a second ingest stores it whole
    let ack = node
        .ingest_file(&"keeper".into(), &file, &ctx, &mut |_| {})
        .unwrap();
    assert_eq!(ack.hash, b3_file(&file));
    drop(node);
    let audit = e.json(&["audit", "show"]);
    let discarded: Vec<&Value> = audit
        .iter()
        .filter(|v| v["action"] == "ingest_discarded")
        .collect();
    assert_eq!(discarded.len(), 1, "{audit:?}");
    assert!(discarded[0]["detail"].to_string().contains("cancelled"));
}
