#![allow(clippy::unwrap_used)]
//! What an operator sees of a running center: `/metrics` counts QUIC refusals by
//! reason, and `center user add` asks for a password on a terminal without
//! echoing it (a pipe still works, as the other tests' accounts show).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use jilu_tests::api::request;
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{binary, random_file, Edge};

fn refusals(center: &Center) -> std::collections::BTreeMap<String, u64> {
    let r = request(center.http, "GET", "/metrics", None, &[], None);
    assert_eq!(r.status, 200);
    String::from_utf8_lossy(&r.body)
        .lines()
        .filter_map(|l| l.strip_prefix("jilu_quic_refusals_total{reason=\""))
        .map(|l| {
            let (reason, n) = l.split_once("\"} ").unwrap();
            (reason.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn metrics_count_quic_refusals_by_reason() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let before = refusals(&center);
    assert!(before.len() >= 8, "{before:?}");
    assert!(before.values().all(|n| *n == 0), "{before:?}");

    // a certificate from another CA: refused in the handshake
    let other_root = tempfile::tempdir().unwrap();
    let other = Ca::new(other_root.path());
    let stranger = Edge::office("410422", 0);
    let certs = other.issue(&stranger.node(), "410422", "edge");
    stranger.install_certs(&certs, &stranger.node());
    std::fs::copy(ca.dir.join("ca.pem"), stranger.dir.join("certs/ca.pem")).unwrap();
    stranger.set_center(&center.addr.to_string(), &center.name, &stranger.node(), "");
    let out = stranger.run(&["sync", "--once", "--give-up", "2"]);
    assert!(!out.status.success());

    // an edge whose records claim another county than its certificate: offers refused
    let liar = Edge::office_with_a1("410499");
    let f = random_file(liar.tmp.path(), "x.bin", 4096, 3);
    liar.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    liar.link(&ca, &center, "410422", "");
    let out = liar.run(&["--json", "sync", "--once", "--give-up", "5"]);
    assert!(
        jilu_tests::text(&out).contains("\"refused_items\":[\""),
        "{}",
        jilu_tests::text(&out)
    );

    let after = refusals(&center);
    assert!(after["handshake"] >= 1, "{after:?}");
    assert!(after["offer"] >= 1, "{after:?}");
    for quiet in ["identity", "revoked", "no_hello", "item_stream"] {
        assert_eq!(after[quiet], 0, "{quiet}: {after:?}");
    }
}

#[test]
fn the_password_prompt_does_not_echo_on_a_terminal() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let password = "typed secret words";
    let line = format!(
        "{} --config {} --as admin-cli user add typist --role supervisor",
        binary("center").display(),
        center.config.display()
    );
    // `script` runs the command on a pseudo-terminal and copies what the terminal
    // shows to its stdout; the password is typed once the prompt is up
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("password:"), "{shown}");
    assert!(
        !shown.contains(password),
        "the password was echoed: {shown}"
    );
    // and it was read: the account logs in with it
    let body = format!("{{\"name\": \"typist\", \"password\": \"{password}\"}}");
    let r = request(center.http, "POST", "/api/v1/login", None, &[], Some(&body));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
