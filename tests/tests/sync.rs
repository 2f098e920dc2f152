#![allow(clippy::unwrap_used)]
//! Sync end to end: a real center process and real edge processes with freshly
//! issued certificates, over QUIC on loopback. After every scenario: every item
//! the center calls verified is on its disk and hashes to its name, every item an
//! edge calls verified is at the center, and both sides hold identical documents.

use jilu_tests::cluster::{assert_converged, Ca, Center};
use jilu_tests::{random_file, sample, Edge};

const MIB: usize = 1 << 20;

#[test]
fn two_counties_sync_and_decisions_flow_back() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let a = Edge::office_with_a1("410422");
    let b = Edge::office_with_a1("410423");
    a.link(&ca, &center, "410422", "");
    b.link(&ca, &center, "410423", "");
    let fa = random_file(a.tmp.path(), "a.bin", 3 * MIB + 5, 1);
    a.ok(&[
        "ingest",
        sample("sample.mp4").to_str().unwrap(),
        fa.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "A-1",
    ]);
    let fb = random_file(b.tmp.path(), "b.bin", 2 * MIB, 2);
    b.ok(&["ingest", fb.to_str().unwrap(), "--device", "cam-01"]);
    a.ok(&[
        "activity",
        "interruption",
        "A-1",
        "--reason",
        "weather",
        "--basis",
        "暴雨",
        "--from",
        "2026-11-20T09:30:00Z",
        "--to",
        "2026-11-20T09:40:00Z",
        "--by",
        "1001",
    ]);

    let ra = a.sync_once();
    let rb = b.sync_once();
    assert_eq!(ra["items_verified"], 2, "{ra}");
    assert_eq!(rb["items_verified"], 1, "{rb}");
    let items = center.verified_items();
    assert_eq!(items.len(), 3);
    for i in &items {
        let county = i["item"]["county"].as_str().unwrap();
        assert_eq!(i["origin"], format!("edge-{county}"));
    }
    // a listing read by a reader that stopped (`center items | head -0`) ends
    // quietly with success, not with a panic on the closed pipe
    for args in [&["items"][..], &["--json", "items"]] {
        let out = center.run_into_closed_pipe(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "center {args:?}: {:?} {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // both edges know their items are verified, with a custody event for it
    for e in [&a, &b] {
        for item in e.items() {
            assert!(item["center_verified_at"].is_number(), "{item}");
            let shown = &e.json(&["item", item["hash"].as_str().unwrap()])[0];
            assert!(shown["custody"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["action"] == "verified_at_center"));
        }
    }
    // each county sees its own documents and the city's, never the other county's
    let docs_a = center.docs("410422");
    assert!(docs_a.contains_key("activity/410422/A-1") && docs_a.contains_key("catalogue"));
    assert!(!a.docs().keys().any(|n| n.contains("410423")));

    // the bureau approves the interruption and sets a hold; the edge gets both
    let out = center.run(&[
        "approve",
        "--county",
        "410422",
        "--activity",
        "A-1",
        "--interruption",
        "I1",
        "--as",
        "局长",
    ]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let out = center.run(&[
        "hold",
        "--county",
        "410422",
        "--activity",
        "A-1",
        "--reason",
        "当事人有异议",
    ]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    a.sync_once();
    let act = &a.json(&["activity", "show", "A-1"])[0];
    assert_eq!(
        act["interruptions"][0]["approval"]["state"], "approved",
        "{act}"
    );
    assert_eq!(act["interruptions"][0]["approval"]["by"], "局长");
    assert_eq!(act["hold"]["reason"], "当事人有异议");

    // a second sync with nothing new sends nothing
    let again = a.sync_once();
    assert_eq!(again["bytes_sent"], 0, "{again}");
    assert_eq!(again["docs_synced"], 0, "{again}");
    assert_converged(&center, &a, "410422");
    assert_converged(&center, &b, "410423");
    let edges = center.json(&["edges"]);
    assert_eq!(edges.len(), 2);
}

#[test]
fn a_node_writes_only_what_it_owns() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    // an edge whose configuration claims county 410499 but whose certificate says 410422
    let liar = Edge::office_with_a1("410499");
    let f = random_file(liar.tmp.path(), "x.bin", MIB, 3);
    liar.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    liar.link(&ca, &center, "410422", "");
    let out = liar.run(&["--json", "sync", "--once"]);
    let text = jilu_tests::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("\"refused_items\":[\""), "{text}");
    let status = &liar.json(&["status"])[0];
    assert!(
        status["refused"][0][1]
            .as_str()
            .unwrap()
            .contains("but the sender is edge-410499 of county 410422"),
        "{status}"
    );
    assert!(
        center.verified_items().is_empty(),
        "an item attributed to another county was accepted"
    );
    assert!(
        !center.docs("410499").keys().any(|n| n.contains("410499")),
        "another county's document was written"
    );
    // the refusal is on record at the center, attributed to the certificate's node
    let audit = center.run(&["audit-verify"]);
    assert!(audit.status.success());
    // an honest edge of 410422 editing the city's catalogue is refused, its own documents still merge
    let honest = Edge::office_with_a1("410422");
    honest.ok(&[
        "matter",
        "set",
        "9",
        "--category",
        "其他",
        "--matter",
        "本地改动",
    ]);
    honest.link(&ca, &center, "410422", "");
    let report = honest.sync_once();
    assert_eq!(
        report["docs_refused"],
        serde_json::json!(["catalogue"]),
        "{report}"
    );
    assert!(center.docs("410422").contains_key("activity/410422/A-1"));
    let catalogue = center
        .json(&["docs"])
        .into_iter()
        .find(|d| d["name"] == "catalogue")
        .unwrap();
    assert!(
        catalogue["content"]["matters"].get("9").is_none(),
        "the edge's catalogue edit reached the center"
    );
}

#[test]
fn wrong_ca_revoked_and_center_impostor_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let f = |e: &Edge, seed| {
        let p = random_file(e.tmp.path(), "f.bin", 1000, seed);
        e.ok(&["ingest", p.to_str().unwrap(), "--device", "cam-01"]);
    };

    // a certificate from another CA: the handshake fails
    let other_root = tempfile::tempdir().unwrap();
    let other = Ca::new(other_root.path());
    let stranger = Edge::office("410422", 0);
    f(&stranger, 1);
    let certs = other.issue(&stranger.node(), "410422", "edge");
    stranger.install_certs(&certs, &stranger.node());
    std::fs::copy(ca.dir.join("ca.pem"), stranger.dir.join("certs/ca.pem")).unwrap();
    stranger.set_center(&center.addr.to_string(), &center.name, &stranger.node(), "");
    let out = timeout_sync(&stranger);
    assert!(out.contains("offline") || out.contains("refused"), "{out}");
    assert!(stranger
        .items()
        .iter()
        .all(|i| i["center_verified_at"].is_null()));

    // a revoked edge: refused at the handshake once the CRL is installed
    let revoked = Edge::office("410423", 0);
    f(&revoked, 2);
    revoked.link(&ca, &center, "410423", "");
    ca.revoke(&revoked.node());
    center.install_crl(&ca);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let out = timeout_sync(&revoked);
    assert!(
        revoked
            .items()
            .iter()
            .all(|i| i["center_verified_at"].is_null()),
        "{out}"
    );

    // an edge certificate presented as the center: the edge refuses to talk to it
    let fake_root = tempfile::tempdir().unwrap();
    let impostor_certs = ca.issue("impostor", "410424", "edge");
    let fake_dir = fake_root.path().join("fake");
    std::fs::create_dir_all(&fake_dir).unwrap();
    let port = jilu_tests::cluster::free_port();
    std::fs::write(
        fake_dir.join("center.toml"),
        format!(
            "node = \"center-city\"\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n[tls]\ncert = \"{0}/impostor.pem\"\nkey = \"{0}/impostor.key\"\nca = \"{0}/ca.pem\"\ncrl = \"{1}\"\n",
            impostor_certs.display(),
            ca.crl().display()
        ),
    )
    .unwrap();
    let mut fake = std::process::Command::new(jilu_tests::binary("center"))
        .arg("--config")
        .arg(fake_dir.join("center.toml"))
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let victim = Edge::office("410425", 0);
    f(&victim, 3);
    victim.link(&ca, &center, "410425", "");
    victim.set_center(&format!("127.0.0.1:{port}"), "impostor", &victim.node(), "");
    let out = timeout_sync(&victim);
    let _ = fake.kill();
    let _ = fake.wait();
    assert!(
        victim
            .items()
            .iter()
            .all(|i| i["center_verified_at"].is_null()),
        "{out}"
    );
    let status = &victim.json(&["status"])[0];
    assert!(
        status["link"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("certificate"),
        "{status}"
    );
    assert!(center.verified_items().is_empty());
}

/// `sync --once` against a center that refuses us: it must give up, not hang.
fn timeout_sync(e: &Edge) -> String {
    let out = e.run(&["sync", "--once", "--give-up", "3"]);
    let text = jilu_tests::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("gave up after 3s"), "{text}");
    format!("{text}{}", e.ok(&["status"]))
}

