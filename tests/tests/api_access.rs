#![allow(clippy::unwrap_used)]
//! Who sees what through the API, against a real center fed by a real edge: the
//! role × classification × grant × path matrix (every cell checked, every
//! denial audited, what is hidden is absent from lists and 404 by id), and the
//! decisions (approve / return an interruption, hold, classification) taken
//! through the API reaching the edge through the merged documents, with `center
//! approve` still working beside them.

use jilu_tests::api::{city_with_item, get, request, staff, City};
use serde_json::Value;

fn city() -> City {
    city_with_item(None)
}

fn put_class(c: &City, token: &str, class: &str) -> u16 {
    request(
        c.center.http,
        "PUT",
        "/api/v1/activities/410422/A-1/classification",
        Some(token),
        &[],
        Some(&format!("{{\"class\":\"{class}\"}}")),
    )
    .status
}

fn has(v: &Value, list: &str, f: impl Fn(&Value) -> bool) -> bool {
    v[list].as_array().unwrap().iter().any(f)
}

#[test]
fn role_classification_path_matrix() {
    let c = city();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let item = c.item.clone();
    // only a supervisor sets a classification; others are refused (and audited)
    assert_eq!(put_class(&c, &staff["head"], "state-secret"), 403);
    assert_eq!(put_class(&c, &staff["keeper"], "state-secret"), 403);
    let roles = [
        "1001",
        "keeper",
        "other-keeper",
        "supervisor",
        "head",
        "auditor",
        "admin",
    ];
    let mut cells = 0;
    for class in [
        "ordinary",
        "personal-privacy",
        "commercial-secret",
        "state-secret",
    ] {
        for granted in [false, true] {
            // the supervisor needs a grant too above ordinary: grant before changing it
            for who in roles {
                let mut args = vec!["--as", "supervisor", "grant", who, "activity:410422/A-1"];
                if !granted {
                    args.push("--revoke");
                }
                let out = c.center.run(&args);
                assert!(
                    out.status.success() || !granted,
                    "{}",
                    jilu_tests::text(&out)
                );
            }
            let out = c.center.run(&[
                "--as",
                "supervisor",
                "grant",
                "supervisor",
                "activity:410422/A-1",
            ]);
            assert!(out.status.success(), "{}", jilu_tests::text(&out));
            assert_eq!(put_class(&c, &staff["supervisor"], class), 200, "{class}");
            if !granted {
                let out = c.center.run(&[
                    "--as",
                    "supervisor",
                    "grant",
                    "supervisor",
                    "activity:410422/A-1",
                    "--revoke",
                ]);
                assert!(out.status.success(), "{}", jilu_tests::text(&out));
            }
            for who in roles {
                let t = &staff[who];
                let scope = !matches!(who, "other-keeper" | "admin");
                let visible = scope && (class == "ordinary" || granted);
                let records = who != "admin";
                let paths: [(&str, String); 7] = [
                    ("items", "/api/v1/items".into()),
                    ("item", format!("/api/v1/items/{item}")),
                    ("content", format!("/api/v1/items/{item}/content")),
                    ("activities", "/api/v1/activities".into()),
                    ("activity", "/api/v1/activities/410422/A-1".into()),
                    ("findings", "/api/v1/findings".into()),
                    (
                        "audit",
                        "/api/v1/audit?subject=doc:activity/410422/A-1&limit=500".into(),
                    ),
                ];
                for (name, path) in paths {
                    let r = get(api, &path, t);
                    let cell = format!("{who} {class} granted={granted} {name}: {}", r.status);
                    let want: u16 = match name {
                        "items" | "activities" | "findings" if !records => 403,
                        "activity" if !records => 403,
                        "items" | "activities" | "findings" => 200,
                        "audit" if who != "auditor" => 403,
                        "audit" => 200,
                        "content" if visible && who == "auditor" && !granted => 403,
                        _ if visible => 200,
                        _ => 404,
                    };
                    assert_eq!(r.status, want, "{cell}");
                    if r.status == 200 && name != "content" {
                        let v = r.json();
                        let listed = match name {
                            "items" => Some(has(&v, "items", |i| i["hash"] == item.as_str())),
                            "activities" => {
                                Some(has(&v, "activities", |a| a["activity"]["id"] == "A-1"))
                            }
                            "findings" => Some(has(&v, "findings", |f| f["owner"] == "A-1")),
                            "audit" => Some(!v["entries"].as_array().unwrap().is_empty()),
                            _ => None,
                        };
                        if let Some(listed) = listed {
                            assert_eq!(listed, visible, "{cell}: listed");
                        }
                    }
                    if r.status == 200 && name == "content" {
                        assert_eq!(r.body.len(), 200_000, "{cell}");
                    }
                    if r.status == 403 || r.status == 404 {
                        // the denial is the latest entry the user caused
                        let log = get(
                            api,
                            &format!("/api/v1/audit?action=access_denied&actor={who}&limit=500"),
                            &staff["auditor"],
                        )
                        .json();
                        let last = log["entries"]
                            .as_array()
                            .unwrap()
                            .last()
                            .cloned()
                            .unwrap_or_default();
                        // an auditor who may not see A-1 gets the line with the
                        // record's names masked (center/src/http/audit_redact.rs)
                        let names_a_record =
                            matches!(name, "item" | "content" | "activity" | "audit");
                        let auditor_sees = class == "ordinary" || granted;
                        let line = format!("GET {path}");
                        let want_line = if names_a_record && !auditor_sees {
                            let m = line
                                .replace(item.as_str(), "{hash}")
                                .replace("/activities/410422/A-1", "/activities/{county}/{id}");
                            match m.split_once('?') {
                                Some((p, _)) => format!("{p}?{{query}}"),
                                None => m,
                            }
                        } else {
                            line
                        };
                        assert_eq!(last["detail"]["request"], want_line, "{cell}: not audited");
                        assert_eq!(
                            last["detail"]["masked"] == true,
                            names_a_record && !auditor_sees,
                            "{cell}: masked"
                        );
                        assert_eq!(last["detail"]["status"], r.status, "{cell}");
                    }
                    cells += 1;
                }
            }
        }
    }
    assert_eq!(cells, 4 * 2 * 7 * 7);
    // the classification reached the edge through the merged document
    c.edge.sync_once();
    let a = &c.edge.json(&["activity", "show", "A-1"])[0];
    assert_eq!(a["classification"], "state-secret", "{a}");
}

