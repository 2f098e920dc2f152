//! `GET /api/v1/items/{hash}/content`: an item's footage from the blob store,
//! whole or one byte range (HTTP Range, so a `<video>` element can seek),
//! streamed from the file in 64 KiB reads, never loaded whole. This is the only
//! way footage leaves the center through the API, and every fetch is audited
//! (who, which item, when, which bytes) before the first byte is sent.

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use jilu_common::access::{Op, Verdict};
use jilu_common::audit::Action;
use jilu_common::media::MediaKind;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::auth::Call;
use super::error::ApiError;
use super::records::hex32;
use super::visibility::Seer;

/// The bytes asked for, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

/// Reads a `Range` header against a blob of `size` bytes: `Ok(None)` for the
/// whole blob (no header, or one this server ignores, as RFC 9110 allows: more
/// than one range, another unit), `Err` when no byte of it is satisfiable.
/// No byte of the range asked for is in the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<Span>, Unsatisfiable> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let span = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 || size == 0 {
            return Err(Unsatisfiable);
        }
        Span {
            start: size.saturating_sub(n),
            end: size - 1,
        }
    } else {
        let start: u64 = a.parse().map_err(|_| Unsatisfiable)?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(Unsatisfiable);
        }
        Span { start, end }
    };
    Ok(Some(span))
}

pub fn mime(kind: MediaKind, container: &str) -> &'static str {
    match (kind, container) {
        (_, "mp4") | (_, "mov") => "video/mp4",
        (_, "jpeg") | (_, "jpg") => "image/jpeg",
        (_, "wav") => "audio/wav",
        (MediaKind::Video, _) => "video/mp4",
        (MediaKind::Audio, _) => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

pub async fn content(call: Call, Path(hash): Path<String>) -> Result<Response, ApiError> {
    let range = call.header(header::RANGE);
    let (path, size, span, kind) = call.run(move |c, who| {
        let h = hex32(&hash.to_lowercase()).ok_or_else(|| {
            ApiError::bad_request(format!("{hash:?} is not an item hash (64 hex digits)"))
        })?;
        let rec = c.item(&h)?.ok_or_else(|| ApiError::not_found("such item"))?;
        match Seer::new(c, who).item(Op::ReadContent, &rec.item)? {
            Verdict::Allow => {}
            Verdict::Hidden => return Err(ApiError::hidden("such item")),
            Verdict::Forbidden => {
                return Err(ApiError::forbidden(
                    "your role sees this item's record, not its footage (an auditor needs a grant)",
                ))
            }
        }
        let size = rec.item.size;
        let span = parse_range(range.as_deref(), size).map_err(|Unsatisfiable| ApiError {
            denied: None,
            ..ApiError::new(416, "range_not_satisfiable", &format!("the item has {size} bytes"))
        })?;
        let (start, end) = span.map(|s| (s.start, s.end)).unwrap_or((0, size.saturating_sub(1)));
        let mut tx = c.journal.begin();
        tx.audit(
            &who.name,
            Action::ContentServed,
            format!("item:{}", rec.item.hash),
            json!({"range": range, "first": start, "last": end, "bytes": if size == 0 { 0 } else { end - start + 1 }}),
            &[h],
        )?;
        tx.commit()?;
        Ok((
            c.blobs.path(&h),
            size,
            span,
            mime(rec.item.kind, &rec.item.container),
        ))
    })
    .await?;
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("the blob is not readable: {e}")))?;
    let (start, len) = match span {
        Some(s) => (s.start, s.end - s.start + 1),
        None => (0, size),
    };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(ApiError::internal)?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 << 10);
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(s) = span {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", s.start, s.end)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let s = |a, b| Ok(Some(Span { start: a, end: b }));
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), s(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), s(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), s(90, 99));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), s(0, 99));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), s(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=9-3"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=x-3"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=-0"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 100), Ok(None));
    }
}
