#![allow(clippy::unwrap_used)]
//! Classification on the rendered pages (art. 14): once A-1 is state secret, a
//! user without a grant finds neither the activity nor its items on any page
//! or list of the web UI — checked on the HTML itself — and the record pages
//! answer as for something that does not exist; with a grant it is back.

use jilu_tests::api::{city_with_item, request, staff};
use jilu_tests::web::{enrol_totp, next_step, totp_code, Browser, PASSWORD};

/// Every page a user can list A-1 or its item on.
fn pages(hash: &str) -> Vec<String> {
    vec![
        "/web/activities".into(),
        "/web/activities?county=410422".into(),
        "/web/activities?officer=1001".into(),
        "/web/board".into(),
        "/web/board?county=410422".into(),
        "/web/audit".into(),
        "/web/audit?subject=item:".into(),
        "/web/activities/410422/A-1".into(),
        format!("/web/items/{hash}"),
    ]
}

/// What each page shows of A-1 and its item: (path, status, mentions).
fn look(b: &mut Browser, hash: &str) -> Vec<(String, u16, bool)> {
    pages(hash)
        .into_iter()
        .map(|p| {
            let (status, html, _) = b.page(&p);
            // the language switch links back to the path asked for: not a finding
            let html = match html.split_once("back=") {
                Some((a, rest)) => {
                    format!("{a}{}", rest.split_once('"').map(|r| r.1).unwrap_or(""))
                }
                None => html,
            };
            // the audit log names records as its entries' subjects and in the
            // request lines of other users' page views (masked when hidden)
            let mentions = if p.starts_with("/web/audit") {
                html.contains(&hash[..12])
            } else {
                html.contains("A-1") || html.contains(&hash[..12])
            };
            (p, status, mentions)
        })
        .collect()
}

#[test]
fn a_classified_activity_is_absent_from_every_page() {
    let c = city_with_item(None);
    let tokens = staff(&c.center, "410422");
    let web = c.center.http;
    let mut keeper = Browser::new(web);
    assert_eq!(keeper.login("keeper", PASSWORD, "").status, 303);
    let secret = enrol_totp(&c.center, "head");
    let mut head = Browser::new(web);
    assert_eq!(
        head.login("head", PASSWORD, &totp_code(&secret, next_step()))
            .status,
        303
    );
    let mut auditor = Browser::new(web);
    assert_eq!(auditor.login("auditor", PASSWORD, "").status, 303);

    // ordinary: the keeper and the head see A-1 and its item on the lists
    for b in [&mut keeper, &mut head] {
        let seen = look(b, &c.item);
        for (p, status, mentions) in &seen[..3] {
            assert!(*status == 200 && *mentions, "{p}: {status} {mentions}");
        }
        let (_, status, mentions) = &seen[7];
        assert!(*status == 200 && *mentions);
        let (_, status, mentions) = &seen[8];
        assert!(*status == 200 && *mentions);
    }
    let seen = look(&mut auditor, &c.item);
    assert!(
        seen[5].2,
        "the auditor's log shows the item's entries: {seen:?}"
    );

    // the supervisor classifies it state secret
    let r = request(
        web,
        "PUT",
        "/api/v1/activities/410422/A-1/classification",
        Some(&tokens["supervisor"]),
        &[],
        Some(r#"{"class":"state-secret"}"#),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // now nobody without a grant finds it on any page
    for (who, b) in [
        ("keeper", &mut keeper),
        ("head", &mut head),
        ("auditor", &mut auditor),
    ] {
        for (p, status, mentions) in look(b, &c.item) {
            assert!(!mentions, "{who} sees it on {p} ({status})");
            let want = if p.starts_with("/web/activities/") || p.starts_with("/web/items/") {
                404
            } else if p.starts_with("/web/audit") && who != "auditor" {
                403
            } else {
                200
            };
            assert_eq!(status, want, "{who} {p}");
        }
    }
    // footage through the session cookie: as absent
    assert_eq!(
        head.get(&format!("/api/v1/items/{}/content", c.item))
            .status,
        404
    );

    // a grant brings it back for that user only
    let out = c.center.run(&[
        "--as",
        "supervisor",
        "grant",
        "keeper",
        "activity:410422/A-1",
    ]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let seen = look(&mut keeper, &c.item);
    assert!(
        seen[0].2 && seen[7].1 == 200 && seen[8].1 == 200,
        "{seen:?}"
    );
    assert!(look(&mut head, &c.item).iter().all(|(_, _, m)| !m));
}
