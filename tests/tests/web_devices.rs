#![allow(clippy::unwrap_used)]
//! The device page and the equipment ratio report (art. 3, 4, 7), on a real
//! center fed by real edges: a check-out made at the edge with an overridden
//! pre-use check (the camera's clock a minute off) shows on the device page
//! after the edge syncs, with who took it, the override's reason and the clock
//! offset, and its return after the next sync; the ratio report's figures are
//! exact for the registries set up here, against `[report] devices_per_officer`.

use jilu_tests::api::{get, staff};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::web::{Browser, PASSWORD};
use jilu_tests::Edge;

/// The `<tr id="...">` row of a page, up to its end.
fn row<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("<tr id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

#[test]
fn a_checkout_with_an_override_shows_on_the_device_page_after_sync() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let tokens = staff(&center, "410422");
    // cam-01 leaves with its clock 60 s ahead: the check fails, overridden
    let edge = Edge::office("410422", 60);
    edge.link(&ca, &center, "410422", "");
    let web = center.http;
    let mut keeper = Browser::new(web);
    assert_eq!(keeper.login("keeper", PASSWORD, "").status, 303);

    // nothing of it at the center before the edge syncs
    assert_eq!(keeper.page("/web/devices/410422/cam-01").0, 404);
    edge.sync_once();

    let (status, list, _) = keeper.page("/web/devices");
    assert_eq!(status, 200);
    assert!(
        list.contains("href=\"/web/devices/410422/cam-01\""),
        "the list links the device page: {list}"
    );
    let v = get(web, "/api/v1/devices/410422/cam-01", &tokens["keeper"]).json();
    assert_eq!(v["registered"]["serial"], "SN-0001", "{v}");
    let lines = v["checkouts"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{v}");
    let line = &lines[0];
    let id = line["id"].as_str().unwrap().to_string();
    assert_eq!(line["officer"], "1001");
    assert_eq!(line["override_reason"], "clock checked, offset recorded");
    assert!(line["in_at"].is_null());
    let offset = line["check"]["clock_offset_ms"].as_i64().unwrap();
    assert!((55_000..=65_000).contains(&offset), "offset {offset}");
    assert_eq!(
        offset,
        line["check"]["device_clock"].as_i64().unwrap()
            - line["check"]["station_clock"].as_i64().unwrap()
    );

    let (status, html, _) = keeper.page("/web/devices/410422/cam-01");
    assert_eq!(status, 200, "{html}");
    let tr = row(&html, &format!("checkout-{id}"));
    assert!(tr.contains(">1001<"), "{tr}");
    assert!(
        tr.contains("clock checked, offset recorded"),
        "the override's reason: {tr}"
    );
    assert!(
        tr.contains(&format!("<td class=\"offset\">{offset}</td>")),
        "the clock offset: {tr}"
    );
    assert!(tr.contains("未归还"), "not returned yet: {tr}");
    assert!(
        tr.contains("device clock is off by"),
        "the check's failure: {tr}"
    );
    assert!(
        html.contains("执法记录仪") && html.contains("已领用"),
        "{html}"
    );

    // returned at the edge: the next sync brings the check-in
    edge.ok(&["checkin", "cam-01", "--note", "完好"]);
    assert!(keeper
        .page("/web/devices/410422/cam-01")
        .1
        .contains("未归还"));
    edge.sync_once();
    let (_, html, _) = keeper.page("/web/devices/410422/cam-01");
    let tr = row(&html, &format!("checkout-{id}"));
    assert!(!tr.contains("未归还") && tr.contains("完好"), "{tr}");
    let v = get(web, "/api/v1/devices/410422/cam-01", &tokens["keeper"]).json();
    assert!(v["checkouts"][0]["in_at"].is_i64(), "{v}");
    // the projections kept as documents merged are those a rebuild gives
    let out = center.run(&["reindex", "--check"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));

    // another county's keeper finds no such device; an officer reads no devices
    let r = get(
        web,
        "/api/v1/devices/410422/cam-01",
        &tokens["other-keeper"],
    );
    assert_eq!(r.status, 404);
    let r = get(web, "/api/v1/devices/410422/cam-01", &tokens["1001"]);
    assert_eq!(r.status, 403);
}

#[test]
fn the_equipment_ratio_report_is_exact_against_the_target() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start_with(
        root.path(),
        &ca,
        "[report]\ndevices_per_officer = 2.0",
        false,
    );
    let tokens = staff(&center, "410422");
    // 410422: 2 officers, 3 devices (a retired fourth does not count) → 1.5, below 2
    let a = Edge::office("410422", 0);
    a.ok(&["officer", "add", "1002", "--name", "李四", "--unit", "一队"]);
    for d in ["cam-02", "cam-03", "cam-04"] {
        a.add_device(d);
    }
    a.ok(&["device", "set-status", "cam-04", "retired"]);
    a.link(&ca, &center, "410422", "");
    // 410423: 1 officer, 2 devices → 2.0, meets the target
    let b = Edge::new("410423");
    b.ok(&["officer", "add", "2001", "--name", "王五", "--unit", "二队"]);
    b.add_device("cam-11");
    b.add_device("cam-12");
    b.link(&ca, &center, "410423", "");
    a.sync_once();
    b.sync_once();

    let v = get(
        center.http,
        "/api/v1/reports/equipment",
        &tokens["supervisor"],
    )
    .json();
    assert_eq!(v["target"], 2.0, "{v}");
    let units = v["units"].as_array().unwrap();
    let unit = |c: &str| units.iter().find(|u| u["county"] == c).unwrap().clone();
    let (u1, u2) = (unit("410422"), unit("410423"));
    assert_eq!(
        (&u1["officers"], &u1["devices"], &u1["ratio"], &u1["below"]),
        (&2.into(), &3.into(), &1.5.into(), &true.into()),
        "{u1}"
    );
    assert_eq!(
        (&u2["officers"], &u2["devices"], &u2["ratio"], &u2["below"]),
        (&1.into(), &2.into(), &2.0.into(), &false.into()),
        "{u2}"
    );
    // a keeper sees the own county only
    let v = get(center.http, "/api/v1/reports/equipment", &tokens["keeper"]).json();
    assert_eq!(v["units"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["units"][0]["county"], "410422");

    let mut auditor = Browser::new(center.http);
    assert_eq!(auditor.login("auditor", PASSWORD, "").status, 303);
    let (status, html, _) = auditor.page("/web/report");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("href=\"/web/report\""), "in the nav: {html}");
    assert!(html.contains("<b id=\"target\">2.00</b>"), "{html}");
    let r1 = row(&html, "unit-410422");
    assert!(
        r1.contains("<td>2</td><td>3</td>") && r1.contains(">1.50<") && r1.contains("低于目标"),
        "{r1}"
    );
    let r2 = row(&html, "unit-410423");
    assert!(
        r2.contains("<td>1</td><td>2</td>") && r2.contains(">2.00<") && r2.contains("达到目标"),
        "{r2}"
    );
}

#[test]
fn a_target_that_is_not_a_positive_number_is_refused_at_start() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let text = std::fs::read_to_string(&center.config).unwrap();
    std::fs::write(
        &center.config,
        format!("{text}\n[report]\ndevices_per_officer = -1\n"),
    )
    .unwrap();
    let out = center.run(&["edges"]);
    let err = jilu_tests::text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("[report] devices_per_officer = -1 is not a positive number"),
        "{err}"
    );
}
