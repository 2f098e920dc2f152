#![allow(clippy::unwrap_used)]
//! The web UI's logins and sessions against a real `center run` fed by a real
//! edge: TOTP required for a supervisor and accepted once, cookies HttpOnly /
//! Secure / SameSite=Strict, a form without the right CSRF token or Origin
//! refused (audited) and changing nothing, the login throttle, sessions that
//! survive a restart of the center, logout, and idle expiry.

use jilu_tests::api::{add_user, get, staff};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::web::{enrol_totp, next_step, totp_code, Browser, PASSWORD};
use serde_json::Value;

fn audit(center: &Center, token: &str, query: &str) -> Vec<Value> {
    get(
        center.http,
        &format!("/api/v1/audit?{query}&limit=500"),
        token,
    )
    .json()["entries"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn logins_csrf_throttle_and_restart() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let mut center = Center::start_with(
        root.path(),
        &ca,
        "[web]\nlogin_failures_per_account = 3\nlogin_failures_per_address = 50\n",
        false,
    );
    let edge = jilu_tests::api::office_with_a1(&ca, &center);
    edge.sync_once();
    let tokens = staff(&center, "410422");
    let web = center.http;

    // a supervisor must give a TOTP code: not enrolled, the login is refused
    let mut b = Browser::new(web);
    let r = b.login("supervisor", PASSWORD, "");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("center user totp"), "{}", r.text());
    assert!(!b.cookies.contains_key("jilu_session"));
    let secret = enrol_totp(&center, "supervisor");

    // wrong code refused; the right one starts a session with a strict cookie
    let at = next_step();
    let r = b.login("supervisor", PASSWORD, "000000");
    assert_eq!(r.status, 401);
    let code = totp_code(&secret, at);
    let r = b.login("supervisor", PASSWORD, &code);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/web/counties"));
    let set = r
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("jilu_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let first_session = b.cookies["jilu_session"].clone();

    // the same code a second time is refused, even for the same user
    let mut again = Browser::new(web);
    let r = again.login("supervisor", PASSWORD, &code);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("已使用过"), "{}", r.text());
    assert!(!again.cookies.contains_key("jilu_session"));

    // pages render in Chinese for the session
    let (status, html, csrf) = b.page("/web/activities/410422/A-1");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("执法活动") && html.contains("lang=\"zh-CN\""));
    let csrf = csrf.expect("the page's csrf");

    // a hold without the token, with a wrong one, or from another origin: 403, nothing set
    let hold = "/web/activities/410422/A-1/hold";
    let r = b.post(hold, &[("reason", "争议")]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = b.post(hold, &[("csrf", "0000"), ("reason", "争议")]);
    assert_eq!(r.status, 403);
    let mut foreign = b.clone();
    foreign.origin = Some("http://evil.example".into());
    assert_eq!(
        foreign
            .post(hold, &[("csrf", &csrf), ("reason", "争议")])
            .status,
        403
    );
    foreign.origin = None;
    assert_eq!(
        foreign
            .post(hold, &[("csrf", &csrf), ("reason", "争议")])
            .status,
        403
    );
    let a = get(web, "/api/v1/activities/410422/A-1", &tokens["head"]).json();
    assert!(a["activity"]["hold"].is_null(), "{a}");
    let denied = audit(&center, &tokens["auditor"], "action=access_denied");
    let reasons: Vec<&str> = denied
        .iter()
        .filter(|e| e["actor"] == "supervisor")
        .filter_map(|e| e["detail"]["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["csrf", "csrf", "origin", "origin"], "{denied:?}");

    // with both, the hold is set through the decision path
    let r = b.post(hold, &[("csrf", &csrf), ("reason", "争议")]);
    assert_eq!(r.status, 303, "{}", r.text());
    let a = get(web, "/api/v1/activities/410422/A-1", &tokens["head"]).json();
    assert_eq!(a["activity"]["hold"]["reason"], "争议", "{a}");
    assert_eq!(a["activity"]["hold"]["by"], "supervisor");

    // throttle: 3 wrong passwords for the keeper, then even the right one is refused
    let mut k = Browser::new(web);
    for _ in 0..3 {
        assert_eq!(k.login("keeper", "wrong password", "").status, 401);
    }
    let r = k.login("keeper", PASSWORD, "");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("失败次数过多"));
    // another account from the same address is not throttled
    let mut o = Browser::new(web);
    assert_eq!(o.login("1001", PASSWORD, "").status, 303);
    let refused = audit(
        &center,
        &tokens["auditor"],
        "action=api_refused&subject=user:keeper",
    );
    let why: Vec<&str> = refused
        .iter()
        .filter_map(|e| e["detail"]["reason"].as_str())
        .collect();
    assert_eq!(
        why,
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_throttled"
        ]
    );
    assert!(refused
        .iter()
        .all(|e| e["detail"]["address"] == "127.0.0.1"));

    // a restart keeps live sessions (they are in RocksDB), and the next login
    // gets a new session id
    center.kill9();
    center.restart();
    let (status, html, _) = b.page("/web/counties");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("410422"), "{html}");
    // a login that brings a session cookie along gets a new id, and the old one ends
    let next = next_step();
    let mut b2 = Browser::new(web);
    let csrf = jilu_tests::web::csrf_of(&b2.get("/web/login").text()).unwrap();
    b2.cookies
        .insert("jilu_session".into(), first_session.clone());
    let code = totp_code(&secret, next);
    let r = b2.post(
        "/web/login",
        &[
            ("csrf", &csrf),
            ("name", "supervisor"),
            ("password", PASSWORD),
            ("totp", &code),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_ne!(
        b2.cookies["jilu_session"], first_session,
        "a new session id at login"
    );
    let (status, _, _) = b.page("/web/counties");
    assert_eq!(status, 303, "the session replaced by the login is gone");

    // logout ends the session
    let (_, _, csrf) = b2.page("/web/counties");
    let kept = b2.clone();
    assert_eq!(
        b2.post("/web/logout", &[("csrf", &csrf.unwrap())]).status,
        303
    );
    let mut stale = kept;
    let r = stale.get("/web/counties");
    assert_eq!((r.status, r.header("location")), (303, Some("/web/login")));
    let ended = audit(&center, &tokens["auditor"], "action=session_ended");
    assert!(
        ended.iter().any(|e| e["detail"]["why"] == "logout"),
        "{ended:?}"
    );
}

#[test]
fn an_idle_session_expires() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start_with(root.path(), &ca, "[web]\nsession_idle_secs = 2\n", false);
    add_user(&center, "keeper", "keeper", Some("410422"));
    let mut b = Browser::new(center.http);
    assert_eq!(b.login("keeper", PASSWORD, "").status, 303);
    assert_eq!(b.get("/web/counties").status, 200);
    // in use, it lives past its idle time
    for _ in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(800));
        assert_eq!(b.get("/web/counties").status, 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(2600));
    let r = b.get("/web/counties");
    assert_eq!((r.status, r.header("location")), (303, Some("/web/login")));
    // and the API does not take its cookie either
    let r = b.get("/api/v1/items");
    assert_eq!(r.status, 401);
    assert!(r.text().contains("session_unknown"), "{}", r.text());
}
