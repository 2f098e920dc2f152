//! Request lines in the audit log name records too: a refused
//! `GET /api/v1/items/<hash>` or `/web/activities/<county>/<id>` is written with the
//! path its user asked for. An auditor who may not see that record gets the entry
//! (the refusal is itself evidence) with the record's names masked, so the log
//! does not leak what classification hides.

/// Masks, in an entry's `detail`, the request line and the grant target that name
/// a record `visible` says the reader may not see; marks it `"masked": true`.
pub fn redact(
    detail: &mut serde_json::Value,
    visible: &mut dyn FnMut(&str) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let mut hidden = false;
    if let Some(req) = detail
        .get("request")
        .and_then(|v| v.as_str())
        .map(str::to_string)
    {
        let mut hide = false;
        for s in subjects(&req) {
            hide |= !visible(&s)?;
        }
        if hide {
            detail["request"] = masked(&req).into();
            hidden = true;
        }
    }
    if let Some(t) = detail
        .get("target")
        .and_then(|v| v.as_str())
        .map(str::to_string)
    {
        if !visible(&t)? {
            let kind = t.split_once(':').map_or("record", |(k, _)| k);
            detail["target"] = format!("{kind}:{{hidden}}").into();
            hidden = true;
        }
    }
    if hidden {
        detail["masked"] = true.into();
    }
    Ok(())
}

/// The records a request line names, as audit subjects (`item:<hash>`,
/// `doc:activity/<county>/<id>`), read from its path and query.
pub fn subjects(request: &str) -> Vec<String> {
    let target = request.split_once(' ').map_or(request, |(_, t)| t);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::new();
    for (i, s) in seg.iter().enumerate() {
        match *s {
            "items" => {
                if let Some(h) = seg.get(i + 1) {
                    out.push(format!("item:{}", decoded(h)));
                }
            }
            "activities" => {
                if let (Some(c), Some(id)) = (seg.get(i + 1), seg.get(i + 2)) {
                    out.push(format!("doc:activity/{}/{}", decoded(c), decoded(id)));
                }
            }
            _ => {}
        }
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let value = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let (Some(c), Some(a)) = (value("county"), value("activity")) {
        out.push(format!("doc:activity/{c}/{a}"));
    }
    if let Some(s) = value("subject") {
        out.push(s);
    }
    out
}

/// The request line with its path's record names and its whole query replaced by
/// placeholders: `GET /api/v1/items/{hash}/content`.
pub fn masked(request: &str) -> String {
    let (method, target) = request.split_once(' ').unwrap_or(("", request));
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let seg: Vec<&str> = path.split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        out.push(seg[i]);
        match seg[i] {
            "items" if i + 1 < seg.len() => {
                out.push("{hash}");
                i += 1;
            }
            "activities" if i + 2 < seg.len() => {
                out.extend(["{county}", "{id}"]);
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
    let query = if target.contains('?') { "?{query}" } else { "" };
    let line = format!("{}{query}", out.join("/"));
    if method.is_empty() {
        line
    } else {
        format!("{method} {line}")
    }
}

/// One path segment, percent-decoded (as a browser encodes a Chinese activity id).
fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0e0d5b6f1a2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccd";

    #[test]
    fn the_records_a_request_names() {
        assert_eq!(
            subjects(&format!("GET /api/v1/items/{H}/content")),
            [format!("item:{H}")]
        );
        assert_eq!(
            subjects("POST /web/activities/410422/A-1/hold"),
            ["doc:activity/410422/A-1"]
        );
        assert_eq!(
            subjects("GET /api/v1/items?county=410422&activity=%E5%B7%A1-1&limit=5"),
            ["doc:activity/410422/巡-1"]
        );
        assert_eq!(
            subjects(&format!("GET /api/v1/audit?subject=item:{H}")),
            [format!("item:{H}")]
        );
        assert!(subjects("GET /api/v1/items?county=410422").is_empty());
        assert!(subjects("GET /web/counties").is_empty());
    }

    #[test]
    fn a_grant_target_and_a_request_are_masked_only_when_hidden() {
        let mut d =
            serde_json::json!({"target": format!("item:{H}"), "request": "GET /web/counties"});
        redact(&mut d, &mut |s| Ok(!s.contains(H))).unwrap();
        assert_eq!(d["target"], "item:{hidden}");
        assert_eq!(d["request"], "GET /web/counties");
        assert_eq!(d["masked"], true);
        let mut d = serde_json::json!({"request": format!("GET /web/items/{H}")});
        redact(&mut d, &mut |_| Ok(true)).unwrap();
        assert!(d.get("masked").is_none());
        assert!(d["request"].as_str().unwrap().contains(H));
    }

    #[test]
    fn masking_keeps_the_shape_and_hides_the_names() {
        assert_eq!(
            masked(&format!("GET /api/v1/items/{H}/content?x=1")),
            "GET /api/v1/items/{hash}/content?{query}"
        );
        assert_eq!(
            masked("POST /web/activities/410422/A-1/hold"),
            "POST /web/activities/{county}/{id}/hold"
        );
        assert_eq!(masked("GET /api/v1/items"), "GET /api/v1/items");
        let m = masked(&format!("GET /web/items/{H}"));
        assert!(!m.contains(&H[..12]), "{m}");
    }
}
