#![allow(clippy::unwrap_used)]
//! The county office page over HTTP: a real `edge-node run --http` on a real
//! store, its pages read as a browser reads them, its check-out form sent with
//! and without this page's CSRF token and Origin, with bad input and with good,
//! and what the form did read back through the CLI (`ledger`, `audit show`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jilu_tests::cluster::free_tcp_port;
use jilu_tests::web::{csrf_of, Browser};
use jilu_tests::{assert_one_line, random_file, rfc3339_in, Edge};
use serde_json::Value;

/// The text of HTML as a reader sees it (askama's escapes undone).
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// A GET naming `host` as its Host (a DNS-rebinding site would); the status.
fn get_with_host(addr: SocketAddr, host: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /web/office HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw)
}

/// The check-out form for cam-02 as the keeper fills it in.
fn checkout_fields<'a>(csrf: &'a str, battery: &'a str, clock: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("keeper", "李四"),
        ("device", "cam-02"),
        ("officer", "1001"),
        ("purpose", "道路巡查"),
        ("battery", battery),
        ("free_mb", "8000"),
        ("works", "yes"),
        ("device_clock", clock),
        ("override", ""),
    ]
}

fn cam02_out(e: &Edge) -> bool {
    e.json(&["ledger"])
        .iter()
        .any(|c| c["device"] == "cam-02" && c["in_at"].is_null())
}

