//! Talking to a running center's HTTP API from tests: a small HTTP/1.1 client on
//! std's TCP (one request per connection), accounts made with the real `center
//! user` commands, and tokens they print.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::binary;
use crate::cluster::Center;

/// One response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..nl])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}

/// Sends one request; `headers` are extra `(name, value)` pairs.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut h: Vec<(&str, String)> = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
    if let Some(t) = token {
        h.push(("Authorization", format!("Bearer {t}")));
    }
    let body = body.unwrap_or("");
    let typed = (!body.is_empty() || method != "GET").then_some(("application/json", body));
    send(addr, method, path, &h, typed)
}

/// Sends one request with `body` of a content type (`(type, text)`).
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<(&str, &str)>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((ctype, text)) = body {
        req.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            text.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.map(|b| b.1).unwrap_or(""));
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn get(addr: SocketAddr, path: &str, token: &str) -> Resp {
    request(addr, "GET", path, Some(token), &[], None)
}

/// `center user add NAME --role ROLE [--county C]` with the password on stdin.
pub fn add_user(center: &Center, name: &str, role: &str, county: Option<&str>) {
    let mut cmd = Command::new(binary("center"));
    cmd.arg("--config").arg(&center.config).args([
        "--as",
        "admin-cli",
        "user",
        "add",
        name,
        "--role",
        role,
    ]);
    if let Some(c) = county {
        cmd.args(["--county", c]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("center user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery\n")
        .expect("password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "user add {name}: {}",
        crate::text(&out)
    );
}

/// `center user token NAME`: (token, token id).
pub fn token(center: &Center, name: &str, expires_days: Option<&str>) -> (String, String) {
    let mut args = vec!["user", "token", name];
    if let Some(d) = expires_days {
        args.extend(["--expires", d]);
    }
    let out = center.run(&args);
    assert!(
        out.status.success(),
        "user token {name}: {}",
        crate::text(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("token json");
    (
        v["token"].as_str().expect("token").to_string(),
        v["id"].as_str().expect("id").to_string(),
    )
}

/// A user of each role (officer 1001 and keeper of `county`), with a token each.
pub fn staff(center: &Center, county: &str) -> std::collections::BTreeMap<&'static str, String> {
    let people: [(&str, &str, Option<&str>); 7] = [
        ("1001", "officer", Some(county)),
        ("keeper", "keeper", Some(county)),
        ("other-keeper", "keeper", Some("419999")),
        ("supervisor", "supervisor", None),
        ("head", "head", None),
        ("auditor", "auditor", None),
        ("admin", "admin", None),
    ];
    let mut out = std::collections::BTreeMap::new();
    for (name, role, c) in people {
        add_user(center, name, role, c);
        out.insert(name, token(center, name, None).0);
    }
    out
}

/// A county office (410422, camera cam-01 out to officer 1001) with activity A-1
/// (matter 1, 09:00 to 10:00 on 2026-11-20), linked to `center`.
pub fn office_with_a1(ca: &crate::cluster::Ca, center: &Center) -> crate::Edge {
    let edge = crate::Edge::office_with_a1("410422");
    edge.link(ca, center, "410422", "");
    edge
}

/// A center with 410422's office ([`office_with_a1`]) and one item linked to A-1,
/// synced: the item is `file`, or 200 kB of seeded random bytes.
pub struct City {
    pub root: tempfile::TempDir,
    pub center: Center,
    pub edge: crate::Edge,
    /// the linked item's hash
    pub item: String,
}

pub fn city_with_item(file: Option<std::path::PathBuf>) -> City {
    let root = tempfile::tempdir().expect("tempdir");
    let ca = crate::cluster::Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let edge = office_with_a1(&ca, &center);
    let f = file.unwrap_or_else(|| crate::random_file(edge.tmp.path(), "a.bin", 200_000, 3));
    let path = f.to_str().expect("utf-8 path");
    let item = edge.json(&["ingest", path, "--device", "cam-01", "--activity", "A-1"])[0]["hash"]
        .as_str()
        .expect("hash")
        .to_string();
    edge.sync_once();
    City {
        root,
        center,
        edge,
        item,
    }
}
