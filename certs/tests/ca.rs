//! The CA's files judged by outsiders: the real `openssl` binary, x509-parser, and
//! the rustls verifiers the center and edges will use.

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;

use jilu_certs::{identity_from_der, Ca, CertError, IssueRequest, RevokeReason, Role};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use util::*;

/// What each role's certificate must allow, written out rather than asked of
/// `Role`, so a wrong `Role` cannot agree with itself: (clientAuth, serverAuth).
fn expected_usages(role: Role) -> (bool, bool) {
    match role {
        Role::Edge => (true, false),
        Role::Center => (false, true),
        Role::Replica => (true, true),
        Role::Web => (false, true),
    }
}
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

#[test]
fn openssl_verify_accepts_every_role_and_its_purpose_only() {
    let mut f = Fixture::new();
    for role in Role::ALL {
        let node = format!("n-{role}");
        let cert = f.issue(&node, role);
        let ca = f.ca_pem();
        let out = openssl(&["verify", "-x509_strict", "-CAfile", p(&ca), p(&cert)]);
        assert!(out.status.success(), "{role}: {}", text(&out));
        assert!(text(&out).contains(": OK"), "{}", text(&out));

        // openssl's own purpose checks read the EKU: a client-only cert is not a server.
        let (client, server) = expected_usages(role);
        for (purpose, allowed) in [("sslclient", client), ("sslserver", server)] {
            let out = openssl(&["verify", "-purpose", purpose, "-CAfile", p(&ca), p(&cert)]);
            assert_eq!(
                out.status.success(),
                allowed,
                "{role} as {purpose}: {}",
                text(&out)
            );
        }
    }
}

#[test]
fn extensions_are_what_the_role_says() {
    let mut f = Fixture::new();
    for role in Role::ALL {
        let node = format!("node.{role}");
        let path = f.issue(&node, role);
        let der = der(&path);
        let (_, cert) = parse_x509_certificate(&der).unwrap();

        let eku = cert
            .extended_key_usage()
            .unwrap()
            .expect("EKU present")
            .value;
        let (client, server) = expected_usages(role);
        assert_eq!(eku.client_auth, client, "{role} clientAuth");
        assert_eq!(eku.server_auth, server, "{role} serverAuth");
        assert!(
            !eku.any && !eku.code_signing && eku.other.is_empty(),
            "{role}"
        );

        let ku = cert.key_usage().unwrap().expect("key usage present").value;
        assert!(ku.digital_signature(), "{role}");
        assert!(
            !ku.key_cert_sign() && !ku.crl_sign(),
            "{role}: must not sign"
        );
        let bc = cert
            .basic_constraints()
            .unwrap()
            .expect("basic constraints");
        assert!(!bc.value.ca, "{role}: must not be a CA");

        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), node);
        let san = cert.subject_alternative_name().unwrap().unwrap();
        let names = &san.value.general_names;
        let uri = format!("jilu://{role}/410422/{node}");
        assert!(names.contains(&GeneralName::URI(&uri)), "{names:?}");
        assert!(names.contains(&GeneralName::DNSName(&node)), "{names:?}");

        let serial = cert.raw_serial();
        assert_eq!(serial.len(), 16, "16 random bytes, none lost to DER");
        assert!(serial[0] & 0x80 == 0, "positive serial");

        // The same, as openssl prints it.
        let out = openssl(&[
            "x509",
            "-in",
            p(&path),
            "-noout",
            "-ext",
            "extendedKeyUsage",
        ]);
        let printed = text(&out);
        assert!(out.status.success(), "{printed}");
        assert_eq!(
            printed.contains("TLS Web Client Authentication"),
            client,
            "{role}: {printed}"
        );
        assert_eq!(
            printed.contains("TLS Web Server Authentication"),
            server,
            "{role}: {printed}"
        );
    }
}

