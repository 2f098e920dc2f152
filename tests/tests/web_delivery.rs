#![allow(clippy::unwrap_used)]
//! Decisions made at the center reach the county's edge through the merged
//! documents at its next sync, and the pages say so: a hold set at the center
//! shows "sent, waiting for the edge's next sync" on the activity page and in
//! the API's activity JSON until the edge syncs, then "received by edge NODE at
//! TIME" — and the edge really holds it. The same for an item's own
//! classification on the item page.

use jilu_tests::api::{city_with_item, get, request, staff};
use jilu_tests::web::{Browser, PASSWORD};

const WAITING: &str = "已发出，等待区县节点下次同步";

/// The deliveries table of a page.
fn deliveries(html: &str) -> &str {
    let at = html
        .find("<table id=\"deliveries\">")
        .unwrap_or_else(|| panic!("no deliveries table in {html}"));
    let rest = &html[at..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

#[test]
fn a_hold_shows_waiting_until_the_edge_syncs_then_received() {
    let c = city_with_item(None);
    let tokens = staff(&c.center, "410422");
    let web = c.center.http;
    let mut keeper = Browser::new(web);
    assert_eq!(keeper.login("keeper", PASSWORD, "").status, 303);
    let node = c.edge.node();

    // no decision yet: nothing to show
    let (_, html, _) = keeper.page("/web/activities/410422/A-1");
    assert!(!html.contains("id=\"deliveries\""), "{html}");

    let r = request(
        web,
        "POST",
        "/api/v1/activities/410422/A-1/hold",
        Some(&tokens["supervisor"]),
        &[],
        Some(r#"{"reason":"复议"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let (status, html, _) = keeper.page("/web/activities/410422/A-1");
    assert_eq!(status, 200);
    let table = deliveries(&html);
    assert!(
        table.contains("设置长期保存") && table.contains("supervisor") && table.contains(WAITING),
        "{table}"
    );
    let v = get(web, "/api/v1/activities/410422/A-1", &tokens["keeper"]).json();
    let d = &v["deliveries"][0];
    assert_eq!(d["action"], "hold_set", "{v}");
    assert!(d["received"].is_null(), "{v}");
    assert!(!d["heads"].as_array().unwrap().is_empty());

    // the edge has not got it yet
    let before = c.edge.json(&["activity", "show", "A-1"]);
    assert!(before[0]["hold"].is_null(), "{before:?}");

    c.edge.sync_once();
    let after = c.edge.json(&["activity", "show", "A-1"]);
    assert_eq!(after[0]["hold"]["reason"], "复议", "{after:?}");

    let v = get(web, "/api/v1/activities/410422/A-1", &tokens["keeper"]).json();
    let got = &v["deliveries"][0]["received"];
    assert_eq!(got["node"], node.as_str(), "{v}");
    let at = got["at"].as_i64().unwrap();
    assert!(at >= v["deliveries"][0]["at"].as_i64().unwrap());
    let (_, html, _) = keeper.page("/web/activities/410422/A-1");
    let table = deliveries(&html);
    assert!(!table.contains(WAITING), "{table}");
    assert!(
        table.contains(&format!("已由节点 {node} 于 ")) && table.contains(" 收到"),
        "{table}"
    );
    // in English
    keeper.get("/web/lang?to=en&back=%2Fweb%2Fcounties");
    let (_, html, _) = keeper.page("/web/activities/410422/A-1");
    assert!(
        deliveries(&html).contains(&format!("received by edge {node} at ")),
        "{html}"
    );
}

#[test]
fn an_item_classification_shows_waiting_until_the_edge_syncs_then_received() {
    let c = city_with_item(None);
    let tokens = staff(&c.center, "410422");
    let web = c.center.http;
    let r = request(
        web,
        "PUT",
        &format!("/api/v1/items/{}/classification", c.item),
        Some(&tokens["supervisor"]),
        &[],
        Some(r#"{"class":"ordinary"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut keeper = Browser::new(web);
    assert_eq!(keeper.login("keeper", PASSWORD, "").status, 303);
    let page = format!("/web/items/{}", c.item);
    assert!(deliveries(&keeper.page(&page).1).contains(WAITING));
    let v = get(web, &format!("/api/v1/items/{}", c.item), &tokens["keeper"]).json();
    assert_eq!(v["deliveries"][0]["action"], "classification_set", "{v}");
    assert!(v["deliveries"][0]["received"].is_null(), "{v}");

    c.edge.sync_once();
    let v = get(web, &format!("/api/v1/items/{}", c.item), &tokens["keeper"]).json();
    assert_eq!(
        v["deliveries"][0]["received"]["node"],
        c.edge.node().as_str(),
        "{v}"
    );
    let table = keeper.page(&page).1;
    assert!(!deliveries(&table).contains(WAITING), "{table}");
}
