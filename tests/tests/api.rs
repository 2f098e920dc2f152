#![allow(clippy::unwrap_used)]
//! The center's HTTP API against a real `center run`, fed by a real edge through
//! the sync path: lists and records from the projections, paging, custody,
//! findings, errors, health and metrics, tokens refused and audited, footage
//! with Range byte-exact against the blob, and `center reindex --check`.

use jilu_tests::api::{get, request, staff, token};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{random_file, Edge};
use serde_json::Value;

const MIB: usize = 1 << 20;

struct City {
    _root: tempfile::TempDir,
    center: Center,
    edge: Edge,
    /// linked to A-1, linked to A-1, unlinked
    hashes: Vec<String>,
}

fn city() -> City {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let edge = jilu_tests::api::office_with_a1(&ca, &center);
    let mut hashes = Vec::new();
    for (n, (size, activity)) in [
        (3 * MIB + 7, Some("A-1")),
        (100_000, Some("A-1")),
        (5000, None),
    ]
    .into_iter()
    .enumerate()
    {
        let f = random_file(edge.tmp.path(), &format!("f{n}.bin"), size, n as u64 + 10);
        let mut args = vec!["ingest", f.to_str().unwrap(), "--device", "cam-01"];
        if let Some(a) = activity {
            args.extend(["--activity", a]);
        }
        hashes.push(edge.json(&args)[0]["hash"].as_str().unwrap().to_string());
    }
    let r = edge.sync_once();
    assert_eq!(r["items_verified"], 3, "{r}");
    City {
        _root: root,
        center,
        edge,
        hashes,
    }
}

fn hashes_of(v: &Value) -> Vec<String> {
    let mut h: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["hash"].as_str().unwrap().to_string())
        .collect();
    h.sort();
    h
}

