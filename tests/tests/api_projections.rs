#![allow(clippy::unwrap_used)]
//! The rest of the center's projections and decisions, against a real `center
//! run` fed by a real edge: items' own classes (the stricter of the item's and
//! its activity's governs), the expiry index of the ordinary retention,
//! overridden pre-use checks and interruptions waiting for approval as
//! findings, and a keeper's annotation reaching the edge. Each ends with
//! `center reindex --check` (the rebuilt projections equal the kept ones).

use jilu_tests::api::{get, request, staff};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{random_file, Edge};
use serde_json::Value;

struct City {
    _root: tempfile::TempDir,
    center: Center,
    edge: Edge,
    /// linked to A-1, unlinked
    linked: String,
    unlinked: String,
}

fn ingest(e: &Edge, name: &str, seed: u64, activity: Option<&str>) -> String {
    let f = random_file(e.tmp.path(), name, 50_000, seed);
    let mut args = vec!["ingest", f.to_str().unwrap(), "--device", "cam-01"];
    if let Some(a) = activity {
        args.extend(["--activity", a]);
    }
    e.json(&args)[0]["hash"].as_str().unwrap().to_string()
}

/// An office of county 410422 whose camera's clock was `offset_secs` off at
/// check-out (over 5 s: the check failed and was overridden), with A-1.
fn city(offset_secs: i64) -> City {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let edge = Edge::office("410422", offset_secs);
    edge.new_activity("A-1");
    edge.link(&ca, &center, "410422", "");
    let linked = ingest(&edge, "a.bin", 1, Some("A-1"));
    let unlinked = ingest(&edge, "b.bin", 2, None);
    let r = edge.sync_once();
    assert_eq!(r["items_verified"], 2, "{r}");
    City {
        _root: root,
        center,
        edge,
        linked,
        unlinked,
    }
}

fn hashes(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["hash"].as_str().unwrap().to_string())
        .collect()
}

