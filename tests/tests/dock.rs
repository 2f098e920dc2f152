#![allow(clippy::unwrap_used)]
//! Dock watch, as a collection workstation runs it: files appearing in a docked
//! device's folder are ingested; with `--wipe` a file leaves the device only after
//! its stored copy re-verifies, never when the stored copy is damaged.

use edge_node::store::{self, Mode};
use jilu_tests::{b3_file, random_file, Edge};

#[test]
fn dock_ingests_new_files_and_wipes_only_verified_ones() {
    let e = Edge::office("410402", 0);
    let dock = e.tmp.path().join("dock");
    let cam = dock.join("cam-01").join("DCIM");
    std::fs::create_dir_all(&cam).unwrap();
    let a = random_file(&cam, "A001.MP4", 3 << 20, 1);
    let b = random_file(&cam, "A002.MP4", 5000, 2);
    let (ha, hb) = (b3_file(&a), b3_file(&b));
    // an unregistered device's folder is reported, not ingested
    let stranger = dock.join("cam-99");
    std::fs::create_dir_all(&stranger).unwrap();
    random_file(&stranger, "X.MP4", 10, 3);

    let events = e.json(&["dock", "watch", dock.to_str().unwrap(), "--once"]);
    let ingested: Vec<&str> = events
        .iter()
        .filter(|v| v["event"] == "ingested")
        .map(|v| v["hash"].as_str().unwrap())
        .collect();
    assert_eq!(ingested, vec![ha.as_str(), hb.as_str()]);
    assert!(events.iter().any(|v| v["event"] == "skipped"
        && v["device"] == "cam-99"
        && v["why"].as_str().unwrap().contains("unknown device")));
    assert!(
        a.exists() && b.exists(),
        "no --wipe: files stay on the device"
    );

    // a second pass does not ingest again
    let again = e.json(&["dock", "watch", dock.to_str().unwrap(), "--once"]);
    assert!(again.iter().all(|v| v["event"] != "ingested"), "{again:?}");

    // damage B's stored copy (one chunk rewritten inside RocksDB)
    let rec: serde_json::Value = e.items().into_iter().find(|i| i["hash"] == hb).unwrap();
    {
        let s = store::open(&e.db_path(), Mode::ReadWrite, false).unwrap();
        let cf = s
            .cf(&format!("chunks-{}", rec["period"].as_str().unwrap()))
            .unwrap();
        s.db.put_cf(
            &cf,
            store::chunk_key(rec["ingest"].as_u64().unwrap(), 0),
            vec![0u8; 5000],
        )
        .unwrap();
    }
    let wiped = e.json(&["dock", "watch", dock.to_str().unwrap(), "--once", "--wipe"]);
    assert!(
        wiped
            .iter()
            .any(|v| v["event"] == "wiped" && v["hash"] == ha),
        "{wiped:?}"
    );
    assert!(
        wiped
            .iter()
            .any(|v| v["event"] == "skipped"
                && v["why"].as_str().unwrap().contains("local corruption")),
        "{wiped:?}"
    );
    assert!(!a.exists(), "A re-verified: deleted from the device");
    assert!(
        b.exists(),
        "B's stored copy is damaged: it must stay on the device"
    );
    // the wipe is on record as custody of A
    let custody = &e.json(&["item", &ha])[0]["custody"];
    assert!(
        custody
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "source_wiped"),
        "{custody}"
    );
}
