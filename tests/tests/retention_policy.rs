#![allow(clippy::unwrap_used)]
//! Art. 15 per matter, against a real `center run` fed by a real edge: the
//! `[retention]` section of center.toml sets each matter's period (down to
//! seconds), the API's `expires_at` and the expiry index follow it, a changed
//! policy re-projects every item when the center starts, and a bad period stops
//! the center with one line naming it.

use jilu_tests::api::{get, staff};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{random_file, Edge};
use serde_json::Value;

fn ms(t: &str) -> i64 {
    jilu_common::time::parse(t).unwrap()
}

fn ingest(e: &Edge, name: &str, seed: u64, activity: Option<&str>) -> String {
    let f = random_file(e.tmp.path(), name, 40_000, seed);
    let mut args = vec!["ingest", f.to_str().unwrap(), "--device", "cam-01"];
    if let Some(a) = activity {
        args.extend(["--activity", a]);
    }
    e.json(&args)[0]["hash"].as_str().unwrap().to_string()
}

fn listed_before(api: std::net::SocketAddr, token: &str, t: i64) -> Vec<String> {
    get(
        api,
        &format!("/api/v1/items?expires_before={t}&limit=50"),
        token,
    )
    .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["hash"].as_str().unwrap().to_string())
        .collect()
}

fn set_policy(center: &Center, policy: &str) {
    let text = std::fs::read_to_string(&center.config).unwrap();
    let base = text.split("[retention]").next().unwrap().to_string();
    std::fs::write(&center.config, format!("{base}{policy}")).unwrap();
}

#[test]
fn each_matter_keeps_its_footage_for_its_own_period() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    // matter 1 (A-1's, see Edge::new_activity) keeps 10 s; the rest 30 days
    let policy = "[retention]\ndefault = \"30 days\"\n[retention.matters]\n\"1\" = \"10 s\"\n";
    let mut center = Center::start_with(root.path(), &ca, policy, false);
    let edge = Edge::office("410422", 0);
    edge.new_activity("A-1");
    edge.link(&ca, &center, "410422", "");
    let linked = ingest(&edge, "a.bin", 1, Some("A-1"));
    let unlinked = ingest(&edge, "b.bin", 2, None);
    assert_eq!(edge.sync_once()["items_verified"], 2);
    let staff = staff(&center, "410422");
    let api = center.http;
    let item = |h: &str| -> Value {
        get(api, &format!("/api/v1/items/{h}"), &staff["keeper"]).json()["item"].clone()
    };
    // A-1 ended 2026-11-20T10:00Z: its footage may go 10 s later
    let departure = ms("2026-11-20T10:00:00Z");
    assert_eq!(item(&linked)["expires_at"], departure + 10_000);
    let u = item(&unlinked);
    let capture_end = u["capture_start"].as_i64().unwrap() + u["duration_ms"].as_i64().unwrap_or(0);
    assert_eq!(u["expires_at"], capture_end + 30 * 86_400_000);
    // the expiry index agrees, to the millisecond
    let before = |t| listed_before(api, &staff["keeper"], t);
    assert!(!before(departure + 10_000).contains(&linked));
    assert!(before(departure + 10_001).contains(&linked));
    assert!(!before(departure + 10_001).contains(&unlinked));

    // the bureau lengthens matter 1 to a year: after a restart the index moved
    center.kill9();
    set_policy(
        &center,
        "[retention]\ndefault = \"30 days\"\n[retention.matters]\n\"1\" = \"1 year\"\n",
    );
    center.restart();
    assert_eq!(item(&linked)["expires_at"], ms("2027-11-20T10:00:00Z"));
    let before = |t| listed_before(api, &staff["keeper"], t);
    assert!(!before(departure + 10_001).contains(&linked));
    assert!(before(ms("2027-11-20T10:00:00Z") + 1).contains(&linked));
    let out = center.run(&["reindex", "--check"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));

    // a period the center cannot read: one line naming it, the center does not start
    center.kill9();
    set_policy(&center, "[retention]\ndefault = \"3 fortnights\"\n");
    let out = center.run(&["run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retention period \"3 fortnights\""), "{err}");
    assert!(err.trim().lines().count() <= 3, "{err}");
}
