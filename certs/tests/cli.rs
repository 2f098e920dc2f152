//! The `certs` binary as an operator uses it: files where `--help` says, one
//! `error:` line and exit status 1 on failure, and nothing changed when it fails.

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use util::*;

fn certs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certs"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("JILU_CA_DIR")
        .output()
        .expect("run certs")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

/// Asserts a failure reported the way the CLI promises; returns the message.
fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out));
    let err = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    err
}

#[test]
fn operator_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let out = ok(certs(&dir, &["init", "--name", "Pingdingshan City CA"]));
    assert!(out.contains("Pingdingshan City CA"), "{out}");
    assert_eq!(
        fs::metadata(dir.join("ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let out = ok(certs(
        &dir,
        &[
            "issue",
            "--node",
            "edge-410422",
            "--county",
            "410422",
            "--role",
            "edge",
        ],
    ));
    assert!(out.contains("serial"), "{out}");
    let node_dir = dir.join("nodes/edge-410422");
    for file in ["edge-410422.pem", "edge-410422.key", "ca.pem", "crl.pem"] {
        assert!(node_dir.join(file).is_file(), "{file} missing; {out}");
    }
    let key_mode = fs::metadata(node_dir.join("edge-410422.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    let custom = tmp.path().join("to-center");
    ok(certs(
        &dir,
        &[
            "issue",
            "--node",
            "center",
            "--county",
            "city",
            "--role",
            "center",
            "--days",
            "400",
            "--out",
            p(&custom),
        ],
    ));
    let center = custom.join("center.pem");
    let ca = custom.join("ca.pem");
    let edge = node_dir.join("edge-410422.pem");
    let verify = openssl(&["verify", "-CAfile", p(&ca), p(&center), p(&edge)]);
    assert!(verify.status.success(), "{}", text(&verify));

    let out = ok(certs(
        &dir,
        &["revoke", "edge-410422", "--reason", "keyCompromise"],
    ));
    assert!(
        out.contains(p(&dir.join("crl.pem"))),
        "says where the CRL is: {out}"
    );
    let crl = dir.join("crl.pem");
    let check = |cert: &Path| {
        openssl(&[
            "verify",
            "-crl_check",
            "-CRLfile",
            p(&crl),
            "-CAfile",
            p(&ca),
            p(cert),
        ])
    };
    assert!(!check(&edge).status.success(), "{}", text(&check(&edge)));
    assert!(check(&center).status.success(), "{}", text(&check(&center)));

    ok(certs(&dir, &["crl", "--days", "7"]));
    assert_eq!(openssl_crl_number(&crl), 3);

    let table = ok(certs(&dir, &["list"]));
    assert!(
        table.contains("edge-410422") && table.contains("keyCompromise"),
        "{table}"
    );
    assert!(table.contains("CRL number 3"), "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(certs(&dir, &["list", "--json"]))).unwrap();
    assert_eq!(json["crl"]["number"], 3);
    assert_eq!(json["crl"]["days"], 7);
    let certsv = json["certificates"].as_array().unwrap();
    assert_eq!(certsv.len(), 2);
    assert_eq!(certsv[0]["node"], "edge-410422");
    assert_eq!(certsv[0]["status"], "revoked");
    assert_eq!(certsv[0]["reason"], "keyCompromise");
    assert_eq!(certsv[1]["role"], "center");
    assert_eq!(certsv[1]["status"], "valid");
    assert!(certsv[1]["revoked_at"].is_null());

    // --replace gives the revoked node a new certificate; a live one needs it too.
    ok(certs(
        &dir,
        &[
            "issue",
            "--node",
            "edge-410422",
            "--county",
            "410422",
            "--role",
            "edge",
        ],
    ));
    let err = fails(certs(
        &dir,
        &[
            "issue",
            "--node",
            "edge-410422",
            "--county",
            "410422",
            "--role",
            "edge",
        ],
    ));
    assert!(err.contains("--replace"), "{err}");
    let out = ok(certs(
        &dir,
        &[
            "issue",
            "--node",
            "edge-410422",
            "--county",
            "410422",
            "--role",
            "edge",
            "--replace",
        ],
    ));
    assert!(out.contains("superseded"), "{out}");
    assert!(check(&node_dir.join("edge-410422.pem")).status.success());
}

#[test]
fn failures_print_one_line_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let err = fails(certs(&dir, &["list"]));
    assert!(err.contains("certs init"), "{err}");
    assert!(!dir.exists(), "list created the folder");

    ok(certs(&dir, &["init"]));
    ok(certs(
        &dir,
        &[
            "issue", "--node", "e1", "--county", "410422", "--role", "edge",
        ],
    ));
    let before = snapshot(&dir);

    let cases: &[(&[&str], &str)] = &[
        (&["init"], "already exists"),
        (
            &["issue", "--node", "a/b", "--county", "1", "--role", "edge"],
            "invalid node name",
        ),
        (
            &["issue", "--node", "..", "--county", "1", "--role", "edge"],
            "invalid node name",
        ),
        (
            &["issue", "--node", "ok", "--county", "县", "--role", "edge"],
            "invalid county code",
        ),
        (
            &["issue", "--node", "ok", "--county", "1", "--role", "boss"],
            "boss",
        ),
        (
            &[
                "issue", "--node", "ok", "--county", "1", "--role", "edge", "--days", "0",
            ],
            "days",
        ),
        (
            &[
                "issue", "--node", "e1", "--county", "410422", "--role", "edge",
            ],
            "--replace",
        ),
        (&["issue", "--node", "ok", "--county", "1"], "--role"),
        (&["revoke", "nobody"], "no valid certificate"),
        (&["revoke", "e1", "--reason", "lost"], "lost"),
        (&["crl", "--days", "0"], "days"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let err = fails(certs(&dir, args));
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(snapshot(&dir), before, "{args:?} changed files");
    }
}

#[test]
fn ca_folder_comes_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("from-env");
    let out = Command::new(env!("CARGO_BIN_EXE_certs"))
        .arg("init")
        .env("JILU_CA_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.join("ca.pem").is_file());
}

#[test]
fn help_explains_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_certs"))
        .arg("--help")
        .output()
        .unwrap();
    let help = ok(out);
    for word in [
        "init",
        "issue",
        "revoke",
        "list",
        "crl",
        "JILU_CA_DIR",
        "crl.pem",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_certs"))
        .args(["issue", "--help"])
        .output()
        .unwrap();
    let help = ok(out);
    for word in [
        "--node",
        "--county",
        "--role",
        "edge",
        "replica",
        "--replace",
        "--out",
    ] {
        assert!(
            help.contains(word),
            "{word} missing from issue --help:\n{help}"
        );
    }
}