#[test]
fn ca_certificate_is_a_constrained_signer() {
    let f = Fixture::new();
    let der = der(&f.ca_pem());
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    assert!(!ku.digital_signature());
    assert_eq!(f.ca.name(), "Test City CA");
    // The CA has no identity: it must never be mistaken for a node.
    assert!(matches!(
        identity_from_der(&der),
        Err(CertError::NoIdentity)
    ));
}

#[test]
fn private_keys_are_owner_only() {
    let mut f = Fixture::new();
    let mode = |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f.ca_dir().join("ca.key")), 0o600);
    assert_eq!(mode(&f.ca_pem()), 0o644);

    let out = f.tmp.path().join("out");
    let report =
        f.ca.issue_with(&IssueRequest {
            node: "edge-1".into(),
            county: "410422".into(),
            role: Role::Edge,
            days: 30,
            replace: false,
            out: Some(out.clone()),
            dns: Vec::new(),
            ips: Vec::new(),
        })
        .unwrap();
    assert_eq!(report.files.len(), 4);
    assert_eq!(mode(&out.join("edge-1.key")), 0o600);
    assert_eq!(mode(&out.join("edge-1.pem")), 0o644);
    assert_eq!(mode(&out), 0o700, "the folder holds a key");
    // The copies beside the key are the CA's current files.
    assert_eq!(
        fs::read(out.join("ca.pem")).unwrap(),
        fs::read(f.ca_pem()).unwrap()
    );
    assert_eq!(
        fs::read(out.join("crl.pem")).unwrap(),
        fs::read(f.crl_pem()).unwrap()
    );
    assert_eq!(
        fs::read_to_string(out.join("edge-1.key")).unwrap(),
        report.issued.key_pem
    );
}

#[test]
fn revoked_certificate_fails_crl_check_and_others_pass() {
    let mut f = Fixture::new();
    let bad = f.issue("edge-bad", Role::Edge);
    let good = f.issue("edge-good", Role::Edge);
    let center = f.issue("center", Role::Center);
    let (ca, crl) = (f.ca_pem(), f.crl_pem());
    let verify = |cert: &std::path::Path| {
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
    // Before: the CRL is empty and everyone passes.
    for cert in [&bad, &good, &center] {
        assert!(verify(cert).status.success(), "{}", text(&verify(cert)));
    }

    let revoked =
        f.ca.revoke("edge-bad", RevokeReason::KeyCompromise)
            .unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].reason, Some(RevokeReason::KeyCompromise));

    let out = openssl(&["crl", "-in", p(&crl), "-CAfile", p(&ca), "-noout"]);
    assert!(out.status.success(), "CRL signature: {}", text(&out));
    assert!(text(&out).contains("verify OK"), "{}", text(&out));

    let out = verify(&bad);
    assert!(
        !out.status.success(),
        "revoked cert accepted: {}",
        text(&out)
    );
    assert!(text(&out).contains("certificate revoked"), "{}", text(&out));
    for cert in [&good, &center] {
        assert!(verify(cert).status.success(), "{}", text(&verify(cert)));
    }

    let out = openssl(&["crl", "-in", p(&crl), "-noout", "-text"]);
    let serial = revoked[0].serial.to_uppercase();
    assert!(text(&out).contains(&serial), "{}", text(&out));
    assert!(text(&out).contains("Key Compromise"), "{}", text(&out));

    // Nothing left to revoke.
    let err =
        f.ca.revoke("edge-bad", RevokeReason::Unspecified)
            .unwrap_err();
    assert!(matches!(err, CertError::NothingToRevoke { .. }), "{err}");
    let err =
        f.ca.revoke("nobody", RevokeReason::Unspecified)
            .unwrap_err();
    assert!(matches!(err, CertError::NothingToRevoke { .. }), "{err}");
}