fn reindex_check(c: &City) {
    let out = c.center.run(&["reindex", "--check"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
}

fn put_item_class(c: &City, token: &str, hash: &str, class: &str) -> u16 {
    request(
        c.center.http,
        "PUT",
        &format!("/api/v1/items/{hash}/classification"),
        Some(token),
        &[],
        Some(&format!("{{\"class\":\"{class}\"}}")),
    )
    .status
}

#[test]
fn every_item_has_a_class_and_the_stricter_of_its_own_and_its_activitys_governs() {
    let c = city(0);
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let see = |who: &str, hash: &str| get(api, &format!("/api/v1/items/{hash}"), &staff[who]);
    assert_eq!(
        see("keeper", &c.unlinked).json()["item"]["class"],
        "ordinary"
    );
    // only a supervisor sets it
    assert_eq!(
        put_item_class(&c, &staff["keeper"], &c.unlinked, "personal-privacy"),
        403
    );
    assert_eq!(
        put_item_class(&c, &staff["head"], &c.unlinked, "personal-privacy"),
        403
    );
    assert_eq!(
        put_item_class(&c, &staff["supervisor"], &c.unlinked, "no-such"),
        400
    );
    assert_eq!(
        put_item_class(&c, &staff["supervisor"], &c.unlinked, "personal-privacy"),
        200
    );
    // above ordinary, without a grant it is gone: from lists, by id, its content
    for who in ["keeper", "supervisor", "1001"] {
        assert_eq!(see(who, &c.unlinked).status, 404, "{who}");
        let content = get(
            api,
            &format!("/api/v1/items/{}/content", c.unlinked),
            &staff[who],
        );
        assert_eq!(content.status, 404, "{who}");
        let all = get(api, "/api/v1/items?county=410422", &staff[who]).json();
        assert!(!hashes(&all).contains(&c.unlinked), "{who}: {all}");
        assert!(hashes(&all).contains(&c.linked), "{who}: {all}");
    }
    // a grant on the item shows it, with its class
    let grant_to = |user: &str, target: &str| {
        let r = request(
            api,
            "POST",
            "/api/v1/grants",
            Some(&staff["supervisor"]),
            &[],
            Some(&format!("{{\"user\":\"{user}\",\"target\":\"{target}\"}}")),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    let grant = |user: &str, hash: &str| grant_to(user, &format!("item:{hash}"));
    grant("keeper", &c.unlinked);
    assert_eq!(
        see("keeper", &c.unlinked).json()["item"]["class"],
        "personal-privacy"
    );
    // a linked item: its own class above its activity's governs, the activity stays visible
    assert_eq!(
        put_item_class(&c, &staff["supervisor"], &c.linked, "state-secret"),
        200
    );
    assert_eq!(see("keeper", &c.linked).status, 404);
    let a = get(api, "/api/v1/activities/410422/A-1", &staff["keeper"]).json();
    assert_eq!(a["class"], "ordinary", "{a}");
    assert_eq!(a["linked_items"], serde_json::json!([]), "{a}");
    // the activity's class above the item's own governs too (the supervisor
    // needs a grant to see, and so to change, what is above ordinary)
    assert_eq!(
        put_item_class(&c, &staff["supervisor"], &c.linked, "ordinary"),
        404
    );
    grant("supervisor", &c.linked);
    assert_eq!(
        put_item_class(&c, &staff["supervisor"], &c.linked, "ordinary"),
        200
    );
    assert_eq!(see("keeper", &c.linked).json()["item"]["class"], "ordinary");
    let r = request(
        api,
        "PUT",
        "/api/v1/activities/410422/A-1/classification",
        Some(&staff["supervisor"]),
        &[],
        Some(r#"{"class":"commercial-secret"}"#),
    );
    assert_eq!(r.status, 200);
    assert_eq!(see("keeper", &c.linked).status, 404);
    // every setting is audited; the audit view hides entries about what the
    // auditor may not see, until a grant
    let settings = || {
        get(
            api,
            "/api/v1/audit?action=classification_set",
            &staff["auditor"],
        )
        .json()["entries"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(settings(), 0);
    // nor do the request lines of other users' entries name it (the keeper's
    // refused GETs above, the supervisor's PUT): they are kept, masked
    let whole_log = || get(api, "/api/v1/audit?limit=500", &staff["auditor"]).json();
    let log = whole_log();
    assert!(!log.to_string().contains(&c.unlinked[..16]), "{log}");
    assert!(!log.to_string().contains(&c.linked[..16]), "{log}");
    let masked: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["masked"] == true)
        .collect();
    assert!(
        masked
            .iter()
            .any(|e| e["detail"]["request"] == "GET /api/v1/items/{hash}/content"),
        "{log}"
    );
    grant("auditor", &c.unlinked);
    grant_to("auditor", "activity:410422/A-1");
    assert_eq!(settings(), 4);
    let log = whole_log();
    assert!(
        log.to_string()
            .contains(&format!("GET /api/v1/items/{}/content", c.unlinked)),
        "{log}"
    );
    // and it reaches the edge in its county's registry document
    c.edge.sync_once();
    let (edge_docs, center_docs) = (c.edge.docs(), c.center.docs("410422"));
    assert_eq!(edge_docs["registry/410422"], center_docs["registry/410422"]);
    reindex_check(&c);
}

#[test]
fn the_expiry_index_and_a_keepers_annotation() {
    let c = city(0);
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let ms = |t: &str| jilu_common::time::parse(t).unwrap();
    // A-1 ended 2026-11-20T10:00Z: its items may be cleared three months later
    let linked = get(
        api,
        &format!("/api/v1/items/{}", c.linked),
        &staff["keeper"],
    )
    .json();
    assert_eq!(
        linked["item"]["expires_at"],
        ms("2027-02-20T10:00:00Z"),
        "{linked}"
    );
    let unlinked = get(
        api,
        &format!("/api/v1/items/{}", c.unlinked),
        &staff["keeper"],
    )
    .json();
    let capture_end = unlinked["item"]["capture_start"].as_i64().unwrap()
        + unlinked["item"]["duration_ms"].as_i64().unwrap_or(0);
    let expires = unlinked["item"]["expires_at"].as_i64().unwrap();
    // three calendar months: 89 to 92 days
    let days = (expires - capture_end) as f64 / 86_400_000.0;
    assert!((89.0..=92.0).contains(&days), "{days} days: {unlinked}");
    let before = |t: i64| {
        hashes(
            &get(
                api,
                &format!("/api/v1/items?expires_before={t}"),
                &staff["keeper"],
            )
            .json(),
        )
    };
    let at = ms("2027-02-20T10:00:00Z");
    assert!(before(at + 1).contains(&c.linked));
    assert!(!before(at).contains(&c.linked));
    assert!(before(expires + 1).contains(&c.unlinked));
    assert!(!before(expires).contains(&c.unlinked));
    let r = get(api, "/api/v1/items?expires_before=soon", &staff["keeper"]);
    assert_eq!(r.status, 400);

    // a keeper of the county annotates; nobody else
    let annotate = |who: &str, body: &str| {
        request(
            api,
            "POST",
            "/api/v1/activities/410422/A-1/annotations",
            Some(&staff[who]),
            &[],
            Some(body),
        )
    };
    let note = format!(
        "{{\"kind\":\"scene\",\"text\":\"现场有围观群众\",\"item\":\"{}\"}}",
        c.linked
    );
    assert_eq!(annotate("other-keeper", &note).status, 404);
    for who in ["supervisor", "head", "1001"] {
        assert_eq!(annotate(who, &note).status, 403, "{who}");
    }
    assert_eq!(
        annotate("keeper", r#"{"kind":"gossip","text":"x"}"#).status,
        400
    );
    assert_eq!(
        annotate("keeper", r#"{"kind":"scene","text":"  "}"#).status,
        400
    );
    let r = annotate("keeper", &note);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // a hold takes the linked item out of the expiry index
    let r = request(
        api,
        "POST",
        "/api/v1/activities/410422/A-1/hold",
        Some(&staff["supervisor"]),
        &[],
        Some(r#"{"reason":"当事人有异议"}"#),
    );
    assert_eq!(r.status, 200);
    assert!(!before(i64::MAX / 2).contains(&c.linked));
    let held = get(
        api,
        &format!("/api/v1/items/{}", c.linked),
        &staff["keeper"],
    )
    .json();
    assert_eq!(held["item"]["expires_at"], Value::Null);

    // the annotation reaches the edge through the merged document
    c.edge.sync_once();
    let a = &c.edge.json(&["activity", "show", "A-1"])[0];
    let notes = a["annotations"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{a}");
    assert_eq!(notes[0]["text"], "现场有围观群众");
    assert_eq!(notes[0]["by"], "keeper");
    assert_eq!(notes[0]["item"], c.linked.as_str());
    reindex_check(&c);
}

#[test]
fn overridden_checks_and_interruptions_waiting_for_approval_are_findings() {
    // the camera's clock was 60 s off: the check failed and was overridden
    let c = city(60);
    c.edge.interruption("A-1", "09:30", "09:40");
    c.edge.sync_once();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let kinds = |who: &str| -> Vec<(String, String)> {
        get(api, "/api/v1/findings?county=410422&limit=500", &staff[who]).json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["finding"].as_str().unwrap().to_string(),
                    f["article"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let all = get(
        api,
        "/api/v1/findings?county=410422&limit=500",
        &staff["supervisor"],
    )
    .json();
    let overridden: Vec<&Value> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["finding"] == "check_overridden")
        .collect();
    assert_eq!(overridden.len(), 1, "{all}");
    assert_eq!(overridden[0]["reason"], "clock checked, offset recorded");
    assert_eq!(overridden[0]["officer"], "1001");
    assert_eq!(overridden[0]["article"], "art. 7");
    let pending = ("interruption_pending".to_string(), "art. 12".to_string());
    let check = ("check_overridden".to_string(), "art. 7".to_string());
    for who in ["supervisor", "head", "keeper", "1001"] {
        let k = kinds(who);
        assert!(k.contains(&pending) && k.contains(&check), "{who}: {k:?}");
    }
    assert!(kinds("other-keeper").is_empty());
    // the head's approval ends the wait
    let r = request(
        api,
        "POST",
        "/api/v1/activities/410422/A-1/interruptions/I1/decision",
        Some(&staff["head"]),
        &[],
        Some(r#"{"approve":true}"#),
    );
    assert_eq!(r.status, 200);
    let k = kinds("supervisor");
    assert!(!k.contains(&pending) && k.contains(&check), "{k:?}");
    reindex_check(&c);
}
