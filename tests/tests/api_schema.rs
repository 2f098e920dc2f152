#![allow(clippy::unwrap_used)]
//! The OpenAPI document matches the server: schemathesis (PyPI; `scripts/test`
//! installs it) generates requests for every operation of
//! `/api/v1/openapi.json` and checks each answer against the document (status
//! codes, content types, response schemas) and that none is a server error,
//! against a real center fed by a real edge.

use jilu_tests::api::{add_user, token};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::random_file;

#[test]
fn schemathesis_finds_the_server_as_documented() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let edge = jilu_tests::api::office_with_a1(&ca, &center);
    let f = random_file(edge.tmp.path(), "a.bin", 50_000, 4);
    edge.ok(&[
        "ingest",
        f.to_str().unwrap(),
        "--device",
        "cam-01",
        "--activity",
        "A-1",
    ]);
    edge.sync_once();
    add_user(&center, "supervisor", "supervisor", None);
    let (t, _) = token(&center, "supervisor", None);
    let url = format!("http://{}/api/v1/openapi.json", center.http);
    let out = std::process::Command::new("schemathesis")
        .args(["run", &url, "--url", &format!("http://{}", center.http)])
        .args(["-H", &format!("Authorization: Bearer {t}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing", "-n", "25", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis is not installed: run scripts/test (it installs it) or pip install schemathesis");
    let text = jilu_tests::text(&out);
    assert!(
        out.status.success(),
        "schemathesis found the server unlike its document:\n{text}"
    );
}