/// An expired certificate, properly signed by the city CA (made here with rcgen:
/// `certs` refuses to issue one).
#[test]
fn an_expired_certificate_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let e = Edge::office("410426", 0);
    let f = random_file(e.tmp.path(), "f.bin", 1000, 9);
    e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    e.link(&ca, &center, "410426", "");
    let node = e.node();
    let ca_pem = std::fs::read_to_string(ca.dir.join("ca.pem")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca.dir.join("ca.key")).unwrap()).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![node.clone()]).unwrap();
    params.subject_alt_names.push(rcgen::SanType::URI(
        format!("jilu://edge/410426/{node}").try_into().unwrap(),
    ));
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(e.dir.join(format!("certs/{node}.pem")), cert.pem()).unwrap();
    std::fs::write(e.dir.join(format!("certs/{node}.key")), key.serialize_pem()).unwrap();
    timeout_sync(&e);
    assert!(e.items().iter().all(|i| i["center_verified_at"].is_null()));
    assert!(center.verified_items().is_empty());
}

/// Revocation applies to a node that is connected when its certificate is revoked:
/// the CRL reload closes its connection and its reconnects are refused.
#[test]
fn revoking_a_connected_node_closes_its_connection() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let e = Edge::office("410427", 0);
    e.link(&ca, &center, "410427", "");
    let mut daemon = e
        .cmd()
        .args(["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let online = |e: &Edge| e.json(&["status"])[0]["link"]["state"] == "online";
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        for _ in 0..100 {
            if f() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}");
    };
    wait("the edge to connect", &|| online(&e));
    ca.revoke(&e.node());
    center.install_crl(&ca);
    wait("the center to close the revoked connection", &|| {
        let audit = center.run(&["--json", "audit-verify"]);
        audit.status.success() && {
            let edges = center.json(&["edges"]);
            edges
                .iter()
                .any(|p| p["node"] == e.node() && p["connected"] == false)
        }
    });
    // footage ingested after the revocation (through the running node, which keeps
    // redialling) never reaches the center: not through the node's own sync, nor
    // through a sync asked of it, nor after it stopped
    let f = random_file(e.tmp.path(), "late.bin", 1000, 10);
    e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    timeout_sync(&e);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    timeout_sync(&e);
    assert!(center.verified_items().is_empty());
}

/// The bandwidth cap holds: 6 MiB at 2 MiB/s (1 MiB burst) cannot take less than 2.5 s.
#[test]
fn the_bandwidth_cap_paces_uploads() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let e = Edge::office("410428", 0);
    let f = random_file(e.tmp.path(), "six.bin", 6 * MIB, 11);
    e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    e.link(&ca, &center, "410428", "bandwidth_bytes_per_sec = 2097152");
    let started = std::time::Instant::now();
    let report = e.sync_once();
    let took = started.elapsed().as_secs_f64();
    assert_eq!(report["items_verified"], 1, "{report}");
    assert!(
        took >= 2.4,
        "6 MiB under a 2 MiB/s cap took only {took:.2} s"
    );
    eprintln!("6 MiB under a 2 MiB/s cap: {took:.2} s");
}