#[test]
fn crl_number_increments_with_every_new_crl() {
    let mut f = Fixture::new();
    let number = |f: &Fixture| {
        let der = jilu_certs::pem::load_crls(f.crl_pem()).unwrap().remove(0);
        let (_, crl) = parse_x509_crl(&der).unwrap();
        let parsed: u64 = crl.crl_number().unwrap().to_string().parse().unwrap();
        assert_eq!(parsed, openssl_crl_number(&f.crl_pem()));
        assert_eq!(parsed, f.ca.crl_number());
        parsed
    };
    assert_eq!(number(&f), 1);
    f.issue("a", Role::Edge);
    assert_eq!(number(&f), 1, "issuing alone does not touch the CRL");
    f.ca.revoke("a", RevokeReason::CessationOfOperation)
        .unwrap();
    assert_eq!(number(&f), 2);

    let before = f.ca.crl_next_update().unwrap();
    f.ca.refresh_crl(Some(90)).unwrap();
    assert_eq!(number(&f), 3);
    let after = f.ca.crl_next_update().unwrap();
    assert!(
        after - before > ::time::Duration::days(59),
        "{before} -> {after}"
    );
    assert_eq!(f.ca.crl_days(), 90);
    // The refreshed CRL still lists the revocation.
    let crls = jilu_certs::pem::load_crls(f.crl_pem()).unwrap();
    let (_, crl) = parse_x509_crl(&crls[0]).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 1);

    f.issue("b", Role::Edge);
    let mut req = IssueRequest {
        node: "b".into(),
        county: "410422".into(),
        role: Role::Edge,
        days: 30,
        replace: true,
        out: None,
        dns: Vec::new(),
        ips: Vec::new(),
    };
    f.ca.issue_with(&req).unwrap();
    assert_eq!(number(&f), 4, "--replace revokes, so the CRL changes");
    // A reopened CA continues the sequence.
    let mut reopened = Ca::open(f.ca_dir()).unwrap();
    assert_eq!(reopened.crl_number(), 4);
    reopened.refresh_crl(None).unwrap();
    assert_eq!(openssl_crl_number(&f.crl_pem()), 5);
    assert_eq!(reopened.crl_days(), 90, "the chosen validity is remembered");
    req.node = "c".into();
    req.replace = true;
    reopened.issue_with(&req).unwrap();
    assert_eq!(
        openssl_crl_number(&f.crl_pem()),
        5,
        "nothing to replace, no new CRL"
    );
}

#[test]
fn identity_round_trips_for_every_role() {
    let mut f = Fixture::new();
    for role in Role::ALL {
        let node = format!("{role}_01");
        let issued = f.ca.issue(&node, "4104-22", role, 30).unwrap();
        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let id = identity_from_der(&der).unwrap();
        assert_eq!(id.node, node);
        assert_eq!(id.county, "4104-22");
        assert_eq!(id.role, role);
        assert_eq!(id.uri(), format!("jilu://{role}/4104-22/{node}"));
    }
}

#[test]
fn identity_is_refused_without_or_with_a_bad_uri() {
    let key = rcgen::KeyPair::generate().unwrap();
    let make = |sans: Vec<rcgen::SanType>| {
        let mut params = rcgen::CertificateParams::new(vec!["edge-1".to_owned()]).unwrap();
        params.subject_alt_names.extend(sans);
        params.self_signed(&key).unwrap().der().to_vec()
    };
    let uri = |s: &str| rcgen::SanType::URI(s.try_into().unwrap());

    let err = identity_from_der(&make(vec![])).unwrap_err();
    assert!(matches!(err, CertError::NoIdentity), "{err}");
    let err = identity_from_der(&make(vec![uri("https://example.org/x")])).unwrap_err();
    assert!(matches!(err, CertError::NoIdentity), "{err}");
    for bad in [
        "jilu://boss/410422/e",
        "jilu://edge/410422",
        "jilu://edge/a b/e",
    ] {
        let err = identity_from_der(&make(vec![uri(bad)])).unwrap_err();
        assert!(matches!(err, CertError::BadIdentity { .. }), "{bad}: {err}");
    }
    // Two identities in one certificate: refuse rather than pick one.
    let two = make(vec![uri("jilu://edge/1/a"), uri("jilu://center/1/a")]);
    let err = identity_from_der(&two).unwrap_err();
    assert!(matches!(err, CertError::BadIdentity { .. }), "{err}");
    // A well-formed one is read.
    let ok = identity_from_der(&make(vec![uri("jilu://edge/1/a")])).unwrap();
    assert_eq!((ok.node.as_str(), ok.role), ("a", Role::Edge));

    let err = identity_from_der(b"not a certificate").unwrap_err();
    assert!(matches!(err, CertError::BadCertificate { .. }), "{err}");
}