#[test]
fn lists_records_paging_findings_and_errors() {
    let c = city();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let mut all = c.hashes.clone();
    all.sort();

    // a keeper of the county sees its items, another county's keeper none, an admin no records
    let r = get(api, "/api/v1/items?county=410422", &staff["keeper"]);
    assert_eq!(r.status, 200);
    assert_eq!(hashes_of(&r.json()), all);
    assert_eq!(
        hashes_of(&get(api, "/api/v1/items", &staff["other-keeper"]).json()),
        Vec::<String>::new()
    );
    let r = get(api, "/api/v1/items", &staff["admin"]);
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));

    // paging: one a page, following the cursor, gives each item once
    let mut seen = Vec::new();
    let mut path = "/api/v1/items?county=410422&limit=1".to_string();
    loop {
        let page = get(api, &path, &staff["supervisor"]).json();
        seen.extend(hashes_of(&page));
        match page["next"].as_str() {
            Some(n) => path = format!("/api/v1/items?county=410422&limit=1&cursor={n}"),
            None => break,
        }
        assert!(seen.len() <= 3, "paging does not end");
    }
    seen.sort();
    assert_eq!(seen, all);

    // filters: by activity, by officer, by hash prefix, by date
    let r = get(
        api,
        "/api/v1/items?county=410422&activity=A-1",
        &staff["head"],
    )
    .json();
    let mut linked = c.hashes[..2].to_vec();
    linked.sort();
    assert_eq!(hashes_of(&r), linked);
    assert_eq!(
        hashes_of(&get(api, "/api/v1/items?officer=1001", &staff["head"]).json()),
        all
    );
    let prefix = &c.hashes[2][..6];
    assert_eq!(
        hashes_of(&get(api, &format!("/api/v1/items?hash={prefix}"), &staff["head"]).json()),
        vec![c.hashes[2].clone()]
    );
    assert_eq!(
        hashes_of(&get(api, "/api/v1/items?to=1000", &staff["head"]).json()),
        Vec::<String>::new()
    );
    // the officer sees their own items
    assert_eq!(
        hashes_of(&get(api, "/api/v1/items", &staff["1001"]).json()),
        all
    );

    // one item: its record and custody chain
    let r = get(
        api,
        &format!("/api/v1/items/{}", c.hashes[0]),
        &staff["auditor"],
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["item"]["hash"], c.hashes[0]);
    assert_eq!(v["origin"], "edge-410422");
    assert!(
        v["custody"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "verified_at_center"),
        "{v}"
    );
    let r = get(
        api,
        &format!("/api/v1/items/{}", "ab".repeat(32)),
        &staff["auditor"],
    );
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));

    // activities and findings
    let acts = get(api, "/api/v1/activities?county=410422", &staff["keeper"]).json();
    assert_eq!(acts["activities"][0]["activity"]["id"], "A-1", "{acts}");
    assert_eq!(acts["activities"][0]["items"], 2);
    let one = get(api, "/api/v1/activities/410422/A-1", &staff["keeper"]).json();
    assert_eq!(one["linked_items"].as_array().unwrap().len(), 2, "{one}");
    let f = get(api, "/api/v1/findings?county=410422", &staff["keeper"]).json();
    let kinds: Vec<&str> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["finding"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"unlinked"), "{f}");
    assert!(kinds.contains(&"coverage_gap"), "{f}");

    // edges, devices
    let e = get(api, "/api/v1/edges", &staff["supervisor"]).json();
    assert_eq!(e["edges"][0]["node"], "edge-410422");
    let d = get(api, "/api/v1/devices", &staff["keeper"]).json();
    assert_eq!(d["devices"][0]["device"], "cam-01");
    assert_eq!(d["devices"][0]["items"], 3);
    assert_eq!(get(api, "/api/v1/devices", &staff["1001"]).status, 403);

    // errors are JSON with a stable code
    let r = get(api, "/api/v1/items?limit=0", &staff["keeper"]);
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    let r = get(api, "/api/v1/items?colour=red", &staff["keeper"]);
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    let r = get(api, "/api/v1/items?cursor=zz", &staff["keeper"]);
    assert_eq!((r.status, r.code().as_str()), (400, "bad_cursor"));
    let r = get(api, "/api/v1/nothing", &staff["keeper"]);
    assert_eq!((r.status, r.code().as_str()), (404, "no_such_path"));

    // health and metrics
    assert_eq!(request(api, "GET", "/healthz", None, &[], None).status, 200);
    assert_eq!(
        request(api, "GET", "/readyz", None, &[], None).json()["status"],
        "ready"
    );
    let m = String::from_utf8(request(api, "GET", "/metrics", None, &[], None).body).unwrap();
    assert!(
        m.contains("jilu_edge_last_contact_seconds{node=\"edge-410422\",county=\"410422\"}"),
        "{m}"
    );
    assert!(
        m.contains(
            "jilu_http_request_duration_seconds_bucket{route=\"/api/v1/items\",status=\"200\""
        ),
        "{m}"
    );
    assert!(m.contains("jilu_store_keys{family=\"index\"}"), "{m}");

    // the projections kept during the merges are what a rebuild gives
    let out = c.center.run(&["reindex", "--check"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let _ = &c.edge;
}

#[test]
fn tokens_expired_revoked_malformed_and_disabled_are_refused_and_audited() {
    let c = city();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let (short, _) = token(&c.center, "keeper", Some("0.00002")); // ~1.7 s
    let (revoked, id) = token(&c.center, "keeper", None);
    assert_eq!(get(api, "/api/v1/items", &revoked).status, 200);
    let out = c.center.run(&["user", "revoke", &id]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let cases = [
        (Some(short.as_str()), "token_expired"),
        (Some(revoked.as_str()), "token_revoked"),
        (Some("jilu_nothex"), "token_malformed"),
        (Some("Basic abc"), "token_malformed"),
        (Some(&*format!("jilu_{}", "0".repeat(64))), "token_unknown"),
        (None, "token_missing"),
    ];
    for (t, code) in cases {
        let r = request(api, "GET", "/api/v1/items", t, &[], None);
        assert_eq!((r.status, r.code().as_str()), (401, code), "{t:?}");
    }
    // a disabled user's token is refused from then on
    let out = c.center.run(&["user", "disable", "head"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let r = get(api, "/api/v1/items", &staff["head"]);
    assert_eq!((r.status, r.code().as_str()), (401, "account_disabled"));

    // every refusal is in the audit log, with its reason
    let log = get(
        api,
        "/api/v1/audit?action=api_refused&limit=500",
        &staff["auditor"],
    )
    .json();
    let reasons: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    for code in [
        "token_expired",
        "token_revoked",
        "token_malformed",
        "token_unknown",
        "token_missing",
        "account_disabled",
    ] {
        assert!(reasons.contains(&code), "{code} not audited: {reasons:?}");
    }
    // and every use of a valid token
    let used = get(
        api,
        "/api/v1/audit?action=api_access&actor=keeper&limit=500",
        &staff["auditor"],
    )
    .json();
    assert!(!used["entries"].as_array().unwrap().is_empty());
    // a user that is not an auditor reads no audit log
    assert_eq!(get(api, "/api/v1/audit", &staff["supervisor"]).status, 403);
}

#[test]
fn content_ranges_are_byte_exact_and_every_fetch_is_audited() {
    let c = city();
    let staff = staff(&c.center, "410422");
    let api = c.center.http;
    let hash = &c.hashes[0];
    let size = (3 * MIB + 7) as u64;
    let path = format!("/api/v1/items/{hash}/content");
    let mut joined = Vec::new();
    let spans = [
        (0u64, 99_999u64),
        (100_000, 1_999_999),
        (2_000_000, size - 1),
    ];
    for (a, b) in spans {
        let range = format!("bytes={a}-{b}");
        let r = request(
            api,
            "GET",
            &path,
            Some(&staff["keeper"]),
            &[("Range", &range)],
            None,
        );
        assert_eq!(r.status, 206);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {a}-{b}/{size}").as_str())
        );
        assert_eq!(r.body.len() as u64, b - a + 1);
        joined.extend_from_slice(&r.body);
    }
    // an independent BLAKE3 of the concatenated ranges is the item's hash
    assert_eq!(blake3::hash(&joined).to_hex().as_str(), hash.as_str());
    let whole = get(api, &path, &staff["keeper"]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(blake3::hash(&whole.body).to_hex().as_str(), hash.as_str());
    let r = request(
        api,
        "GET",
        &path,
        Some(&staff["keeper"]),
        &[("Range", &format!("bytes={size}-"))],
        None,
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (416, "range_not_satisfiable")
    );
    // several ranges: one multipart/byteranges answer, each part byte-exact
    let asked = [(0u64, 9u64), (1000, 1999), (size - 5, size - 1)];
    let r = request(
        api,
        "GET",
        &path,
        Some(&staff["keeper"]),
        &[("Range", "bytes=0-9, 1000-1999, -5")],
        None,
    );
    assert_eq!(r.status, 206);
    let boundary = r
        .header("content-type")
        .and_then(|t| t.strip_prefix("multipart/byteranges; boundary="))
        .expect("a multipart/byteranges answer")
        .to_string();
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let parts = byteranges(&r.body, &boundary);
    assert_eq!(parts.len(), asked.len());
    for ((a, b), (range, bytes)) in asked.iter().zip(&parts) {
        assert_eq!(range, &format!("bytes {a}-{b}/{size}"));
        assert_eq!(bytes.as_slice(), &whole.body[*a as usize..=*b as usize]);
    }
    // an auditor sees the record but not the footage without a grant
    assert_eq!(get(api, &path, &staff["auditor"]).status, 403);
    // every fetch: who, which item, which bytes
    let log = get(
        api,
        &format!("/api/v1/audit?action=content_served&subject=item:{hash}&limit=100"),
        &staff["auditor"],
    )
    .json();
    let served: Vec<(u64, u64)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "keeper");
            (
                e["detail"]["first"].as_u64().unwrap(),
                e["detail"]["last"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut want = spans.to_vec();
    want.push((0, size - 1));
    want.push((0, size - 1));
    assert_eq!(served, want);
    let last = &log["entries"].as_array().unwrap()[served.len() - 1]["detail"];
    let listed: Vec<(u64, u64)> = last["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, asked);
    assert_eq!(last["bytes"], 10 + 1000 + 5);
    let denied = get(
        api,
        "/api/v1/audit?action=access_denied&actor=auditor",
        &staff["auditor"],
    )
    .json();
    assert_eq!(denied["entries"].as_array().unwrap().len(), 1, "{denied}");
}

/// The parts of a `multipart/byteranges` body: (Content-Range, bytes), each
/// part's length read from its Content-Range (footage may contain anything).
fn byteranges(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let find = |h: &[u8], n: &[u8]| h.windows(n.len()).position(|w| w == n).unwrap();
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        rest = &rest[find(rest, delim.as_bytes()) + delim.len()..];
        if rest.starts_with(b"--") {
            return out;
        }
        let head_end = find(rest, b"\r\n\r\n");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .unwrap()
            .to_string();
        let (a, b) = range
            .strip_prefix("bytes ")
            .and_then(|r| r.split('/').next())
            .and_then(|r| r.split_once('-'))
            .unwrap();
        let len = b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1;
        let data = &rest[head_end + 4..head_end + 4 + len];
        out.push((range, data.to_vec()));
        rest = &rest[head_end + 4 + len..];
    }
}

#[test]
fn https_with_a_web_certificate_and_plain_http_only_on_loopback() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let mut center = Center::start(root.path(), &ca);
    // a web certificate carries the names a browser checks, and serverAuth only
    let out = ca.run(&[
        "issue",
        "--role",
        "web",
        "--dns",
        "jilu.example.test",
        "--ip",
        "127.0.0.1",
    ]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let web = ca.dir.join("nodes/jilu.example.test");
    let pem = web.join("jilu.example.test.pem");
    let shown = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("DNS:jilu.example.test") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication") && !text.contains("Client Authentication"),
        "{text}"
    );
    // --dns belongs to web certificates only
    let out = ca.run(&[
        "issue", "--node", "e9", "--county", "410499", "--role", "edge", "--dns", "x",
    ]);
    assert!(!out.status.success());
    jilu_tests::assert_one_line(&String::from_utf8_lossy(&out.stderr));

    // plain HTTP on an address that is not loopback: one clear error, nothing starts
    center.kill9();
    let base = std::fs::read_to_string(&center.config).unwrap();
    let http = center.http;
    let port = jilu_tests::cluster::free_tcp_port();
    let plain = base.replace(
        &format!("listen = \"{http}\""),
        &format!("listen = \"0.0.0.0:{port}\""),
    );
    std::fs::write(&center.config, &plain).unwrap();
    let out = c_run(&center, &["run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    jilu_tests::assert_one_line(&err);
    assert!(
        err.contains("plain HTTP is allowed only on loopback"),
        "{err}"
    );

    // HTTPS with the web certificate: curl checks it against the CA, by name
    let tls = plain.replace(
        &format!("listen = \"0.0.0.0:{port}\""),
        &format!(
            "listen = \"{http}\"\ncert = \"{}\"\nkey = \"{}\"",
            pem.display(),
            web.join("jilu.example.test.key").display()
        ),
    );
    std::fs::write(&center.config, tls).unwrap();
    center.restart();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(ca.dir.join("ca.pem"))
        .args([
            "--resolve",
            &format!("jilu.example.test:{}:127.0.0.1", http.port()),
        ])
        .arg(format!("https://jilu.example.test:{}/healthz", http.port()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"status\":\"ok\"}");
    // and plain HTTP to the TLS port gets no answer
    let plain = std::process::Command::new("curl")
        .args(["-sS", "-m", "5"])
        .arg(format!("http://127.0.0.1:{}/healthz", http.port()))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("ok"));
}

fn c_run(center: &Center, args: &[&str]) -> std::process::Output {
    std::process::Command::new(jilu_tests::binary("center"))
        .arg("--config")
        .arg(&center.config)
        .args(args)
        .env("JILU_LOG", "error")
        .output()
        .unwrap()
}

/// The center's resident memory, KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap()
}

#[test]
fn a_1_gib_item_streams_with_flat_memory() {
    let size: usize = std::env::var("JILU_STREAM_TEST_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let edge = Edge::office("410422", 0);
    edge.link(&ca, &center, "410422", "");
    let f = random_file(edge.tmp.path(), "big.bin", size, 77);
    let hash = edge.json(&["ingest", f.to_str().unwrap(), "--device", "cam-01"])[0]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(&f).unwrap();
    assert_eq!(edge.sync_once()["items_verified"], 1);
    jilu_tests::api::add_user(&center, "keeper", "keeper", Some("410422"));
    let (t, _) = token(&center, "keeper", None);
    let pid = center.pid().unwrap();
    let before = rss_kib(pid);
    // read the stream slowly enough to sample the center while it sends
    let mut s = std::net::TcpStream::connect(center.http).unwrap();
    use std::io::{Read, Write};
    write!(s, "GET /api/v1/items/{hash}/content HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n").unwrap();
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let (mut body, mut peak, mut samples) = (0usize, before, 0);
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if !head.windows(4).any(|w| w == b"\r\n\r\n") {
            head.extend_from_slice(chunk);
            if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                hasher.update(&head[at + 4..]);
                body += head.len() - at - 4;
            }
            continue;
        }
        hasher.update(chunk);
        body += n;
        if body % (64 << 20) < n {
            peak = peak.max(rss_kib(pid));
            samples += 1;
        }
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    assert_eq!(body, size);
    assert_eq!(hasher.finalize().to_hex().as_str(), hash);
    // the center's memory grew by far less than the item: it streamed
    let grew = peak.saturating_sub(before);
    println!("center RSS {before} KiB before, peak {peak} KiB over {samples} samples while streaming {size} bytes");
    assert!(samples >= size / (128 << 20), "sampled {samples} times");
    assert!(
        grew < 64 * 1024,
        "the center grew by {grew} KiB while streaming {size} bytes"
    );
}