#[test]
fn the_office_page_shows_the_node_and_checks_a_camera_out() {
    let e = Edge::office("410402", 0);
    e.add_device("cam-02");
    e.new_activity_now("T-1");
    let dock = e.tmp.path().join("dock");
    std::fs::create_dir_all(dock.join("cam-01")).unwrap();
    random_file(&dock.join("cam-01"), "V0001.MP4", 300_000, 7);

    // a non-loopback address is refused with one line, and nothing starts
    let port = free_tcp_port();
    let audit_before = e.json(&["audit", "show"]).len();
    let err = e.fail(&["run", "--http", &format!("0.0.0.0:{port}")]);
    assert_one_line(&err);
    assert!(err.contains("loopback only"), "{err}");
    assert!(!e.dir.join("control.sock").exists());
    assert_eq!(e.json(&["audit", "show"]).len(), audit_before);

    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dock_arg = dock.to_str().unwrap().to_string();
    let node = e.start_node(&["run", "--http", &addr.to_string(), "--dock", &dock_arg]);
    let mut b = Browser::new(addr);

    // the devices page: cam-01 is out, cam-02 can be checked out
    let (status, html, csrf) = b.page("/web/office");
    assert_eq!(status, 200, "{html}");
    let csrf = csrf.expect("the form's CSRF token");
    assert!(
        html.contains("lang=\"zh-CN\"") && html.contains("在外设备"),
        "{html}"
    );
    assert!(html.contains("edge-410402") && html.contains("410402"));
    let out_table = html
        .split("id=\"devices-out\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        out_table.contains("cam-01") && !out_table.contains("cam-02"),
        "{out_table}"
    );
    assert!(html.contains("<option value=\"cam-02\""), "{html}");
    assert!(
        !html.contains("/web/logout") && !html.contains("/web/counties"),
        "the bureau's menu: {html}"
    );

    // today's activities
    let (status, html, _) = b.page("/web/office/activities");
    assert_eq!(status, 200);
    assert!(
        html.contains("今日执法活动") && html.contains("T-1") && html.contains("人民路口"),
        "{html}"
    );

    // the docked camera's file is ingested and shown
    let started = Instant::now();
    let html = loop {
        let (_, html, _) = b.page("/web/office/dock");
        // one file stored (a pass that found it before it settled counted it too:
        // the dock's progress, as `status` shows it, may say 1/2)
        if html.contains("<td>cam-01</td><td>1/") {
            break html;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the dock never showed cam-01 done: {html}\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        html.contains("接入的记录仪") && html.contains("<td>0</td><td>0.3 MiB</td>"),
        "{html}"
    );

    // the upload queue holds it (no center configured)
    let (_, html, _) = b.page("/web/office/queue");
    assert!(html.contains("id=\"queue-size\">1 / 0.3 MiB"), "{html}");
    assert!(html.contains("未配置中心"), "{html}");

    // findings, as `edge-node status` reports them
    let (_, html, _) = b.page("/web/office/findings");
    let status_json = &e.json(&["status"])[0];
    assert!(!status_json["findings"].as_array().unwrap().is_empty());
    assert!(
        html.contains("art. 5") && html.contains("记录未关联执法活动"),
        "{html}"
    );

    // English
    let r = b.get("/web/lang?to=en&back=/web/office/findings");
    assert_eq!(r.status, 303);
    let (_, html, _) = b.page("/web/office/findings");
    assert!(
        html.contains("lang=\"en\"") && html.contains("recording not linked to an activity"),
        "{html}"
    );
    b.get("/web/lang?to=zh-CN&back=/web/office");

    // another site's name as Host (DNS rebinding) gets no page and no token
    let (status, raw) = get_with_host(addr, &format!("evil.example:{port}"));
    assert_eq!(status, 421, "{raw}");
    assert!(csrf_of(&raw).is_none());

    // forms without the token, with a wrong one, from another site, without Origin: refused
    let clock = rfc3339_in(0);
    let good = checkout_fields(&csrf, "90", &clock);
    let without: Vec<_> = good.iter().filter(|(k, _)| *k != "csrf").cloned().collect();
    let r = b.post("/web/office/checkout", &without);
    assert_eq!(r.status, 403);
    assert!(
        unescape(&r.text()).contains("CSRF token is missing or wrong"),
        "{}",
        r.text()
    );
    let wrong = checkout_fields("0000", "90", &clock);
    assert_eq!(b.post("/web/office/checkout", &wrong).status, 403);
    let mut foreign = b.clone();
    foreign.origin = Some("http://evil.example".into());
    let r = foreign.post("/web/office/checkout", &good);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Origin"), "{}", r.text());
    foreign.origin = None;
    assert_eq!(foreign.post("/web/office/checkout", &good).status, 403);
    assert!(!cam02_out(&e), "a refused form checked cam-02 out");

    // bad input: the CLI's own sentence, nothing changed
    let cli_args = |battery: &str| {
        vec![
            "checkout".to_string(),
            "cam-02".into(),
            "--officer".into(),
            "1001".into(),
            "--purpose".into(),
            "道路巡查".into(),
            format!("--battery={battery}"),
            "--free-mb".into(),
            "8000".into(),
            "--works".into(),
            "yes".into(),
            "--device-clock".into(),
            clock.clone(),
        ]
    };
    for battery in ["abc", "5"] {
        let args = cli_args(battery);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cli_line = e.fail(&args).lines().next().unwrap().to_string();
        assert!(cli_line.starts_with("error: "), "{cli_line}");
        let r = b.post(
            "/web/office/checkout",
            &checkout_fields(&csrf, battery, &clock),
        );
        assert_eq!(r.status, 400, "{}", r.text());
        let page = unescape(&r.text());
        assert!(
            page.contains(&cli_line),
            "the page should say {cli_line:?}: {page}"
        );
        assert!(
            page.contains("value=\"道路巡查\""),
            "the form keeps what was typed"
        );
        assert!(!cam02_out(&e), "battery {battery}: cam-02 was checked out");
    }
    let no_keeper: Vec<_> = good
        .iter()
        .map(|&(k, v)| if k == "keeper" { (k, "") } else { (k, v) })
        .collect();
    let r = b.post("/web/office/checkout", &no_keeper);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("请填写经办保管员"), "{}", r.text());
    assert!(!cam02_out(&e));

    // the check-out through the form
    let r = b.post("/web/office/checkout", &good);
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("location"))
        .unwrap()
        .1
        .clone();
    assert!(to.starts_with("/web/office?done="), "{to}");
    let (_, html, _) = b.page(&to);
    assert!(html.contains("已登记领用"), "{html}");
    let out_table = html
        .split("id=\"devices-out\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        out_table.contains("cam-02") && out_table.contains("道路巡查"),
        "{out_table}"
    );

    // ... is in the ledger, as the CLI shows it
    let ledger = e.json(&["ledger"]);
    let rec = ledger
        .iter()
        .find(|c| c["device"] == "cam-02")
        .expect("cam-02 in the ledger");
    assert_eq!(rec["officer"], "1001");
    assert_eq!(rec["check"]["battery_pct"], 90);
    assert_eq!(
        to,
        format!("/web/office?done={}", rec["id"].as_str().unwrap())
    );
    assert!(e.ok(&["ledger"]).contains("cam-02 -> 1001"));

    // ... and in the audit log with the acting keeper, through the office page
    let audit: Vec<Value> = e.json(&["audit", "show"]);
    let entry = audit
        .iter()
        .find(|a| a["action"] == "check_out" && a["subject"] == "device:cam-02")
        .unwrap_or_else(|| panic!("no check-out of cam-02 in {audit:?}"));
    assert_eq!(entry["actor"], "李四");
    let via = entry["via"].as_str().unwrap();
    assert!(
        via.starts_with(&format!("office page http://{addr} from 127.0.0.1:")),
        "{via}"
    );

    let (status, _) = node.terminate();
    assert!(status.success());
}
