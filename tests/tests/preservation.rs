#![allow(clippy::unwrap_used)]
//! Preservation copies (art. 16) end to end: real edges sync real footage to a real
//! center, which writes both labelled copies of a held activity as BagIt bags and
//! ISO images. Independent tools check them (bagit.py, xorriso's recorded MD5s,
//! Python's own SM3, the blake3 crate), and `jilu-verify` catches one changed byte
//! in a payload file, a manifest and the custody chain.

use std::path::{Path, PathBuf};
use std::process::Command;

use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{binary, random_file, sample, text, Edge};

const MIB: usize = 1 << 20;

fn have(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The python3 that has bagit (scripts/test installs it); tests refuse to pass
/// silently without it.
fn python() -> &'static str {
    assert!(
        have("python3", &["-c", "import bagit"]),
        "python3 with the bagit package is needed (scripts/setup installs it: pip install bagit)"
    );
    "python3"
}

fn verify(path: &Path) -> (bool, String) {
    let out = Command::new(binary("jilu-verify"))
        .arg(path)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

/// A center holding one held activity of 叶县 with three recordings, one of them
/// with a Chinese file name.
fn held_activity(root: &Path) -> (Ca, Center, Edge) {
    let ca = Ca::new(root);
    let center = Center::start(root, &ca);
    let e = Edge::office("410422", 0);
    e.ok(&[
        "activity",
        "new",
        "--id",
        "A-410422-7",
        "--matter",
        "1",
        "--place",
        "某企业财务室",
        "--officer",
        "1001",
        "--arrival",
        "2026-11-20T09:00:00Z",
        "--departure",
        "2026-11-20T10:00:00Z",
    ]);
    e.link(&ca, &center, "410422", "");
    let big = random_file(e.tmp.path(), "现场执法记录.bin", 3 * MIB + 11, 7);
    let small = random_file(e.tmp.path(), "A0002.MP4", 40_044, 8);
    e.ok(&[
        "ingest",
        sample("sample.mp4").to_str().unwrap(),
        big.to_str().unwrap(),
        small.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "A-410422-7",
    ]);
    let r = e.sync_once();
    assert_eq!(r["items_verified"], 3, "{r}");
    let out = center.run(&[
        "hold",
        "--county",
        "410422",
        "--activity",
        "A-410422-7",
        "--reason",
        "当事人有异议",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    (ca, center, e)
}

fn export(center: &Center, copy: &str, out: &Path) -> String {
    let o = center.run(&[
        "--as",
        "王芳",
        "export",
        "--activity",
        "A-410422-7",
        "--copy",
        copy,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "export: {}", text(&o));
    text(&o)
}

fn iso(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.iso", p.display()))
}

fn copy_dir(from: &Path, to: &Path) {
    let s = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(s.success());
}

#[test]
fn two_copies_that_independent_tools_accept() {
    let root = tempfile::tempdir().unwrap();
    let (_ca, center, e) = held_activity(root.path());
    let one = root.path().join("copy-1");
    let two = root.path().join("copy-2");
    let said = export(&center, "1", &one);
    assert!(said.contains("copy 1/2 of A-410422-7"), "{said}");
    export(&center, "2", &two);

    for bag in [&one, &two] {
        // bagit.py checks bagit.txt, the SHA-256 manifests, tag manifests and the oxum
        let out = Command::new(python())
            .args(["-m", "bagit", "--validate"])
            .arg(bag)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bagit.py refuses {}: {}",
            bag.display(),
            text(&out)
        );
        // xorriso checks every file of the image against the MD5 it recorded
        let out = Command::new("xorriso")
            .args([
                "-abort_on",
                "NEVER",
                "-return_with",
                "FAILURE",
                "32",
                "-md5",
                "on",
                "-indev",
            ])
            .arg(iso(bag))
            .args(["-check_md5_r", "FAILURE", "/", "--"])
            .output()
            .unwrap();
        assert!(out.status.success(), "xorriso: {}", text(&out));
        let (ok, report) = verify(bag);
        assert!(ok, "{report}");
        let (ok, report) = verify(&iso(bag));
        assert!(ok, "{report}");
        assert!(
            report.contains("4 payload files") || report.contains("payload files"),
            "{report}"
        );
    }

    // the payload is the edge's footage, byte for byte, under its own names
    for item in e.items() {
        let name = item["original_name"].as_str().unwrap();
        let bytes = std::fs::read(one.join("data/footage").join(name)).unwrap();
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            item["hash"].as_str().unwrap()
        );
    }
    // SM3 manifest against Python's own SM3 (OpenSSL's), every payload file
    let sm3 = std::fs::read_to_string(one.join("manifest-sm3.txt")).unwrap();
    assert_eq!(sm3.lines().count(), 6, "{sm3}");
    for line in sm3.lines() {
        let (digest, path) = line.split_once("  ").unwrap();
        let out = Command::new(python())
            .args(["-c", "import hashlib,sys; print(hashlib.new('sm3', open(sys.argv[1],'rb').read()).hexdigest())"])
            .arg(one.join(path))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            digest,
            "{path}"
        );
    }
    // the label carries the regulation's fields
    let label = std::fs::read_to_string(two.join("data/label.txt")).unwrap();
    for want in [
        "制作单位 (producing unit): 法规和执法监督科",
        "制作人 (producer): 王芳",
        "编号 (number): A-410422-7",
        "份号 (copy): 2/2",
        "某企业财务室",
    ] {
        assert!(label.contains(want), "{want} not in {label}");
    }
    // copy 1 is in the custody of every item, so copy 2's chain shows it
    let custody = std::fs::read_to_string(two.join("data/custody.jsonl")).unwrap();
    let copies_of_one = custody
        .lines()
        .filter(|l| l.contains("\"preservation_copy\":1"))
        .count();
    assert_eq!(copies_of_one, 3, "{custody}");
    assert!(custody.contains("verified_at_center"), "{custody}");
}

#[test]
fn the_same_bag_gives_the_same_image() {
    let root = tempfile::tempdir().unwrap();
    let (_ca, center, _e) = held_activity(root.path());
    let one = root.path().join("copy-1");
    export(&center, "1", &one);
    let a = root.path().join("a.iso");
    let b = root.path().join("b.iso");
    jilu_bag::iso::write(&one, &a, "A_410422_7_C1", 1_796_168_416).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    jilu_bag::iso::write(&one, &b, "A_410422_7_C1", 1_796_168_416).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn one_changed_byte_is_caught_and_named() {
    let root = tempfile::tempdir().unwrap();
    let (_ca, center, _e) = held_activity(root.path());
    let good = root.path().join("copy-1");
    export(&center, "1", &good);

    let flip = |path: &Path, at: usize| {
        let mut b = std::fs::read(path).unwrap();
        b[at] ^= 0x01;
        std::fs::write(path, b).unwrap();
    };
    // a payload byte
    let bag = root.path().join("payload");
    copy_dir(&good, &bag);
    flip(&bag.join("data/footage/现场执法记录.bin"), 2 * MIB + 3);
    let (ok, report) = verify(&bag);
    assert!(!ok, "{report}");
    assert!(
        report.contains("data/footage/现场执法记录.bin: its sha256 does not match"),
        "{report}"
    );
    assert!(
        report.contains("its blake3 does not match") && report.contains("its sm3 does not match"),
        "{report}"
    );

    // a manifest byte
    let bag = root.path().join("manifest");
    copy_dir(&good, &bag);
    flip(&bag.join("manifest-blake3.txt"), 3);
    let (ok, report) = verify(&bag);
    assert!(!ok, "{report}");
    assert!(
        report.contains("does not match manifest-blake3.txt"),
        "{report}"
    );
    assert!(
        report.contains("manifest-blake3.txt: its sha256 does not match tagmanifest-sha256.txt"),
        "{report}"
    );

    // the custody chain, with every manifest rewritten to match: only the links catch it
    let bag = root.path().join("custody");
    copy_dir(&good, &bag);
    let path = bag.join("data/custody.jsonl");
    let edited = std::fs::read_to_string(&path).unwrap().replacen(
        "verified_at_center",
        "verified_at_centre",
        1,
    );
    std::fs::write(&path, &edited).unwrap();
    rehash_manifests(&bag);
    let out = Command::new(python())
        .args(["-m", "bagit", "--validate"])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the forgery should fool bagit.py: {}",
        text(&out)
    );
    let (ok, report) = verify(&bag);
    assert!(!ok, "{report}");
    assert!(
        report.contains("data/custody.jsonl: custody line")
            && report.contains("does not link to the line before it"),
        "{report}"
    );

    // and an image of a tampered bag is caught too
    let image = root.path().join("payload.iso");
    jilu_bag::iso::write(&root.path().join("payload"), &image, "X", 0).unwrap();
    let (ok, report) = verify(&image);
    assert!(!ok, "{report}");
}

/// Rewrites a bag's manifests and tag manifests to match its files, as a forger would.
fn rehash_manifests(bag: &Path) {
    let digest = |alg: &str, bytes: &[u8]| -> String {
        let d = jilu_bag::digest::of_reader(bytes).unwrap();
        match alg {
            "sha256" => d.sha256,
            "blake3" => d.blake3,
            _ => d.sm3,
        }
    };
    let mut payload = Vec::new();
    collect(bag, &bag.join("data"), &mut payload);
    payload.sort();
    for alg in ["sha256", "blake3", "sm3"] {
        let mut text = String::new();
        for rel in &payload {
            text.push_str(&format!(
                "{}  {rel}\n",
                digest(alg, &std::fs::read(bag.join(rel)).unwrap())
            ));
        }
        std::fs::write(bag.join(format!("manifest-{alg}.txt")), text).unwrap();
    }
    for alg in ["sha256", "blake3", "sm3"] {
        let mut text = String::new();
        let mut tags = vec!["bag-info.txt".to_string(), "bagit.txt".to_string()];
        tags.extend(
            ["blake3", "sha256", "sm3"]
                .iter()
                .map(|a| format!("manifest-{a}.txt")),
        );
        for t in tags {
            text.push_str(&format!(
                "{}  {t}\n",
                digest(alg, &std::fs::read(bag.join(&t)).unwrap())
            ));
        }
        std::fs::write(bag.join(format!("tagmanifest-{alg}.txt")), text).unwrap();
    }
}

fn collect(bag: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(bag, &p, out);
        } else {
            out.push(p.strip_prefix(bag).unwrap().to_string_lossy().into_owned());
        }
    }
}
