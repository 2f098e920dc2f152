#![allow(clippy::unwrap_used)]
//! `edge-node status` findings, end to end: for each rule of the regulation it
//! checks, one case that must be flagged and one that must not.

use jilu_common::time;
use jilu_tests::{random_file, sample, Edge};
use serde_json::Value;

fn findings(e: &Edge) -> Vec<Value> {
    e.json(&["status"])[0]["findings"]
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(e: &Edge, activity_or_item: &str) -> Vec<String> {
    findings(e)
        .iter()
        .filter(|f| f["activity"] == activity_or_item || f["item"] == activity_or_item)
        .map(|f| f["finding"].as_str().unwrap().to_string())
        .collect()
}

fn ms_ago(h: f64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now - (h * 3_600_000.0) as i64
}

fn new_activity(e: &Edge, id: &str, matter: &str, arrival: i64, departure: i64) {
    e.ok(&[
        "activity",
        "new",
        "--id",
        id,
        "--matter",
        matter,
        "--place",
        "现场",
        "--officer",
        "1001",
        "--arrival",
        &time::format(arrival),
        "--departure",
        &time::format(departure),
    ]);
}

/// A 2.5 s WAV whose file time puts its capture at `end_ms`; its samples differ
/// by name, so each is its own item.
fn wav_ending_at(e: &Edge, name: &str, end_ms: i64) -> std::path::PathBuf {
    let p = e.tmp.path().join(name);
    let mut bytes = std::fs::read(sample("sample.wav")).unwrap();
    let salt = blake3::hash(name.as_bytes()).as_bytes()[0];
    bytes[100] ^= salt | 1;
    std::fs::write(&p, bytes).unwrap();
    let stamp = format!("@{}.{:03}", end_ms / 1000, end_ms % 1000);
    assert!(std::process::Command::new("touch")
        .args(["-d", &stamp])
        .arg(&p)
        .status()
        .unwrap()
        .success());
    p
}

#[test]
fn art5_unlinked_recording() {
    let e = Edge::office("410402", 0);
    let f = random_file(e.tmp.path(), "x.bin", 100, 1);
    let hash = e.json(&["ingest", f.to_str().unwrap(), "--device", "cam-01"])[0]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kinds(&e, &hash), vec!["unlinked"]);
    new_activity(&e, "a1", "1", ms_ago(0.5), ms_ago(0.1));
    e.ok(&["activity", "link", "a1", &hash]);
    assert!(!kinds(&e, &hash).contains(&"unlinked".to_string()));
}

#[test]
fn art6_listed_matter_without_recording() {
    let e = Edge::office("410402", 0);
    e.ok(&[
        "matter",
        "set",
        "9",
        "--category",
        "其他",
        "--matter",
        "日常巡查",
        "--optional",
    ]);
    new_activity(&e, "listed", "1", ms_ago(2.0), ms_ago(1.0));
    new_activity(&e, "optional", "9", ms_ago(2.0), ms_ago(1.0));
    assert_eq!(kinds(&e, "listed"), vec!["no_recording"]);
    assert!(kinds(&e, "optional").is_empty());
    // once the recording is in, the finding goes
    let end = ms_ago(1.0) - 1000;
    let wav = wav_ending_at(&e, "r.wav", end);
    e.ok(&[
        "ingest",
        wav.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "listed",
    ]);
    assert!(!kinds(&e, "listed").contains(&"no_recording".to_string()));
}

#[test]
fn art8_12_coverage_gap_and_interruption_record() {
    let e = Edge::office("410402", 0);
    // recording ends 2 s before departure (within tolerance) but starts 10 min after arrival
    let departure = ms_ago(1.0);
    let wav = wav_ending_at(&e, "r.wav", departure - 2000);
    let hash = jilu_tests::b3_file(&wav);
    let arrival = departure - 2500 - 2000 - 600_000;
    new_activity(&e, "gap", "1", arrival, departure);
    e.ok(&[
        "ingest",
        wav.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "gap",
    ]);
    let f: Vec<Value> = findings(&e)
        .into_iter()
        .filter(|f| f["activity"] == "gap")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["finding"], "coverage_gap");
    assert_eq!(f[0]["from"], arrival);
    assert!(kinds(&e, &hash).is_empty());
    // the written record of why recording stopped (art. 12) covers the gap
    e.ok(&[
        "activity",
        "interruption",
        "gap",
        "--reason",
        "battery",
        "--basis",
        "电量不足，更换电池",
        "--from",
        &time::format(arrival),
        "--to",
        &time::format(departure - 4500),
        "--by",
        "1001",
    ]);
    assert!(kinds(&e, "gap").is_empty(), "{:?}", findings(&e));
    let act = &e.json(&["activity", "show", "gap"])[0];
    assert_eq!(act["interruptions"][0]["approval"]["state"], "pending");
}

#[test]
fn art13_handover_deadline() {
    let e = Edge::office("410402", 0);
    // ended 30 h ago, nothing handed over: overdue; ended 2 h ago: not yet
    new_activity(&e, "old", "1", ms_ago(31.0), ms_ago(30.0));
    new_activity(&e, "recent", "1", ms_ago(3.0), ms_ago(2.0));
    assert!(kinds(&e, "old").contains(&"handover_overdue".to_string()));
    assert!(!kinds(&e, "recent").contains(&"handover_overdue".to_string()));
    // footage of the old activity handed over now is late; of the recent one, on time
    let late = wav_ending_at(&e, "late.wav", ms_ago(30.0) - 1000);
    let on_time = wav_ending_at(&e, "on-time.wav", ms_ago(2.0) - 1000);
    let late_hash = jilu_tests::b3_file(&late);
    let on_time_hash = jilu_tests::b3_file(&on_time);
    e.ok(&[
        "ingest",
        late.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "old",
    ]);
    e.ok(&[
        "ingest",
        on_time.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "recent",
    ]);
    assert_eq!(kinds(&e, &late_hash), vec!["handed_over_late"]);
    assert!(kinds(&e, &on_time_hash).is_empty());
    assert!(!kinds(&e, "old").contains(&"handover_overdue".to_string()));
}

#[test]
fn upload_queue_counts_items_and_bytes() {
    let e = Edge::office("410402", 0);
    for (i, n) in [1000usize, 2 << 20].iter().enumerate() {
        let f = random_file(e.tmp.path(), &format!("f{i}"), *n, i as u64);
        e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    }
    let s = &e.json(&["status"])[0];
    assert_eq!(s["upload_items"], 2);
    assert_eq!(s["upload_bytes"], 1000 + (2 << 20));
    assert_eq!(s["checked_out"][0], "cam-01");
    let text = e.ok(&["status"]);
    assert!(text.contains("waiting to upload: 2 items"), "{text}");
}
