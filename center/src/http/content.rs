//! `GET /api/v1/items/{hash}/content`: an item's footage from the blob store,
//! whole, one byte range (HTTP Range, so a `<video>` element can seek) or several
//! as `multipart/byteranges`,
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

impl Span {
    pub fn bytes(self) -> u64 {
        self.end - self.start + 1
    }
}

/// No byte of the ranges asked for is in the item, or more ranges than
/// [`MAX_RANGES`] (RFC 9110 §14.2 lets a server reject a set of many ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Most ranges one request may ask for; more is answered 416.
pub const MAX_RANGES: usize = 16;

fn one_range(spec: &str, size: u64) -> Result<Option<Span>, Unsatisfiable> {
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 || size == 0 {
            return Ok(None);
        }
        return Ok(Some(Span {
            start: size.saturating_sub(n),
            end: size - 1,
        }));
    }
    let start: u64 = a.parse().map_err(|_| Unsatisfiable)?;
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        b.parse::<u64>()
            .map_err(|_| Unsatisfiable)?
            .min(size.saturating_sub(1))
    };
    if !b.is_empty() && b.parse::<u64>().is_ok_and(|e| e < start) {
        return Err(Unsatisfiable);
    }
    if start >= size {
        return Ok(None);
    }
    Ok(Some(Span { start, end }))
}

/// Reads a `Range` header against a blob of `size` bytes (RFC 9110 §14.2): an
/// empty list for the whole blob (no header, or another unit, which a server
/// ignores), else the satisfiable ranges in the order asked, each clipped to the
/// blob. `Err` when the header is malformed, none of its ranges is satisfiable,
/// or it asks for more than [`MAX_RANGES`]. One range is answered as one 206,
/// several as `multipart/byteranges`.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Vec<Span>, Unsatisfiable> {
    let Some(h) = header else {
        return Ok(Vec::new());
    };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(Vec::new());
    };
    let specs: Vec<&str> = spec.split(',').map(str::trim).collect();
    if specs.len() > MAX_RANGES {
        return Err(Unsatisfiable);
    }
    let mut spans = Vec::new();
    for s in specs {
        if let Some(span) = one_range(s, size)? {
            spans.push(span);
        }
    }
    if spans.is_empty() {
        return Err(Unsatisfiable);
    }
    Ok(spans)
}

/// The boundary of a `multipart/byteranges` answer: fixed, since footage bytes
/// never need to avoid it (every part's length is given by its Content-Range).
pub const BOUNDARY: &str = "jilu-byteranges-7d1c0b9e";

/// The header block before one part of a `multipart/byteranges` body.
fn part_head(first: bool, mime: &str, s: Span, size: u64) -> Vec<u8> {
    format!(
        "{}--{BOUNDARY}\r\nContent-Type: {mime}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
        if first { "" } else { "\r\n" },
        s.start,
        s.end
    )
    .into_bytes()
}

fn tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

type Reader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

async fn open_span(path: &std::path::Path, s: Span) -> Result<Reader, ApiError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ApiError::internal(format!("the blob is not readable: {e}")))?;
    file.seek(SeekFrom::Start(s.start))
        .await
        .map_err(ApiError::internal)?;
    Ok(Box::new(file.take(s.bytes())))
}

/// The body and its length: the one span, or every span as a part of a
/// `multipart/byteranges` body, each read from the file as it is sent.
async fn body(
    path: &std::path::Path,
    spans: &[Span],
    mime: &str,
    size: u64,
) -> Result<(Reader, u64), ApiError> {
    if let [one] = spans {
        return Ok((open_span(path, *one).await?, one.bytes()));
    }
    let mut reader: Reader = Box::new(std::io::Cursor::new(Vec::new()));
    let mut len = 0u64;
    for (i, s) in spans.iter().enumerate() {
        let head = part_head(i == 0, mime, *s, size);
        len += head.len() as u64 + s.bytes();
        reader = Box::new(
            reader
                .chain(std::io::Cursor::new(head))
                .chain(open_span(path, *s).await?),
        );
    }
    let end = tail();
    len += end.len() as u64;
    Ok((Box::new(reader.chain(std::io::Cursor::new(end))), len))
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
    let (path, size, spans, kind) = call.run(move |c, who| {
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
        let spans = parse_range(range.as_deref(), size).map_err(|Unsatisfiable| ApiError {
            denied: None,
            ..ApiError::new(
                416,
                "range_not_satisfiable",
                &format!("the item has {size} bytes; give at most {MAX_RANGES} ranges, one of them within it"),
            )
        })?;
        let served: Vec<[u64; 2]> = spans.iter().map(|s| [s.start, s.end]).collect();
        let bytes: u64 = if spans.is_empty() {
            size
        } else {
            spans.iter().map(|s| s.bytes()).sum()
        };
        let (first, last) = match spans.as_slice() {
            [] => (0, size.saturating_sub(1)),
            [s, ..] => (s.start, spans.iter().map(|s| s.end).max().unwrap_or(s.end)),
        };
        let mut tx = c.journal.begin();
        tx.audit(
            &who.name,
            Action::ContentServed,
            format!("item:{}", rec.item.hash),
            json!({"range": range, "first": first, "last": last, "ranges": served, "bytes": bytes}),
            &[h],
        )?;
        tx.commit()?;
        Ok((
            c.blobs.path(&h),
            size,
            spans,
            mime(rec.item.kind, &rec.item.container),
        ))
    })
    .await?;
    let whole = [Span {
        start: 0,
        end: size.saturating_sub(1),
    }];
    let (reader, len) = match (spans.is_empty(), size) {
        (true, 0) => (Box::new(std::io::Cursor::new(Vec::new())) as Reader, 0),
        (true, _) => body(&path, &whole, kind, size).await?,
        (false, _) => body(&path, &spans, kind, size).await?,
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 << 10);
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    match spans.as_slice() {
        [] => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        [s] => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", s.start, s.end)) {
                h.insert(header::CONTENT_RANGE, v);
            }
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        _ => {
            if let Ok(v) =
                HeaderValue::from_str(&format!("multipart/byteranges; boundary={BOUNDARY}"))
            {
                h.insert(header::CONTENT_TYPE, v);
            }
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let s = |a, b| Ok(vec![Span { start: a, end: b }]);
        assert_eq!(parse_range(None, 100), Ok(vec![]));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), s(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), s(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), s(90, 99));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), s(0, 99));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), s(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=9-3"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=x-3"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=-0"), 100), Err(Unsatisfiable));
        assert_eq!(
            parse_range(Some("bytes=0-1, 5-6"), 100),
            Ok(vec![Span { start: 0, end: 1 }, Span { start: 5, end: 6 }])
        );
        // an unsatisfiable range among others is left out
        assert_eq!(parse_range(Some("bytes=200-300,5-6"), 100), s(5, 6));
        assert_eq!(parse_range(Some("bytes=0-1,x"), 100), Err(Unsatisfiable));
        let many = vec!["0-0"; MAX_RANGES + 1].join(",");
        assert_eq!(
            parse_range(Some(&format!("bytes={many}")), 100),
            Err(Unsatisfiable)
        );
        assert_eq!(parse_range(Some("items=0-1"), 100), Ok(vec![]));
    }
}