#[test]
fn decisions_through_the_api_reach_the_edge() {
    let c = city();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    for (from, to) in [("09:30", "09:40"), ("09:45", "09:50")] {
        c.edge.interruption("A-1", from, to);
    }
    c.edge.sync_once();
    let pending = get(api, "/api/v1/activities?pending=true", &staff["head"]).json();
    assert_eq!(pending["activities"][0]["pending"], 2, "{pending}");
    let decide = |who: &str, i: &str, body: &str| {
        request(
            api,
            "POST",
            &format!("/api/v1/activities/410422/A-1/interruptions/{i}/decision"),
            Some(&staff[who]),
            &[],
            Some(body),
        )
    };
    // only the head decides
    assert_eq!(decide("keeper", "I1", r#"{"approve":true}"#).status, 403);
    assert_eq!(
        decide("supervisor", "I1", r#"{"approve":true}"#).status,
        403
    );
    let r = decide("head", "I1", r#"{"approve":true,"note":"属实"}"#);
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let r = decide("head", "I9", r#"{"approve":true}"#);
    assert_eq!((r.status, r.code().as_str()), (422, "rejected"));
    let r = decide("head", "I1", r#"{"approve":"yes"}"#);
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    // the CLI still decides beside the API
    let out = c.center.run(&[
        "approve",
        "--county",
        "410422",
        "--activity",
        "A-1",
        "--interruption",
        "I2",
        "--reject",
        "--as",
        "局长",
    ]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    // a hold from a supervisor
    let hold = |who: &str| {
        request(
            api,
            "POST",
            "/api/v1/activities/410422/A-1/hold",
            Some(&staff[who]),
            &[],
            Some(r#"{"reason":"当事人有异议"}"#),
        )
    };
    assert_eq!(hold("head").status, 403);
    assert_eq!(hold("supervisor").status, 200);
    let held = get(api, "/api/v1/items?state=held", &staff["supervisor"]).json();
    assert_eq!(held["items"][0]["hash"], c.item.as_str(), "{held}");
    assert_eq!(
        get(api, "/api/v1/activities?pending=true", &staff["head"]).json()["activities"],
        serde_json::json!([])
    );
    // the edge gets every decision at its next sync
    c.edge.sync_once();
    let a = &c.edge.json(&["activity", "show", "A-1"])[0];
    assert_eq!(
        a["interruptions"][0]["approval"]["state"], "approved",
        "{a}"
    );
    assert_eq!(a["interruptions"][0]["approval"]["by"], "head");
    assert_eq!(a["interruptions"][1]["approval"]["state"], "rejected");
    assert_eq!(a["hold"]["by"], "supervisor");
    // and every decision is in the audit log under the user's name
    let log = get(
        api,
        "/api/v1/audit?action=interruption_decided",
        &staff["auditor"],
    )
    .json();
    let by: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["head", "局长"]);
    let out = c.center.run(&["reindex", "--check"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
}
