//! Using the center's web UI from tests as a browser does, over plain HTTP on
//! loopback: cookies kept per client, the CSRF token read from each form, the
//! Origin header a browser sends with a form, and TOTP codes from the secret
//! `center user totp` prints.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::api::{send, Resp};
use crate::cluster::Center;

/// `center user totp NAME`: the base32 secret in the otpauth URI it prints.
pub fn enrol_totp(center: &Center, name: &str) -> String {
    let out = center.run(&["user", "totp", name]);
    let text = crate::text(&out);
    assert!(out.status.success(), "user totp {name}: {text}");
    let uri = text
        .lines()
        .find(|l| l.starts_with("otpauth://totp/"))
        .unwrap_or_else(|| panic!("no otpauth URI in: {text}"));
    assert!(
        text.contains('█') || text.contains('▀'),
        "no QR code: {text}"
    );
    uri.split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("secret")
        .to_string()
}

/// The TOTP code of `secret` at `unix_secs`.
pub fn totp_code(secret: &str, unix_secs: u64) -> String {
    let s = totp_rs::Secret::try_from_base32(secret).expect("base32");
    totp_rs::Builder::new()
        .with_secret(s)
        .build()
        .expect("totp")
        .generate(unix_secs)
        .to_string()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Waits for the next 30 s TOTP step (so a test has a code no login used yet).
pub fn next_step() -> u64 {
    let now = now_secs();
    let next = (now / 30 + 1) * 30;
    std::thread::sleep(std::time::Duration::from_secs(next - now));
    next
}

/// The value of `name="csrf"` in a page's first form.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

/// `application/x-www-form-urlencoded` of pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser-like client: its cookies, and the Origin it sends with forms.
#[derive(Debug, Clone)]
pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// sent as `Origin` with every POST (None: no Origin header)
    pub origin: Option<String>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: BTreeMap::new(),
            origin: Some(format!("http://{addr}")),
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            h.push(("Cookie", c.join("; ")));
        }
        h
    }

    fn keep(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let first = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = first.split_once('=') {
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let r = send(self.addr, "GET", path, &self.headers(), None);
        self.keep(&r);
        r
    }

    pub fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let mut h = self.headers();
        if let Some(o) = &self.origin {
            h.push(("Origin", o.clone()));
        }
        let body = form(pairs);
        let r = send(
            self.addr,
            "POST",
            path,
            &h,
            Some(("application/x-www-form-urlencoded", &body)),
        );
        self.keep(&r);
        r
    }

    /// Opens the login form and sends it.
    pub fn login(&mut self, name: &str, password: &str, totp: &str) -> Resp {
        let page = self.get("/web/login");
        assert_eq!(page.status, 200, "{}", page.text());
        let csrf = csrf_of(&page.text()).expect("the login form's csrf");
        self.post(
            "/web/login",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("password", password),
                ("totp", totp),
            ],
        )
    }

    /// A page's HTML (following no redirect), and the CSRF token of its forms.
    pub fn page(&mut self, path: &str) -> (u16, String, Option<String>) {
        let r = self.get(path);
        let html = r.text();
        let csrf = csrf_of(&html);
        (r.status, html, csrf)
    }
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The password `crate::api::add_user` gives every account.
pub const PASSWORD: &str = "correct horse battery";
