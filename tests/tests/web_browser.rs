#![allow(clippy::unwrap_used)]
//! The web UI in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, `fonts-wqy-microhei` for the Chinese text) driven over
//! WebDriver, against a real `center run` fed by a real edge. The head logs in
//! with TOTP, opens the county's compliance board and approves an interruption;
//! a supervisor sets a hold and plays an item (its bytes arrive through Range
//! requests to the audited content endpoint, and the view is in the audit log);
//! the pages switch to English; a county keeper checks a camera out on an edge's
//! office page (`edge-node run --http`). A screenshot of each page is saved and its path
//! printed (run with `--nocapture` to see them).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use jilu_tests::api::{city_with_item, get, staff};
use jilu_tests::cluster::free_tcp_port;
use jilu_tests::web::{enrol_totp, next_step, totp_code, PASSWORD};
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> (Driver, String) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser test needs Debian's chromium and chromium-driver: run scripts/setup"
    );
    let port = free_tcp_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver"),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, url);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not listen on {port}");
}

fn shots_dir() -> PathBuf {
    let dir = jilu_tests::binary("center")
        .parent()
        .unwrap()
        .join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(b: &Client, name: &str) -> PathBuf {
    let png = b.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = shots_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

async fn login(b: &Client, base: &str, name: &str, code: &str) {
    b.goto(&format!("{base}/web/login")).await.unwrap();
    b.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find(Locator::Id("totp"))
        .await
        .unwrap()
        .send_keys(code)
        .await
        .unwrap();
    b.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Id("user")).await.unwrap();
    let user = b
        .find(Locator::Id("user"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(user, name);
}

async fn source(b: &Client) -> String {
    b.source().await.unwrap()
}

/// The page's source once it contains `text` (a form's answer has loaded).
async fn until(b: &Client, text: &str) -> String {
    for _ in 0..100 {
        let html = source(b).await;
        if html.contains(text) {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never showed {text:?}: {}", source(b).await);
}

#[test]
fn a_supervisor_and_the_head_work_in_chromium() {
    let video = jilu_tests::sample("sample.mp4");
    let city = city_with_item(Some(video.clone()));
    let (center, edge, hash) = (&city.center, &city.edge, city.item.clone());
    edge.ok(&[
        "activity",
        "interruption",
        "A-1",
        "--reason",
        "weather",
        "--basis",
        "暴雨，无法继续记录",
        "--from",
        "2026-11-20T09:30:00Z",
        "--to",
        "2026-11-20T09:40:00Z",
        "--by",
        "1001",
    ]);
    edge.sync_once();
    let interruption = edge.json(&["activity", "show", "A-1"])[0]["interruptions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tokens = staff(center, "410422");
    let head_secret = enrol_totp(center, "head");
    let sup_secret = enrol_totp(center, "supervisor");
    let base = format!("http://{}", center.http);
    let (_driver, driver_url) = chromedriver();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut shots = Vec::new();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1280,1400", "--lang=zh-CN",
                         "--autoplay-policy=no-user-gesture-required"],
            }),
        );
        let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a WebDriver session with chromium");

        // 1. the head logs in with TOTP
        let code = totp_code(&head_secret, next_step());
        login(&b, &base, "head", &code).await;
        let html = source(&b).await;
        assert!(html.contains("区县与节点") && html.contains("edge-410422"), "{html}");
        shots.push(shot(&b, "01-counties-zh").await);

        // 2. the county's compliance board
        b.goto(&format!("{base}/web/board?county=410422")).await.unwrap();
        let html = source(&b).await;
        assert!(html.contains("合规看板") && html.contains("410422"), "{html}");
        shots.push(shot(&b, "02-board-zh").await);

        // 3. the head approves the interruption on the activity's page
        b.goto(&format!("{base}/web/activities/410422/A-1")).await.unwrap();
        assert!(source(&b).await.contains("待审批"));
        b.find(Locator::Id(&format!("approve-{interruption}")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let html = until(&b, "已批准").await;
        assert!(!html.contains(&format!("approve-{interruption}")), "{html}");
        shots.push(shot(&b, "03-activity-approved-zh").await);
        let a = get(center.http, "/api/v1/activities/410422/A-1", &tokens["supervisor"]).json();
        assert_eq!(a["activity"]["interruptions"][0]["approval"]["state"], "approved", "{a}");
        b.find(Locator::Id("logout")).await.unwrap().click().await.unwrap();
        b.wait().for_element(Locator::Id("login")).await.unwrap();

        // ... and a supervisor sets a hold
        let code = totp_code(&sup_secret, next_step());
        login(&b, &base, "supervisor", &code).await;
        b.goto(&format!("{base}/web/activities/410422/A-1")).await.unwrap();
        b.find(Locator::Id("hold-reason"))
            .await
            .unwrap()
            .send_keys("当事人对处罚有异议")
            .await
            .unwrap();
        b.find(Locator::Id("set-hold")).await.unwrap().click().await.unwrap();
        until(&b, "当事人对处罚有异议").await;
        let held = b.find(Locator::Id("hold")).await.unwrap().text().await.unwrap();
        assert!(held.contains("当事人对处罚有异议") && held.contains("supervisor"), "{held}");
        shots.push(shot(&b, "04-activity-hold-zh").await);

        // 4. the item page plays the video through the content endpoint
        b.goto(&format!("{base}/web/items/{hash}")).await.unwrap();
        let played: Value = b
            .execute(
                r#"const v = document.getElementById('player');
                   v.muted = true;
                   return v.play()
                     .then(() => new Promise(r => setTimeout(r, 1500)))
                     .then(() => ({t: v.currentTime, ready: v.readyState, w: v.videoWidth, err: v.error && v.error.code}))
                     .catch(e => ({err: String(e), ready: v.readyState}));"#,
                vec![],
            )
            .await
            .unwrap();
        assert!(played["err"].is_null(), "playback failed: {played}");
        assert!(played["ready"].as_u64().unwrap() >= 2 && played["w"] == 16, "{played}");
        assert!(played["t"].as_f64().unwrap() > 0.0, "{played}");
        b.refresh().await.unwrap();
        let html = source(&b).await;
        assert!(html.contains("查看"), "the view is in the item's custody chain: {html}");
        shots.push(shot(&b, "05-item-zh").await);

        // 5. English
        b.find(Locator::Id("lang-switch")).await.unwrap().click().await.unwrap();
        let html = until(&b, "Chain of custody").await;
        assert!(html.contains("lang=\"en\"") && html.contains("Chain of custody"), "{html}");
        assert!(html.contains("content served"));
        shots.push(shot(&b, "06-item-en").await);
        b.goto(&format!("{base}/web/board?county=410422")).await.unwrap();
        assert!(source(&b).await.contains("Compliance board"));
        shots.push(shot(&b, "07-board-en").await);
        b.goto(&format!("{base}/web/activities/410422/A-1")).await.unwrap();
        assert!(source(&b).await.contains("Long-term hold"));
        shots.push(shot(&b, "08-activity-en").await);
        b.close().await.unwrap();
    });

    // the footage went out through Range requests, each audited with its bytes
    let served = get(
        center.http,
        "/api/v1/audit?action=content_served&actor=supervisor&limit=100",
        &tokens["auditor"],
    )
    .json();
    let entries = served["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "no view audited: {served}");
    assert!(
        entries
            .iter()
            .all(|e| e["subject"] == format!("item:{hash}")),
        "{served}"
    );
    assert!(
        entries.iter().any(|e| e["detail"]["range"]
            .as_str()
            .is_some_and(|r| r.starts_with("bytes="))),
        "the browser fetched with Range: {served}"
    );
    let bytes: u64 = entries
        .iter()
        .map(|e| e["detail"]["bytes"].as_u64().unwrap())
        .sum();
    assert!(
        bytes >= std::fs::metadata(&video).unwrap().len(),
        "{served}"
    );
    assert_eq!(shots.len(), 8);
}

/// Step 6 of the browser test: a county keeper opens the office page of an edge
/// (`edge-node run --http`) and checks a camera out through its form.
#[test]
fn a_keeper_checks_a_camera_out_on_the_office_page_in_chromium() {
    let e = jilu_tests::Edge::office("410402", 0);
    e.add_device("cam-02");
    e.new_activity_now("T-1");
    let addr = format!("127.0.0.1:{}", free_tcp_port());
    let node = e.start_node(&["run", "--http", &addr]);
    let base = format!("http://{addr}");
    let (_driver, driver_url) = chromedriver();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut shots = Vec::new();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1280,900", "--lang=zh-CN"],
            }),
        );
        let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a WebDriver session with chromium");
        b.goto(&format!("{base}/web/office/activities"))
            .await
            .unwrap();
        let html = source(&b).await;
        assert!(
            html.contains("今日执法活动") && html.contains("人民路口"),
            "{html}"
        );
        b.goto(&format!("{base}/web/office")).await.unwrap();
        let html = source(&b).await;
        assert!(
            html.contains("领用登记") && html.contains("cam-01"),
            "{html}"
        );
        for (id, text) in [
            ("keeper", "李四"),
            ("purpose", "道路巡查"),
            ("battery", "85"),
            ("free_mb", "8000"),
        ] {
            b.find(Locator::Id(id))
                .await
                .unwrap()
                .send_keys(text)
                .await
                .unwrap();
        }
        b.find(Locator::Css("#device option[value='cam-02']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.find(Locator::Id("checkout"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let html = until(&b, "已登记领用").await;
        let out = html.split("id=\"devices-out\"").nth(1).unwrap();
        assert!(out.contains("cam-02") && out.contains("道路巡查"), "{html}");
        shots.push(shot(&b, "09-office-checkout-zh").await);
        b.close().await.unwrap();
    });
    let ledger = e.json(&["ledger"]);
    let rec = ledger
        .iter()
        .find(|c| c["device"] == "cam-02")
        .expect("cam-02 out");
    assert_eq!(rec["check"]["battery_pct"], 85);
    let audit = e.json(&["audit", "show"]);
    assert!(
        audit.iter().any(|a| a["action"] == "check_out"
            && a["subject"] == "device:cam-02"
            && a["actor"] == "李四"
            && a["via"]
                .as_str()
                .is_some_and(|v| v.starts_with("office page"))),
        "{audit:?}"
    );
    drop(node);
    assert_eq!(shots.len(), 1);
}