#[test]
fn init_twice_refuses_and_changes_nothing() {
    let mut f = Fixture::new();
    f.issue("edge-1", Role::Edge);
    f.ca.revoke("edge-1", RevokeReason::Superseded).unwrap();
    let before = snapshot(&f.ca_dir());
    assert_eq!(before.len(), 4, "{before:?}");

    let err = Ca::init(f.ca_dir(), "Another CA", 100).unwrap_err();
    assert!(matches!(err, CertError::CaExists { .. }), "{err}");
    assert_eq!(snapshot(&f.ca_dir()), before, "files changed");

    // Any one CA file is enough to refuse.
    let dir = f.tmp.path().join("partial");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("ca.key"), b"precious").unwrap();
    let err = Ca::init(&dir, "X", 100).unwrap_err();
    assert!(matches!(err, CertError::CaExists { .. }), "{err}");
    assert_eq!(fs::read(dir.join("ca.key")).unwrap(), b"precious");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn bad_input_is_refused_with_one_line_and_changes_nothing() {
    let mut f = Fixture::new();
    f.issue("edge-1", Role::Edge);
    let before = snapshot(&f.ca_dir());
    let long = "x".repeat(65);
    let cases: Vec<(&str, &str, u32)> = vec![
        ("", "410422", 30),
        ("..", "410422", 30),
        ("a/b", "410422", 30),
        ("边缘", "410422", 30),
        (&long, "410422", 30),
        ("ok", "41 04", 30),
        ("ok", "", 30),
        ("ok", "410422", 0),
        ("ok", "410422", 40_000),
    ];
    for (node, county, days) in cases {
        let err = f.ca.issue(node, county, Role::Edge, days).unwrap_err();
        assert!(
            matches!(err, CertError::BadName { .. } | CertError::BadDays { .. }),
            "{node:?} {county:?} {days}: {err}"
        );
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
    }
    assert!(matches!(
        "boss".parse::<Role>(),
        Err(CertError::BadRole { .. })
    ));
    assert!(matches!(
        Ca::init(f.tmp.path().join("x"), "", 10),
        Err(CertError::BadCaName { .. })
    ));
    assert!(
        !f.tmp.path().join("x").exists(),
        "bad init created its folder"
    );
    assert_eq!(snapshot(&f.ca_dir()), before);
}

