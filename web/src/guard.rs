//! The pure parts of serving the pages safely, shared by the center's web UI and
//! the county office page (`edge-node run --http`): the Origin and Host checks of
//! a request, constant-time token comparison, cookies, query encoding, the
//! language switch's return path and the headers every page carries. No HTTP
//! library here: the servers pass header values as text.

/// Headers every page carries: never cached, never framed, forms only to itself.
pub const PAGE_HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
];

/// Why a form from another site is refused.
pub const ORIGIN_REFUSED: &str = "the form did not come from this site (Origin)";
/// Why a form without this page's token is refused.
pub const CSRF_REFUSED: &str = "the form's CSRF token is missing or wrong: reload the page";

/// Equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from the request's `Cookie` header values.
pub fn cookie<'a>(values: impl IntoIterator<Item = &'a str>, name: &str) -> Option<String> {
    values
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, Secure, SameSite=Strict, for the whole site;
/// `max_age` 0 removes it, `None` lasts the browser session.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict{age}")
}

/// Whether a state-changing request comes from this site: its `Origin` names the
/// `Host` the request was sent to.
pub fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| (scheme == "https" || scheme == "http") && rest == host),
        _ => false,
    }
}

/// Whether a request to a server on loopback port `port` names a loopback host
/// (`127.x.y.z`, `[::1]` or `localhost`, with that port). A page served on
/// loopback checks this on every request: a hostile site whose name resolves to
/// 127.0.0.1 (DNS rebinding) sends its own name as `Host`, and would otherwise
/// read the pages, and the CSRF token in them, as same-origin.
pub fn loopback_host(host: Option<&str>, port: u16) -> bool {
    let Some((name, p)) = host.and_then(|h| h.rsplit_once(':')) else {
        return false;
    };
    if p.parse::<u16>().ok() != Some(port) {
        return false;
    }
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Percent-encodes everything but unreserved characters (for a query value).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the language switch returns: `back` when it is a page of this site
/// (`/web/...`, never `//host`), else `default`.
pub fn back_path<'a>(back: Option<&'a str>, default: &'a str) -> &'a str {
    back.filter(|b| b.starts_with("/web/") && !b.starts_with("//"))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_host_and_encoding() {
        let host = Some("127.0.0.1:8080");
        assert!(!same_origin(None, host), "no Origin");
        assert!(same_origin(Some("http://127.0.0.1:8080"), host));
        assert!(!same_origin(Some("http://evil.example:8080"), host));
        assert!(!same_origin(Some("null"), host));
        assert!(!same_origin(Some("http://127.0.0.1:8080"), None));
        assert!(loopback_host(Some("127.0.0.1:8080"), 8080));
        assert!(loopback_host(Some("localhost:8080"), 8080));
        assert!(loopback_host(Some("[::1]:8080"), 8080));
        assert!(!loopback_host(Some("127.0.0.1:8081"), 8080));
        assert!(!loopback_host(Some("evil.example:8080"), 8080));
        assert!(!loopback_host(Some("10.0.0.1:8080"), 8080));
        assert!(!loopback_host(None, 8080));
        assert_eq!(
            encode("/web/a?x=1&y=中"),
            "%2Fweb%2Fa%3Fx%3D1%26y%3D%E4%B8%AD"
        );
        assert_eq!(back_path(Some("/web/office"), "/web/x"), "/web/office");
        assert_eq!(back_path(Some("//evil"), "/web/x"), "/web/x");
        assert_eq!(back_path(Some("https://evil"), "/web/x"), "/web/x");
    }

    #[test]
    fn cookies_and_tokens() {
        let v = ["a=1; jilu_session=abc ; b="];
        assert_eq!(cookie(v, "jilu_session").as_deref(), Some("abc"));
        assert_eq!(cookie(v, "b"), None);
        assert_eq!(cookie(v, "c"), None);
        let c = set_cookie("jilu_session", "x", Some(0));
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=0",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
