#![allow(clippy::unwrap_used)]
//! Ingest end to end through the real binary: real container files and generated
//! footage of every chunk shape, checked against an independent BLAKE3 of each
//! file, read back byte for byte, with capture times taken from the container and
//! corrected by the check-out's measured clock offset.

use jilu_tests::{b3_file, random_file, sample, Edge};
use serde_json::Value;

const MIB: usize = 1 << 20;

fn ingest_one(e: &Edge, path: &std::path::Path) -> Value {
    let acks = e.json(&["ingest", path.to_str().unwrap(), "--device", "cam-01"]);
    assert_eq!(acks.len(), 1, "{acks:?}");
    acks.into_iter().next().unwrap()
}

#[test]
fn container_metadata_and_clock_offset() {
    // the device clock runs two minutes fast
    let e = Edge::office("410402", 120);
    let ledger = e.json(&["ledger"]);
    let offset = ledger[0]["check"]["clock_offset_ms"].as_i64().unwrap();
    assert!(
        (118_000..=122_000).contains(&offset),
        "measured offset {offset}"
    );

    let cases = [
        (
            "sample.mp4",
            "video",
            "mp4",
            "mvhd",
            1_795_166_100_000i64,
            Some(3000u64),
        ),
        (
            "sample.mov",
            "video",
            "mov",
            "mvhd",
            1_795_166_400_000,
            Some(2000),
        ),
        (
            "sample.jpg",
            "photo",
            "jpeg",
            "exif_date_time_original",
            1_795_137_390_000,
            None,
        ),
    ];
    for (name, kind, container, source, device_time, duration) in cases {
        let path = sample(name);
        let ack = ingest_one(&e, &path);
        assert_eq!(ack["hash"], b3_file(&path), "{name}");
        assert_eq!(ack["duplicate"], false);
        let item = &ack["item"];
        assert_eq!(item["kind"], kind, "{name}");
        assert_eq!(item["container"], container, "{name}");
        assert_eq!(item["time_source"], source, "{name}");
        assert_eq!(item["clock_offset_ms"], offset, "{name}");
        assert_eq!(
            item["capture_start"].as_i64().unwrap(),
            device_time - offset,
            "{name}: corrected start"
        );
        assert_eq!(item["duration_ms"].as_u64(), duration, "{name}");
        assert_eq!(item["officer"], "1001", "officer from the check-out");
        assert_eq!(
            e.export(ack["hash"].as_str().unwrap()),
            std::fs::read(&path).unwrap(),
            "{name}"
        );
    }

    // WAV: length from the header, start = file time - length
    let wav = e.tmp.path().join("rec.wav");
    std::fs::copy(sample("sample.wav"), &wav).unwrap();
    assert!(std::process::Command::new("touch")
        .args(["-d", "2026-11-20T09:30:00Z"])
        .arg(&wav)
        .status()
        .unwrap()
        .success());
    let ack = ingest_one(&e, &wav);
    let item = &ack["item"];
    assert_eq!(item["time_source"], "wav_length_and_file_time");
    assert_eq!(item["duration_ms"], 2500);
    assert_eq!(
        item["capture_start"].as_i64().unwrap(),
        1_795_167_000_000 - 2500 - offset
    );

    // no metadata: the file time, and the source says so
    let raw = random_file(e.tmp.path(), "raw.bin", 1000, 1);
    let ack = ingest_one(&e, &raw);
    assert_eq!(ack["item"]["time_source"], "file_time");
    assert_eq!(ack["item"]["kind"], "other");
}

#[test]
fn every_chunk_shape_round_trips_and_hashes_like_b3sum() {
    let e = Edge::office("410402", 0);
    let sizes = [
        0,
        1,
        1023,
        1024,
        MIB - 1,
        MIB,
        MIB + 1,
        2 * MIB,
        3 * MIB + 17,
        8 * MIB,
        9 * MIB + 5,
    ];
    let dir = e.tmp.path().join("dock");
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| random_file(&dir, &format!("f{i:02}.bin"), n, i as u64 + 7))
        .collect();
    // one folder ingest, as from a docked device's mount
    let acks = e.json(&["ingest", dir.to_str().unwrap(), "--device", "cam-01"]);
    assert_eq!(acks.len(), sizes.len());
    for (path, ack) in paths.iter().zip(&acks) {
        let len = std::fs::metadata(path).unwrap().len();
        assert_eq!(ack["hash"], b3_file(path), "{}", path.display());
        assert_eq!(ack["size"], len);
        assert_eq!(ack["item"]["chunks"], len.div_ceil(MIB as u64).max(1));
        assert_eq!(
            e.export(ack["hash"].as_str().unwrap()),
            std::fs::read(path).unwrap()
        );
    }
    let verify = e.ok(&["verify"]);
    assert!(
        verify.contains(&format!("{} intact, 0 corrupt", sizes.len())),
        "{verify}"
    );
}

#[test]
fn same_bytes_twice_are_one_item_with_two_custody_events() {
    let e = Edge::office("410402", 0);
    let a = random_file(e.tmp.path(), "a.bin", 3 * MIB + 5, 42);
    let copy = e.tmp.path().join("copy-of-a.bin");
    std::fs::copy(&a, &copy).unwrap();
    let first = ingest_one(&e, &a);
    let second = ingest_one(&e, &copy);
    assert_eq!(first["hash"], second["hash"]);
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(e.items().len(), 1);
    let hash = first["hash"].as_str().unwrap();
    let shown = e.json(&["item", hash]);
    let custody = shown[0]["custody"].as_array().unwrap();
    let ingests: Vec<&Value> = custody.iter().filter(|c| c["action"] == "ingest").collect();
    assert_eq!(ingests.len(), 2, "{custody:?}");
    assert!(ingests[0]["detail"]["path"]
        .as_str()
        .unwrap()
        .ends_with("a.bin"));
    assert!(ingests[1]["detail"]["path"]
        .as_str()
        .unwrap()
        .ends_with("copy-of-a.bin"));
    assert_eq!(ingests[1]["detail"]["duplicate"], true);
    // looking at the item is itself an access on record
    assert!(
        custody.iter().any(|c| c["action"] == "access"),
        "{custody:?}"
    );
    // the duplicate's chunks were dropped, the item still verifies and exports
    assert_eq!(e.export(hash), std::fs::read(&a).unwrap());
    assert!(e.ok(&["verify"]).contains("1 intact"));
}

#[test]
fn linking_to_an_activity_at_ingest_and_later() {
    let e = Edge::office("410402", 0);
    e.ok(&[
        "activity",
        "new",
        "--id",
        "act-1",
        "--matter",
        "1",
        "--place",
        "某公司",
        "--officer",
        "1001",
        "--arrival",
        "2026-11-20T09:14:00Z",
        "--departure",
        "2026-11-20T09:16:00Z",
    ]);
    let mp4 = sample("sample.mp4");
    let acks = e.json(&[
        "ingest",
        mp4.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "act-1",
    ]);
    assert_eq!(acks[0]["item"]["activity"], "act-1");
    let jpg = ingest_one(&e, &sample("sample.jpg"));
    assert!(jpg["item"]["activity"].is_null());
    let hash = jpg["hash"].as_str().unwrap();
    e.ok(&["activity", "link", "act-1", &hash[..10]]);
    let act = &e.json(&["activity", "show", "act-1"])[0];
    let items: Vec<&str> = act["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(items, vec![acks[0]["hash"].as_str().unwrap(), hash]);
    assert!(e.json(&["items", "--unlinked"]).is_empty());
}