#[test]
fn second_live_certificate_needs_replace() {
    let mut f = Fixture::new();
    let first = f.ca.issue("edge-1", "410422", Role::Edge, 30).unwrap();
    let before = snapshot(&f.ca_dir());
    let err = f.ca.issue("edge-1", "410422", Role::Edge, 30).unwrap_err();
    assert!(matches!(err, CertError::AlreadyIssued { .. }), "{err}");
    assert!(err.to_string().contains("--replace"), "{err}");
    assert_eq!(snapshot(&f.ca_dir()), before);

    let report =
        f.ca.issue_with(&IssueRequest {
            node: "edge-1".into(),
            county: "410422".into(),
            role: Role::Edge,
            days: 30,
            replace: true,
            out: Some(f.tmp.path().join("out")),
            dns: Vec::new(),
            ips: Vec::new(),
        })
        .unwrap();
    assert_eq!(report.replaced.len(), 1);
    assert_eq!(report.replaced[0].reason, Some(RevokeReason::Superseded));
    let list = f.ca.list();
    assert_eq!(list.len(), 2);
    assert!(list[0].revoked_at.is_some() && list[1].revoked_at.is_none());

    let old = f.tmp.path().join("old.pem");
    fs::write(&old, &first.cert_pem).unwrap();
    let new = f.tmp.path().join("out/edge-1.pem");
    // The CRL copied beside the new certificate already lists the old one.
    let crl = f.tmp.path().join("out/crl.pem");
    let ca = f.ca_pem();
    let check = |cert: &std::path::Path| {
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
    assert!(!check(&old).status.success(), "{}", text(&check(&old)));
    assert!(check(&new).status.success(), "{}", text(&check(&new)));
    assert_eq!(fs::read(&crl).unwrap(), fs::read(f.crl_pem()).unwrap());
}

#[test]
fn failed_write_changes_nothing() {
    let mut f = Fixture::new();
    let before = snapshot(&f.ca_dir());
    // `out` is a file, so no node file can be written there.
    let blocker = f.tmp.path().join("blocker");
    fs::write(&blocker, b"x").unwrap();
    let err =
        f.ca.issue_with(&IssueRequest {
            node: "edge-1".into(),
            county: "410422".into(),
            role: Role::Edge,
            days: 30,
            replace: false,
            out: Some(blocker.join("sub")),
            dns: Vec::new(),
            ips: Vec::new(),
        })
        .unwrap_err();
    assert!(matches!(err, CertError::Io { .. }), "{err}");
    assert!(err.to_string().contains("blocker"), "{err}");
    assert_eq!(snapshot(&f.ca_dir()), before);
    assert!(f.ca.list().is_empty());
    // And the node can still be issued afterwards.
    f.issue("edge-1", Role::Edge);
}

#[test]
fn a_running_command_locks_out_others() {
    let mut f = Fixture::new();
    let lock = f.ca_dir().join(".certs.lock");
    fs::write(&lock, b"12345\n").unwrap();
    let before = snapshot(&f.ca_dir());
    let err = f.ca.issue("edge-1", "410422", Role::Edge, 30).unwrap_err();
    assert!(matches!(err, CertError::Locked { .. }), "{err}");
    let err = f.ca.refresh_crl(None).unwrap_err();
    assert!(matches!(err, CertError::Locked { .. }), "{err}");
    assert_eq!(snapshot(&f.ca_dir()), before);
    fs::remove_file(&lock).unwrap();
    f.issue("edge-1", Role::Edge);
    assert!(!lock.exists(), "lock released");
}

#[test]
fn changes_by_another_process_are_not_lost() {
    let mut f = Fixture::new();
    // Two handles on one folder, as two operators' commands would be.
    let mut other = Ca::open(f.ca_dir()).unwrap();
    other.issue("from-other", "410422", Role::Edge, 30).unwrap();
    f.issue("from-fixture", Role::Edge);
    let nodes: Vec<_> = Ca::open(f.ca_dir())
        .unwrap()
        .list()
        .iter()
        .map(|r| r.node.clone())
        .collect();
    assert_eq!(nodes, ["from-other", "from-fixture"]);

    // A revoke and a CRL refresh through a stale handle keep the other's work too.
    other.issue("late", "410422", Role::Edge, 30).unwrap();
    f.ca.revoke("from-fixture", RevokeReason::Superseded)
        .unwrap();
    other.revoke("late", RevokeReason::Superseded).unwrap();
    f.ca.refresh_crl(None).unwrap();
    let reopened = Ca::open(f.ca_dir()).unwrap();
    let revoked: Vec<_> = reopened
        .list()
        .iter()
        .filter(|r| r.revoked_at.is_some())
        .map(|r| r.node.as_str())
        .collect();
    assert_eq!(revoked, ["from-fixture", "late"]);
    assert_eq!(reopened.list().len(), 3);
    assert_eq!(reopened.crl_number(), 4);
    assert_eq!(openssl_crl_number(&f.crl_pem()), 4);
}

#[test]
fn open_explains_missing_and_damaged_folders() {
    let f = Fixture::new();
    let err = Ca::open(f.tmp.path().join("nowhere")).unwrap_err();
    assert!(matches!(err, CertError::NoCa { .. }), "{err}");
    assert!(err.to_string().contains("certs init"), "{err}");

    // A key from another CA.
    let other = Ca::init(f.tmp.path().join("other"), "Other", 10).unwrap();
    let copy = f.tmp.path().join("mixed");
    fs::create_dir(&copy).unwrap();
    for file in ["ca.pem", "issued.json", "crl.pem"] {
        fs::copy(f.ca_dir().join(file), copy.join(file)).unwrap();
    }
    fs::copy(other.dir().join("ca.key"), copy.join("ca.key")).unwrap();
    let err = Ca::open(&copy).unwrap_err();
    assert!(matches!(err, CertError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("ca.key"), "{err}");

    fs::write(f.ca_dir().join("issued.json"), b"{ truncated").unwrap();
    let err = Ca::open(f.ca_dir()).unwrap_err();
    assert!(matches!(err, CertError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("issued.json"), "{err}");
}

#[test]
fn node_certificates_end_with_the_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = Ca::init(tmp.path().join("ca"), "Short CA", 10).unwrap();
    ca.issue("edge-1", "410422", Role::Edge, 825).unwrap();
    let record = &ca.list()[0];
    assert_eq!(record.not_after, ca.not_after());
}

/// The center and replica check client certificates with rustls' WebPKI verifier and
/// this CA's CRL, enforcing the CRL's expiry; edges check the center the same way.
#[test]
fn rustls_verifiers_accept_what_the_ca_issues() {
    let mut f = Fixture::new();
    let edge = der(&f.issue("edge-1", Role::Edge));
    let revoked = der(&f.issue("edge-2", Role::Edge));
    let center = der(&f.issue("center", Role::Center));
    let replica = der(&f.issue("replica", Role::Replica));
    f.ca.revoke("edge-2", RevokeReason::KeyCompromise).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(jilu_certs::pem::load_certs(f.ca_pem()).unwrap().remove(0))
        .unwrap();
    let roots = Arc::new(roots);
    let crls = jilu_certs::pem::load_crls(f.crl_pem()).unwrap();
    let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .with_crls(crls.clone())
    .enforce_revocation_expiration()
    .build()
    .unwrap();
    let servers = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
        .with_crls(crls)
        .enforce_revocation_expiration()
        .build()
        .unwrap();

    let now = UnixTime::now();
    let client_ok = |der: &[u8], now| {
        clients
            .verify_client_cert(&CertificateDer::from(der.to_vec()), &[], now)
            .is_ok()
    };
    assert!(client_ok(&edge, now));
    assert!(client_ok(&replica, now));
    assert!(!client_ok(&revoked, now), "revoked edge accepted");
    assert!(!client_ok(&center, now), "center has no clientAuth");

    let server_ok = |der: &[u8], name: &'static str| {
        servers
            .verify_server_cert(
                &CertificateDer::from(der.to_vec()),
                &[],
                &ServerName::try_from(name).unwrap(),
                &[],
                now,
            )
            .is_ok()
    };
    assert!(server_ok(&center, "center"));
    assert!(server_ok(&replica, "replica"));
    assert!(!server_ok(&center, "replica"), "wrong server name accepted");
    assert!(!server_ok(&edge, "edge-1"), "edge has no serverAuth");

    // Once the CRL has expired, the center refuses everyone until `certs crl` runs.
    let after_crl = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        f.ca.crl_next_update().unwrap().unix_timestamp() as u64 + 60,
    ));
    assert!(!client_ok(&edge, after_crl), "expired CRL accepted");
}
