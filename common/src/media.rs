//! Reads a recording's capture start and duration from the file's own metadata (MP4/MOV `mvhd`,
//! JPEG EXIF `DateTimeOriginal`, WAV length), as the device's clock saw them, falling back to the
//! file's modification time whenever the metadata is missing or cannot be trusted.

use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// What a recording is, as art. 11 of the regulation distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// MP4/MOV with a video track (or no track telling otherwise).
    Video,
    /// WAV, or MP4/MOV whose tracks are all sound.
    Audio,
    /// JPEG still.
    Photo,
    /// Anything not recognised.
    Other,
}

/// Where the capture start time came from (recorded with every item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// `moov/mvhd` creation_time (MP4/MOV), UTC by the spec.
    Mvhd,
    /// EXIF DateTimeOriginal, zoned by OffsetTimeOriginal or else the device's zone.
    ExifDateTimeOriginal,
    /// WAV: file modification time minus the length of the `data` chunk.
    WavLengthAndFileTime,
    /// The file's modification time: nothing better in the file.
    FileTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub kind: MediaKind,
    /// short container name: "mp4", "mov", "jpeg", "wav", or "unknown"
    pub container: String,
    /// capture start in Unix milliseconds UTC, as the DEVICE's clock saw it (no clock-offset correction here)
    pub capture_start_ms: i64,
    /// duration in milliseconds where the container says (video/audio), else None (photos: None)
    pub duration_ms: Option<u64>,
    pub source: TimeSource,
}

/// Reads the file's own metadata. Never fails on odd input: anything it cannot parse
/// (truncated boxes, garbage, unknown format) falls back to `FileTime`.
/// `file_mtime_ms`: the file's modification time (Unix ms). `local_utc_offset_minutes`: the
/// device's time zone, used for EXIF DateTimeOriginal which carries no zone unless an
/// OffsetTimeOriginal tag is present (that tag wins).
///
/// A recognised format whose metadata cannot be used keeps its kind and container name
/// (e.g. a JPEG without EXIF is still a `Photo` in `"jpeg"`), with `FileTime` as the source.
/// Only the few header bytes, boxes and chunks needed are read; the reader is left positioned
/// wherever the last read ended.
pub fn probe<R: Read + Seek>(
    r: &mut R,
    file_len: u64,
    file_mtime_ms: i64,
    local_utc_offset_minutes: i32,
) -> MediaInfo {
    let mut head = [0u8; 12];
    let n = read_prefix(r, &mut head, file_len);
    let head = head.get(..n).unwrap_or(&[]);
    match detect(head) {
        Format::Bmff(container) => probe_bmff(r, file_len, container, file_mtime_ms),
        Format::Jpeg => match jpeg_capture_ms(r, file_len, local_utc_offset_minutes) {
            Some(ms) => MediaInfo {
                kind: MediaKind::Photo,
                container: "jpeg".to_owned(),
                capture_start_ms: ms,
                duration_ms: None,
                source: TimeSource::ExifDateTimeOriginal,
            },
            None => file_time(MediaKind::Photo, "jpeg", file_mtime_ms, None),
        },
        Format::Wav { rf64 } => probe_wav(r, file_len, rf64, file_mtime_ms),
        Format::Unknown => file_time(MediaKind::Other, "unknown", file_mtime_ms, None),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Seconds from 1904-01-01T00:00:00Z (the QuickTime / ISO BMFF epoch) to the Unix epoch.
const MAC_EPOCH_TO_UNIX_S: i64 = 2_082_844_800;
/// Upper bound on boxes/chunks/segments visited at one level, so a file made of millions of
/// tiny boxes cannot keep `probe` seeking for long.
const MAX_ITEMS: usize = 100_000;
/// Upper bound on children collected inside one ISO BMFF container box.
const MAX_CHILDREN: usize = 4_096;

enum Format {
    Bmff(&'static str),
    Jpeg,
    Wav { rf64: bool },
    Unknown,
}

fn file_time(
    kind: MediaKind,
    container: &str,
    mtime_ms: i64,
    duration_ms: Option<u64>,
) -> MediaInfo {
    MediaInfo {
        kind,
        container: container.to_owned(),
        capture_start_ms: mtime_ms,
        duration_ms,
        source: TimeSource::FileTime,
    }
}

/// Reads up to `buf.len()` bytes from offset 0 (never past `file_len`); returns how many.
fn read_prefix<R: Read + Seek>(r: &mut R, buf: &mut [u8], file_len: u64) -> usize {
    if r.seek(SeekFrom::Start(0)).is_err() {
        return 0;
    }
    let want = usize::try_from(file_len).map_or(buf.len(), |l| l.min(buf.len()));
    let mut got = 0;
    while got < want {
        let Some(rest) = buf.get_mut(got..want) else {
            break;
        };
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => got = got.saturating_add(k),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    got.min(want)
}

/// Reads exactly `buf.len()` bytes at `off`, which must lie within `file_len`.
fn read_at<R: Read + Seek>(r: &mut R, off: u64, buf: &mut [u8], file_len: u64) -> Option<()> {
    let end = off.checked_add(u64::try_from(buf.len()).ok()?)?;
    if end > file_len {
        return None;
    }
    r.seek(SeekFrom::Start(off)).ok()?;
    r.read_exact(buf).ok()
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn detect(head: &[u8]) -> Format {
    if head.starts_with(&[0xFF, 0xD8]) {
        return Format::Jpeg;
    }
    if head.len() >= 12 && head.get(8..12) == Some(b"WAVE".as_slice()) {
        match head.get(0..4) {
            Some(b"RIFF") => return Format::Wav { rf64: false },
            Some(b"RF64") => return Format::Wav { rf64: true },
            _ => {}
        }
    }
    match head.get(4..8) {
        Some(b"ftyp") => {
            if head.get(8..12) == Some(b"qt  ".as_slice()) {
                Format::Bmff("mov")
            } else {
                Format::Bmff("mp4")
            }
        }
        Some(b"moov" | b"mdat" | b"free" | b"wide") => Format::Bmff("mov"),
        _ => Format::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// MP4 / MOV (ISO BMFF, QuickTime)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct BoxHeader {
    kind: [u8; 4],
    body: u64,
    end: u64,
}

/// Reads the box header at `off`; the box may not extend past `limit` unless it is the last
/// thing the caller needs (callers check `end` themselves). `size == 0` means "to `limit`".
fn read_box_header<R: Read + Seek>(
    r: &mut R,
    off: u64,
    limit: u64,
    file_len: u64,
) -> Option<BoxHeader> {
    if off.checked_add(8)? > limit {
        return None;
    }
    let mut h = [0u8; 8];
    read_at(r, off, &mut h, file_len)?;
    let size32 = be_u32(&h, 0)?;
    let kind: [u8; 4] = h.get(4..8)?.try_into().ok()?;
    let (size, header_len) = match size32 {
        0 => (limit.checked_sub(off)?, 8u64),
        1 => {
            if off.checked_add(16)? > limit {
                return None;
            }
            let mut large = [0u8; 8];
            read_at(r, off.checked_add(8)?, &mut large, file_len)?;
            (u64::from_be_bytes(large), 16u64)
        }
        s => (u64::from(s), 8u64),
    };
    if size < header_len {
        return None;
    }
    Some(BoxHeader {
        kind,
        body: off.checked_add(header_len)?,
        end: off.checked_add(size)?,
    })
}

/// The child boxes that fit entirely inside `[start, end)`; stops at the first malformed one.
fn children<R: Read + Seek>(r: &mut R, start: u64, end: u64, file_len: u64) -> Vec<BoxHeader> {
    let mut out = Vec::new();
    let mut off = start;
    while out.len() < MAX_CHILDREN {
        let Some(h) = read_box_header(r, off, end, file_len) else {
            break;
        };
        if h.end > end {
            break;
        }
        out.push(h);
        off = h.end;
    }
    out
}

/// What the `moov` box says about the movie.
struct Movie {
    /// seconds since 1904-01-01 UTC (0 = not set)
    creation: u64,
    duration_ms: Option<u64>,
    kind: MediaKind,
}

fn probe_bmff<R: Read + Seek>(
    r: &mut R,
    file_len: u64,
    container: &str,
    mtime_ms: i64,
) -> MediaInfo {
    let Some(movie) = find_movie(r, file_len) else {
        return file_time(MediaKind::Video, container, mtime_ms, None);
    };
    match mac_secs_to_unix_ms(movie.creation) {
        Some(ms) => MediaInfo {
            kind: movie.kind,
            container: container.to_owned(),
            capture_start_ms: ms,
            duration_ms: movie.duration_ms,
            source: TimeSource::Mvhd,
        },
        None => file_time(movie.kind, container, mtime_ms, movie.duration_ms),
    }
}

fn mac_secs_to_unix_ms(secs: u64) -> Option<i64> {
    if secs == 0 {
        return None;
    }
    i64::try_from(secs)
        .ok()?
        .checked_sub(MAC_EPOCH_TO_UNIX_S)?
        .checked_mul(1000)
}

fn ticks_to_ms(ticks: u64, timescale: u32) -> Option<u64> {
    if timescale == 0 {
        return None;
    }
    let ms = u128::from(ticks).checked_mul(1000)? / u128::from(timescale);
    u64::try_from(ms).ok()
}

/// Walks the top-level boxes by seeking (never reading `mdat`) until `moov`.
fn find_movie<R: Read + Seek>(r: &mut R, file_len: u64) -> Option<Movie> {
    let mut off = 0u64;
    for _ in 0..MAX_ITEMS {
        let h = read_box_header(r, off, file_len, file_len)?;
        if &h.kind == b"moov" {
            // A truncated moov is still read as far as it goes.
            return parse_moov(r, h.body, h.end.min(file_len), file_len);
        }
        if h.end >= file_len {
            return None;
        }
        off = h.end;
    }
    None
}

fn parse_moov<R: Read + Seek>(r: &mut R, start: u64, end: u64, file_len: u64) -> Option<Movie> {
    let mut mvhd = None;
    let mut fragment_ticks: Option<u64> = None;
    let mut fragmented = false;
    let (mut has_video, mut has_audio) = (false, false);
    for child in children(r, start, end, file_len) {
        match &child.kind {
            b"mvhd" if mvhd.is_none() => mvhd = read_mvhd(r, child, file_len),
            b"trak" => match trak_handler(r, child, file_len) {
                Some(h) if &h == b"vide" => has_video = true,
                Some(h) if &h == b"soun" => has_audio = true,
                _ => {}
            },
            b"mvex" => {
                fragmented = true;
                fragment_ticks = read_mehd(r, child, file_len);
            }
            _ => {}
        }
    }
    let (creation, timescale, duration) = mvhd?;
    // A duration of all ones means "unknown"; 0 in a fragmented file means "see the fragments".
    let declared = match duration {
        Some(0) if fragmented => None,
        d => d,
    };
    let ticks = declared.or(fragment_ticks.filter(|&t| t != 0));
    let duration_ms = match ticks {
        Some(t) => ticks_to_ms(t, timescale),
        None => None,
    };
    let kind = if has_video || !has_audio {
        MediaKind::Video
    } else {
        MediaKind::Audio
    };
    Some(Movie {
        creation,
        duration_ms,
        kind,
    })
}

/// (creation_time, timescale, duration) from a `mvhd` full box, version 0 or 1.
/// `duration` is `None` when it is all ones ("unknown").
fn read_mvhd<R: Read + Seek>(
    r: &mut R,
    b: BoxHeader,
    file_len: u64,
) -> Option<(u64, u32, Option<u64>)> {
    let mut version = [0u8; 1];
    read_at(r, b.body, &mut version, file_len)?;
    let mut buf = [0u8; 32];
    let need: usize = if version[0] == 1 { 32 } else { 20 };
    if b.body.checked_add(u64::try_from(need).ok()?)? > b.end {
        return None;
    }
    let buf = buf.get_mut(..need)?;
    read_at(r, b.body, buf, file_len)?;
    match version[0] {
        1 => {
            let creation = be_u64(buf, 4)?;
            let timescale = be_u32(buf, 20)?;
            let duration = be_u64(buf, 24)?;
            Some((
                creation,
                timescale,
                (duration != u64::MAX).then_some(duration),
            ))
        }
        0 => {
            let creation = u64::from(be_u32(buf, 4)?);
            let timescale = be_u32(buf, 12)?;
            let duration = be_u32(buf, 16)?;
            Some((
                creation,
                timescale,
                (duration != u32::MAX).then_some(u64::from(duration)),
            ))
        }
        _ => None,
    }
}

/// `mvex/mehd` fragment_duration, in movie timescale ticks.
fn read_mehd<R: Read + Seek>(r: &mut R, mvex: BoxHeader, file_len: u64) -> Option<u64> {
    let mehd = children(r, mvex.body, mvex.end, file_len)
        .into_iter()
        .find(|c| &c.kind == b"mehd")?;
    let mut buf = [0u8; 12];
    let avail = usize::try_from(mehd.end.checked_sub(mehd.body)?.min(12)).ok()?;
    let buf = buf.get_mut(..avail)?;
    read_at(r, mehd.body, buf, file_len)?;
    match buf.first()? {
        1 => be_u64(buf, 4),
        0 => be_u32(buf, 4).map(u64::from),
        _ => None,
    }
}

/// The `handler_type` of `trak/mdia/hdlr` (QuickTime: the component subtype, same place).
fn trak_handler<R: Read + Seek>(r: &mut R, trak: BoxHeader, file_len: u64) -> Option<[u8; 4]> {
    let mdia = children(r, trak.body, trak.end, file_len)
        .into_iter()
        .find(|c| &c.kind == b"mdia")?;
    let hdlr = children(r, mdia.body, mdia.end, file_len)
        .into_iter()
        .find(|c| &c.kind == b"hdlr")?;
    if hdlr.body.checked_add(12)? > hdlr.end {
        return None;
    }
    let mut buf = [0u8; 12];
    read_at(r, hdlr.body, &mut buf, file_len)?;
    buf.get(8..12)?.try_into().ok()
}

// ---------------------------------------------------------------------------------------------
// JPEG / EXIF
// ---------------------------------------------------------------------------------------------

const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;
const TAG_OFFSET_TIME_ORIGINAL: u16 = 0x9011;
const TAG_SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;

/// Walks the JPEG markers up to the first start-of-scan, and reads the capture time from the
/// first APP1 `Exif` segment.
fn jpeg_capture_ms<R: Read + Seek>(
    r: &mut R,
    file_len: u64,
    local_utc_offset_minutes: i32,
) -> Option<i64> {
    let mut off = 2u64;
    for _ in 0..MAX_ITEMS {
        let mut b = [0u8; 1];
        read_at(r, off, &mut b, file_len)?;
        if b[0] != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede a marker code.
        let mut marker = 0xFFu8;
        for _ in 0..MAX_ITEMS {
            off = off.checked_add(1)?;
            read_at(r, off, &mut b, file_len)?;
            marker = b[0];
            if marker != 0xFF {
                break;
            }
        }
        match marker {
            // Stand-alone markers: no length field.
            0x01 | 0xD0..=0xD8 => {
                off = off.checked_add(1)?;
                continue;
            }
            // End of image / start of scan (no EXIF past these), or endless fill bytes.
            0xD9 | 0xDA | 0xFF => return None,
            _ => {}
        }
        let mut len = [0u8; 2];
        read_at(r, off.checked_add(1)?, &mut len, file_len)?;
        let seg_len = u64::from(u16::from_be_bytes(len)).checked_sub(2)?;
        let seg_start = off.checked_add(3)?;
        let seg_end = seg_start.checked_add(seg_len)?;
        if seg_end > file_len {
            return None;
        }
        if marker == 0xE1 && seg_len >= 6 {
            let mut magic = [0u8; 6];
            read_at(r, seg_start, &mut magic, file_len)?;
            if &magic == b"Exif\0\0" {
                let mut seg = vec![0u8; usize::try_from(seg_len).ok()?];
                read_at(r, seg_start, &mut seg, file_len)?;
                return exif_capture_ms(seg.get(6..)?, local_utc_offset_minutes);
            }
        }
        off = seg_end;
    }
    None
}

/// A TIFF structure (the body of an EXIF segment) in either byte order.
struct Tiff<'a> {
    d: &'a [u8],
    little_endian: bool,
}

/// One 12-byte IFD entry.
struct IfdEntry {
    typ: u16,
    count: u32,
    /// offset (in the TIFF) of the 4-byte value/offset field
    value_at: usize,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        if self.little_endian {
            le_u16(self.d, at)
        } else {
            be_u16(self.d, at)
        }
    }

    fn u32(&self, at: usize) -> Option<u32> {
        if self.little_endian {
            le_u32(self.d, at)
        } else {
            be_u32(self.d, at)
        }
    }

    fn entry(&self, ifd: usize, tag: u16) -> Option<IfdEntry> {
        let count = usize::from(self.u16(ifd)?);
        // The whole entry table must be present: a count running past the end is corrupt.
        let table_end = ifd.checked_add(2)?.checked_add(count.checked_mul(12)?)?;
        self.d.get(ifd..table_end)?;
        for i in 0..count {
            let at = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
            if self.u16(at)? == tag {
                return Some(IfdEntry {
                    typ: self.u16(at.checked_add(2)?)?,
                    count: self.u32(at.checked_add(4)?)?,
                    value_at: at.checked_add(8)?,
                });
            }
        }
        None
    }

    /// An ASCII (or UNDEFINED) value, without trailing NULs and spaces.
    fn ascii(&self, ifd: usize, tag: u16) -> Option<&[u8]> {
        let e = self.entry(ifd, tag)?;
        if e.typ != 2 && e.typ != 7 {
            return None;
        }
        let len = usize::try_from(e.count).ok()?;
        let at = if len <= 4 {
            e.value_at
        } else {
            usize::try_from(self.u32(e.value_at)?).ok()?
        };
        let raw = self.d.get(at..at.checked_add(len)?)?;
        let trimmed_len = raw
            .iter()
            .rposition(|&c| c != 0 && c != b' ')
            .map_or(0, |p| p.saturating_add(1));
        // Stop at an embedded NUL too (the TIFF string ends there).
        let s = raw.get(..trimmed_len)?;
        let s = match s.iter().position(|&c| c == 0) {
            Some(p) => s.get(..p)?,
            None => s,
        };
        Some(s)
    }
}

fn exif_capture_ms(tiff: &[u8], local_utc_offset_minutes: i32) -> Option<i64> {
    let little_endian = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let t = Tiff {
        d: tiff,
        little_endian,
    };
    if t.u16(2)? != 42 {
        return None;
    }
    let ifd0 = usize::try_from(t.u32(4)?).ok()?;
    let ptr = t.entry(ifd0, TAG_EXIF_IFD)?;
    if (ptr.typ != 4 && ptr.typ != 13) || ptr.count == 0 {
        return None;
    }
    let exif_ifd = usize::try_from(t.u32(ptr.value_at)?).ok()?;
    let when = parse_exif_datetime(t.ascii(exif_ifd, TAG_DATE_TIME_ORIGINAL)?)?;
    let offset = t
        .ascii(exif_ifd, TAG_OFFSET_TIME_ORIGINAL)
        .and_then(parse_exif_offset)
        .or_else(|| {
            UtcOffset::from_whole_seconds(local_utc_offset_minutes.checked_mul(60)?).ok()
        })?;
    let sub_ms = t
        .ascii(exif_ifd, TAG_SUB_SEC_TIME_ORIGINAL)
        .and_then(parse_sub_sec_ms)
        .unwrap_or(0);
    when.assume_offset(offset)
        .unix_timestamp()
        .checked_mul(1000)?
        .checked_add(sub_ms)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u32::from(c - b'0'))
        } else {
            None
        }
    })
}

/// "YYYY:MM:DD HH:MM:SS" (the separators are not checked beyond being non-digits).
fn parse_exif_datetime(s: &[u8]) -> Option<PrimitiveDateTime> {
    if s.len() != 19 {
        return None;
    }
    for i in [4usize, 7, 10, 13, 16] {
        if s.get(i)?.is_ascii_digit() {
            return None;
        }
    }
    let num = |a: usize, b: usize| digits(s.get(a..b)?);
    let year = i32::try_from(num(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(num(8, 10)?).ok()?;
    let hour = u8::try_from(num(11, 13)?).ok()?;
    let minute = u8::try_from(num(14, 16)?).ok()?;
    let second = u8::try_from(num(17, 19)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// "+HH:MM" / "-HH:MM".
fn parse_exif_offset(s: &[u8]) -> Option<UtcOffset> {
    if s.len() != 6 || s.get(3) != Some(&b':') {
        return None;
    }
    let sign: i32 = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = i32::try_from(digits(s.get(1..3)?)?).ok()?;
    let minutes = i32::try_from(digits(s.get(4..6)?)?).ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = sign.checked_mul(
        hours
            .checked_mul(3600)?
            .checked_add(minutes.checked_mul(60)?)?,
    )?;
    UtcOffset::from_whole_seconds(secs).ok()
}

/// SubSecTimeOriginal: decimal fraction digits of the second ("5" = 500 ms, "123456" = 123 ms).
fn parse_sub_sec_ms(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut ms = 0i64;
    for i in 0..3 {
        let d = s.get(i).map_or(0, |&c| i64::from(c - b'0'));
        ms = ms.checked_mul(10)?.checked_add(d)?;
    }
    Some(ms)
}

// ---------------------------------------------------------------------------------------------
// WAV (RIFF / RF64)
// ---------------------------------------------------------------------------------------------

fn probe_wav<R: Read + Seek>(r: &mut R, file_len: u64, rf64: bool, mtime_ms: i64) -> MediaInfo {
    let duration = wav_duration_ms(r, file_len, rf64);
    let start = duration
        .and_then(|d| i64::try_from(d).ok())
        .and_then(|d| mtime_ms.checked_sub(d));
    match (duration, start) {
        (Some(d), Some(s)) => MediaInfo {
            kind: MediaKind::Audio,
            container: "wav".to_owned(),
            capture_start_ms: s,
            duration_ms: Some(d),
            source: TimeSource::WavLengthAndFileTime,
        },
        _ => file_time(MediaKind::Audio, "wav", mtime_ms, None),
    }
}

/// `data` size * 1000 / byte rate. A `data` chunk that claims more bytes than the file holds
/// (a recording cut short before its header was finalised) counts only the bytes present.
fn wav_duration_ms<R: Read + Seek>(r: &mut R, file_len: u64, rf64: bool) -> Option<u64> {
    let mut off = 12u64;
    let mut byte_rate: Option<u64> = None;
    let mut data_size: Option<u64> = None;
    let mut ds64_data_size: Option<u64> = None;
    for _ in 0..MAX_ITEMS {
        if byte_rate.is_some() && data_size.is_some() {
            break;
        }
        let mut h = [0u8; 8];
        if read_at(r, off, &mut h, file_len).is_none() {
            break;
        }
        let size = u64::from(le_u32(&h, 4)?);
        let body = off.checked_add(8)?;
        match h.get(0..4)? {
            b"fmt " if size >= 16 => {
                let mut fmt = [0u8; 16];
                read_at(r, body, &mut fmt, file_len)?;
                let sample_rate = u64::from(le_u32(&fmt, 4)?);
                let declared = u64::from(le_u32(&fmt, 8)?);
                let block_align = u64::from(le_u16(&fmt, 12)?);
                byte_rate = Some(if declared != 0 {
                    declared
                } else {
                    sample_rate.checked_mul(block_align)?
                });
            }
            b"ds64" if rf64 && size >= 24 => {
                let mut ds = [0u8; 24];
                read_at(r, body, &mut ds, file_len)?;
                ds64_data_size = le_u64(&ds, 8);
            }
            b"data" => {
                let declared = if rf64 && size == u64::from(u32::MAX) {
                    ds64_data_size?
                } else {
                    size
                };
                let available = file_len.saturating_sub(body);
                data_size = Some(declared.min(available));
            }
            _ => {}
        }
        // Chunks are word-aligned: an odd size is followed by one pad byte.
        off = body.checked_add(size)?.checked_add(size & 1)?;
    }
    let rate = byte_rate.filter(|&b| b != 0)?;
    let ms = u128::from(data_size?).checked_mul(1000)? / u128::from(rate);
    u64::try_from(ms).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use time::macros::datetime;

    const MTIME: i64 = 1_800_000_000_123;

    fn probe_bytes(b: &[u8], offset_min: i32) -> MediaInfo {
        probe(&mut Cursor::new(b), b.len() as u64, MTIME, offset_min)
    }

    fn unix_ms(dt: time::OffsetDateTime) -> i64 {
        i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap()
    }

    fn assert_file_time(info: &MediaInfo) {
        assert_eq!(info.source, TimeSource::FileTime, "{info:?}");
        assert_eq!(info.capture_start_ms, MTIME, "{info:?}");
    }

    // ---- ISO BMFF builders ----

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&u32::try_from(body.len() + 8).unwrap().to_be_bytes());
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut b = brand.to_vec();
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(brand);
        b.extend_from_slice(b"mp41");
        bx(b"ftyp", &b)
    }

    fn mvhd_v0(creation: u32, timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8, 0, 0, 0];
        b.extend_from_slice(&creation.to_be_bytes());
        b.extend_from_slice(&creation.to_be_bytes());
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]); // rate, volume, matrix, next_track_id...
        bx(b"mvhd", &b)
    }

    fn mvhd_v1(creation: u64, timescale: u32, duration: u64) -> Vec<u8> {
        let mut b = vec![1u8, 0, 0, 0];
        b.extend_from_slice(&creation.to_be_bytes());
        b.extend_from_slice(&creation.to_be_bytes());
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]);
        bx(b"mvhd", &b)
    }

    fn trak(handler: &[u8; 4]) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 12]);
        hdlr.extend_from_slice(b"Handler\0");
        let mut mdia = bx(b"mdhd", &[0u8; 24]);
        mdia.extend(bx(b"hdlr", &hdlr));
        mdia.extend(bx(b"minf", &bx(b"vmhd", &[0u8; 12])));
        let mut t = bx(b"tkhd", &[0u8; 84]);
        t.extend(bx(b"mdia", &mdia));
        bx(b"trak", &t)
    }

    fn moov(parts: &[Vec<u8>]) -> Vec<u8> {
        bx(b"moov", &parts.concat())
    }

    fn mac(dt: time::OffsetDateTime) -> u64 {
        u64::try_from(dt.unix_timestamp() + MAC_EPOCH_TO_UNIX_S).unwrap()
    }

    #[test]
    fn mp4_mvhd_version0() {
        let ct = mac(datetime!(2026-11-20 09:15:00 UTC));
        let file = [
            ftyp(b"isom"),
            moov(&[
                mvhd_v0(u32::try_from(ct).unwrap(), 1000, 3000),
                trak(b"vide"),
            ]),
            bx(b"mdat", &[0u8; 64]),
        ]
        .concat();
        let info = probe_bytes(&file, 0);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Video,
                container: "mp4".into(),
                capture_start_ms: 1_795_166_100_000,
                duration_ms: Some(3000),
                source: TimeSource::Mvhd,
            }
        );
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 09:15:00 UTC))
        );
    }

    #[test]
    fn mp4_mvhd_version1_64bit() {
        // A creation time past 2040 (does not fit v0's u32) and a 90 kHz timescale.
        let when = datetime!(2045-03-01 12:00:00 UTC);
        let ct = mac(when);
        assert!(ct > u64::from(u32::MAX));
        let file = [
            ftyp(b"mp42"),
            moov(&[
                mvhd_v1(ct, 90_000, 90_000 * 7 + 45_000),
                trak(b"soun"),
                trak(b"vide"),
            ]),
        ]
        .concat();
        let info = probe_bytes(&file, 0);
        assert_eq!(info.source, TimeSource::Mvhd);
        assert_eq!(info.container, "mp4");
        assert_eq!(info.kind, MediaKind::Video);
        assert_eq!(info.capture_start_ms, unix_ms(when));
        assert_eq!(info.duration_ms, Some(7500));
    }

    /// A reader over a huge sparse file: `head` at 0, `tail` at the end, zeros between.
    /// Counts the bytes actually read.
    struct Sparse {
        head: Vec<u8>,
        tail: Vec<u8>,
        len: u64,
        pos: u64,
        bytes_read: u64,
    }

    impl Read for Sparse {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let tail_start = self.len - self.tail.len() as u64;
            let mut n = 0;
            while n < buf.len() && self.pos < self.len {
                let p = self.pos;
                buf[n] = if p < self.head.len() as u64 {
                    self.head[p as usize]
                } else if p >= tail_start {
                    self.tail[(p - tail_start) as usize]
                } else {
                    0
                };
                n += 1;
                self.pos += 1;
            }
            self.bytes_read += n as u64;
            Ok(n)
        }
    }

    impl Seek for Sparse {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.pos = match to {
                SeekFrom::Start(p) => p,
                SeekFrom::End(d) => self.len.checked_add_signed(d).unwrap(),
                SeekFrom::Current(d) => self.pos.checked_add_signed(d).unwrap(),
            };
            Ok(self.pos)
        }
    }

    #[test]
    fn moov_at_end_after_huge_mdat_with_largesize() {
        let mdat_len: u64 = 6 * 1024 * 1024 * 1024 + 5; // 6 GiB: needs the 64-bit largesize
        let mut head = ftyp(b"isom");
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&mdat_len.to_be_bytes());
        let when = datetime!(2026-11-20 09:15:00 UTC);
        let tail = moov(&[
            mvhd_v0(u32::try_from(mac(when)).unwrap(), 600, 600 * 3600),
            trak(b"soun"),
        ]);
        let len = 24 + mdat_len + tail.len() as u64;
        let mut f = Sparse {
            head,
            tail,
            len,
            pos: 0,
            bytes_read: 0,
        };
        let info = probe(&mut f, len, MTIME, 0);
        assert_eq!(info.source, TimeSource::Mvhd);
        assert_eq!(info.kind, MediaKind::Audio, "only a sound track");
        assert_eq!(info.capture_start_ms, unix_ms(when));
        assert_eq!(info.duration_ms, Some(3_600_000));
        assert!(f.bytes_read < 4096, "read {} bytes", f.bytes_read);
    }

    #[test]
    fn mov_brand_and_bare_quicktime_starts() {
        let when = datetime!(2026-11-20 09:20:00 UTC);
        let ct = u32::try_from(mac(when)).unwrap();
        let body = moov(&[mvhd_v0(ct, 1000, 2000), trak(b"vide")]);
        let qt = [
            ftyp(b"qt  "),
            bx(b"wide", &[]),
            bx(b"mdat", &[1u8; 100]),
            body.clone(),
        ]
        .concat();
        let info = probe_bytes(&qt, 0);
        assert_eq!(info.container, "mov");
        assert_eq!(info.source, TimeSource::Mvhd);
        assert_eq!(info.capture_start_ms, unix_ms(when));
        assert_eq!(info.duration_ms, Some(2000));
        for first in [b"wide", b"free", b"mdat"] {
            let f = [bx(first, &[0u8; 8]), body.clone()].concat();
            let info = probe_bytes(&f, 0);
            assert_eq!(
                (info.container.as_str(), info.source),
                ("mov", TimeSource::Mvhd)
            );
        }
        let info = probe_bytes(&body, 0);
        assert_eq!(
            (info.container.as_str(), info.source),
            ("mov", TimeSource::Mvhd)
        );
    }

    #[test]
    fn size_zero_box_runs_to_end_of_file() {
        let when = datetime!(2026-01-02 03:04:05 UTC);
        let ct = u32::try_from(mac(when)).unwrap();
        // moov with size 0 as the last box
        let mut last = moov(&[mvhd_v0(ct, 1000, 1234), trak(b"vide")]);
        last[0..4].copy_from_slice(&0u32.to_be_bytes());
        let f = [ftyp(b"isom"), bx(b"mdat", &[7u8; 10]), last].concat();
        let info = probe_bytes(&f, 0);
        assert_eq!(info.source, TimeSource::Mvhd);
        assert_eq!(info.duration_ms, Some(1234));
        // mdat with size 0 (to the end) and moov before it
        let mut mdat = bx(b"mdat", &[7u8; 10]);
        mdat[0..4].copy_from_slice(&0u32.to_be_bytes());
        let f = [ftyp(b"isom"), moov(&[mvhd_v0(ct, 1000, 1234)]), mdat].concat();
        assert_eq!(probe_bytes(&f, 0).capture_start_ms, unix_ms(when));
        // mdat with size 0 and no moov at all
        let mut mdat = bx(b"mdat", &[7u8; 10]);
        mdat[0..4].copy_from_slice(&0u32.to_be_bytes());
        let info = probe_bytes(&[ftyp(b"isom"), mdat].concat(), 0);
        assert_file_time(&info);
        assert_eq!(
            (info.kind, info.container.as_str()),
            (MediaKind::Video, "mp4")
        );
    }

    #[test]
    fn zero_creation_time_keeps_duration() {
        let f = [
            ftyp(b"isom"),
            moov(&[mvhd_v0(0, 1000, 4321), trak(b"vide")]),
        ]
        .concat();
        let info = probe_bytes(&f, 0);
        assert_file_time(&info);
        assert_eq!(info.duration_ms, Some(4321));
        assert_eq!(info.kind, MediaKind::Video);
    }

    #[test]
    fn zero_timescale_and_unknown_duration() {
        let ct = u32::try_from(mac(datetime!(2026-11-20 09:15:00 UTC))).unwrap();
        let f = [ftyp(b"isom"), moov(&[mvhd_v0(ct, 0, 3000)])].concat();
        let info = probe_bytes(&f, 0);
        assert_eq!((info.source, info.duration_ms), (TimeSource::Mvhd, None));
        let f = [ftyp(b"isom"), moov(&[mvhd_v0(ct, 1000, u32::MAX)])].concat();
        assert_eq!(probe_bytes(&f, 0).duration_ms, None);
    }

    #[test]
    fn fragmented_mp4_uses_mehd() {
        let ct = u32::try_from(mac(datetime!(2026-11-20 09:15:00 UTC))).unwrap();
        let mut mehd = vec![0u8; 4];
        mehd.extend_from_slice(&90_000u32.to_be_bytes());
        let mvex = bx(
            b"mvex",
            &[bx(b"mehd", &mehd), bx(b"trex", &[0u8; 24])].concat(),
        );
        let f = [
            ftyp(b"iso6"),
            moov(&[mvhd_v0(ct, 1000, 0), trak(b"vide"), mvex]),
        ]
        .concat();
        assert_eq!(probe_bytes(&f, 0).duration_ms, Some(90_000));
        // fragmented without mehd: the length is in the fragments, not declared
        let mvex = bx(b"mvex", &bx(b"trex", &[0u8; 24]));
        let f = [ftyp(b"iso6"), moov(&[mvhd_v0(ct, 1000, 0), mvex])].concat();
        let info = probe_bytes(&f, 0);
        assert_eq!((info.source, info.duration_ms), (TimeSource::Mvhd, None));
    }

    #[test]
    fn kind_from_handlers() {
        let ct = u32::try_from(mac(datetime!(2026-11-20 09:15:00 UTC))).unwrap();
        let kind = |traks: &[&[u8; 4]]| {
            let mut parts = vec![mvhd_v0(ct, 1000, 1000)];
            parts.extend(traks.iter().map(|h| trak(h)));
            probe_bytes(&[ftyp(b"isom"), moov(&parts)].concat(), 0).kind
        };
        assert_eq!(kind(&[]), MediaKind::Video);
        assert_eq!(kind(&[b"soun"]), MediaKind::Audio);
        assert_eq!(kind(&[b"soun", b"vide"]), MediaKind::Video);
        assert_eq!(kind(&[b"meta", b"soun"]), MediaKind::Audio);
        assert_eq!(kind(&[b"text"]), MediaKind::Video);
    }

    #[test]
    fn malformed_bmff_falls_back() {
        let ct = u32::try_from(mac(datetime!(2026-11-20 09:15:00 UTC))).unwrap();
        // mvhd declared smaller than its fields
        let mut short = bx(b"mvhd", &[0u8; 10]);
        short[0..4].copy_from_slice(&18u32.to_be_bytes());
        for f in [
            [ftyp(b"isom"), bx(b"moov", &short)].concat(),
            // box size smaller than its header
            [ftyp(b"isom"), vec![0, 0, 0, 4], b"moov".to_vec()].concat(),
            // largesize smaller than 16
            [
                ftyp(b"isom"),
                vec![0, 0, 0, 1],
                b"mdat".to_vec(),
                8u64.to_be_bytes().to_vec(),
            ]
            .concat(),
            // mdat claiming more than the file, moov never reached
            [
                ftyp(b"isom"),
                vec![0, 0, 0x10, 0],
                b"mdat".to_vec(),
                moov(&[mvhd_v0(ct, 1000, 1)]),
            ]
            .concat(),
            // unknown mvhd version
            [
                ftyp(b"isom"),
                moov(&[{
                    let mut m = mvhd_v0(ct, 1000, 1);
                    m[8] = 7;
                    m
                }]),
            ]
            .concat(),
            ftyp(b"isom")[..10].to_vec(),
        ] {
            let info = probe_bytes(&f, 0);
            assert_file_time(&info);
            assert_eq!(info.kind, MediaKind::Video);
        }
    }

    // ---- JPEG / EXIF builders ----

    struct Ifd {
        entries: Vec<(u16, u16, u32, Vec<u8>)>, // tag, type, count, data
    }

    /// A TIFF with IFD0 (optional DateTime) pointing at an Exif IFD with the given entries.
    fn tiff(le: bool, ifd0_extra: &[(u16, &str)], exif: &[(u16, &str)]) -> Vec<u8> {
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let ascii = |s: &str| {
            let mut d = s.as_bytes().to_vec();
            d.push(0);
            (2u16, u32::try_from(d.len()).unwrap(), d)
        };
        let mut ifd0 = Ifd {
            entries: Vec::new(),
        };
        for (tag, s) in ifd0_extra {
            let (t, c, d) = ascii(s);
            ifd0.entries.push((*tag, t, c, d));
        }
        ifd0.entries.push((TAG_EXIF_IFD, 4, 1, Vec::new())); // patched below
        let mut exif_ifd = Ifd {
            entries: Vec::new(),
        };
        for (tag, s) in exif {
            let (t, c, d) = ascii(s);
            exif_ifd.entries.push((*tag, t, c, d));
        }
        // layout: header(8) | ifd0 | ifd0 data | exif ifd | exif data
        let ifd_len = |i: &Ifd| 2 + 12 * i.entries.len() + 4;
        let data_len = |i: &Ifd| {
            i.entries
                .iter()
                .map(|e| if e.3.len() > 4 { e.3.len() } else { 0 })
                .sum::<usize>()
        };
        let ifd0_at = 8usize;
        let exif_at = ifd0_at + ifd_len(&ifd0) + data_len(&ifd0);
        let mut out = Vec::new();
        out.extend_from_slice(if le { b"II" } else { b"MM" });
        out.extend_from_slice(&u16b(42));
        out.extend_from_slice(&u32b(u32::try_from(ifd0_at).unwrap()));
        let write_ifd = |out: &mut Vec<u8>, ifd: &Ifd, at: usize| {
            let mut data_at = at + ifd_len(ifd);
            let mut data = Vec::new();
            out.extend_from_slice(&u16b(u16::try_from(ifd.entries.len()).unwrap()));
            for (tag, typ, count, d) in &ifd.entries {
                out.extend_from_slice(&u16b(*tag));
                out.extend_from_slice(&u16b(*typ));
                out.extend_from_slice(&u32b(*count));
                if *tag == TAG_EXIF_IFD {
                    out.extend_from_slice(&u32b(u32::try_from(exif_at).unwrap()));
                } else if d.len() <= 4 {
                    let mut v = d.clone();
                    v.resize(4, 0);
                    out.extend_from_slice(&v);
                } else {
                    out.extend_from_slice(&u32b(u32::try_from(data_at).unwrap()));
                    data.extend_from_slice(d);
                    data_at += d.len();
                }
            }
            out.extend_from_slice(&u32b(0)); // no next IFD
            out.extend_from_slice(&data);
        };
        write_ifd(&mut out, &ifd0, ifd0_at);
        assert_eq!(out.len(), exif_at);
        write_ifd(&mut out, &exif_ifd, exif_at);
        out
    }

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn jpeg(tiff: &[u8]) -> Vec<u8> {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend_from_slice(tiff);
        [
            vec![0xFF, 0xD8],
            segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x/>"),
            vec![0xFF, 0xFF], // fill bytes before the next marker
            segment(0xE1, &exif),
            segment(0xDB, &[0u8; 65]),
            segment(0xDA, &[0u8; 10]),
            vec![0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9],
        ]
        .concat()
    }

    #[test]
    fn jpeg_little_endian_without_offset_uses_local_zone() {
        let t = tiff(
            true,
            &[],
            &[(TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30")],
        );
        let info = probe_bytes(&jpeg(&t), 120);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Photo,
                container: "jpeg".into(),
                capture_start_ms: unix_ms(datetime!(2026-11-20 07:16:30 UTC)),
                duration_ms: None,
                source: TimeSource::ExifDateTimeOriginal,
            }
        );
        let info = probe_bytes(&jpeg(&t), -330);
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 14:46:30 UTC))
        );
    }

    #[test]
    fn jpeg_big_endian_offset_tag_wins() {
        let t = tiff(
            false,
            &[(0x0132, "2020:01:01 00:00:00")],
            &[
                (TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30"),
                (TAG_OFFSET_TIME_ORIGINAL, "+08:00"),
            ],
        );
        let info = probe_bytes(&jpeg(&t), -300);
        assert_eq!(info.source, TimeSource::ExifDateTimeOriginal);
        assert_eq!(info.capture_start_ms, 1_795_137_390_000);
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 09:16:30 +08:00))
        );
        // little-endian, negative offset
        let t = tiff(
            true,
            &[],
            &[
                (TAG_OFFSET_TIME_ORIGINAL, "-03:30"),
                (TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30"),
            ],
        );
        let info = probe_bytes(&jpeg(&t), 60);
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 09:16:30 -03:30))
        );
        // a malformed offset tag is ignored in favour of the device's zone
        let t = tiff(
            true,
            &[],
            &[
                (TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30"),
                (TAG_OFFSET_TIME_ORIGINAL, "8h"),
            ],
        );
        let info = probe_bytes(&jpeg(&t), 60);
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 09:16:30 +01:00))
        );
    }

    #[test]
    fn jpeg_sub_seconds() {
        let t = tiff(
            true,
            &[],
            &[
                (TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30"),
                (TAG_SUB_SEC_TIME_ORIGINAL, "25"),
            ],
        );
        let info = probe_bytes(&jpeg(&t), 0);
        assert_eq!(
            info.capture_start_ms,
            unix_ms(datetime!(2026-11-20 09:16:30.25 UTC))
        );
    }

    #[test]
    fn jpeg_without_date_time_original_uses_file_time() {
        // only IFD0 DateTime: that is the file's change time, not the capture time
        let t = tiff(
            true,
            &[(0x0132, "2026:11:20 09:16:30")],
            &[(0xA420, "0123456789abcdef")],
        );
        let info = probe_bytes(&jpeg(&t), 0);
        assert_file_time(&info);
        assert_eq!(
            (info.kind, info.container.as_str(), info.duration_ms),
            (MediaKind::Photo, "jpeg", None)
        );
        // no EXIF at all
        let plain = [
            vec![0xFF, 0xD8],
            segment(0xE0, b"JFIF\0"),
            segment(0xDA, &[0u8; 4]),
            vec![0xFF, 0xD9],
        ]
        .concat();
        assert_file_time(&probe_bytes(&plain, 0));
    }

    #[test]
    fn jpeg_malformed_exif_falls_back() {
        let good = tiff(
            false,
            &[],
            &[(TAG_DATE_TIME_ORIGINAL, "2026:11:20 09:16:30")],
        );
        assert_eq!(
            probe_bytes(&jpeg(&good), 0).source,
            TimeSource::ExifDateTimeOriginal
        );
        let mut cases: Vec<Vec<u8>> = Vec::new();
        // Exif IFD pointer far out of bounds
        let mut t = good.clone();
        let ptr_at = 8 + 2 + 8;
        t[ptr_at..ptr_at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
        cases.push(t);
        // IFD0 offset out of bounds
        let mut t = good.clone();
        t[4..8].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
        cases.push(t);
        // IFD0 entry count far too large
        let mut t = good.clone();
        t[8..10].copy_from_slice(&0xFFFFu16.to_be_bytes());
        cases.push(t);
        // bad byte order / magic
        let mut t = good.clone();
        t[0..2].copy_from_slice(b"XX");
        cases.push(t);
        let mut t = good.clone();
        t[2..4].copy_from_slice(&43u16.to_be_bytes());
        cases.push(t);
        // impossible or blank dates
        for bad in [
            "2026:02:30 09:16:30",
            "2026:11:20 24:00:00",
            "    :  :     :  :  ",
            "0000:00:00 00:00:00",
            "2026:11:20",
        ] {
            cases.push(tiff(false, &[], &[(TAG_DATE_TIME_ORIGINAL, bad)]));
        }
        for t in cases {
            let info = probe_bytes(&jpeg(&t), 0);
            assert_file_time(&info);
            assert_eq!(info.kind, MediaKind::Photo);
        }
        // segment length running past the end of the file
        let mut j = jpeg(&good);
        j.truncate(40);
        assert_file_time(&probe_bytes(&j, 0));
        // an out-of-range device zone cannot be applied
        let info = probe_bytes(&jpeg(&good), i32::MAX);
        assert_file_time(&info);
    }

    // ---- WAV builders ----

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        v.extend_from_slice(body);
        if body.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    fn fmt_pcm(rate: u32, channels: u16, bits: u16) -> Vec<u8> {
        let block = channels * bits / 8;
        let mut b = Vec::new();
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        b.extend_from_slice(&block.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        chunk(b"fmt ", &b)
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend(body);
        v
    }

    #[test]
    fn wav_with_odd_chunk_before_data() {
        let f = riff(&[
            fmt_pcm(8000, 1, 16),
            chunk(b"LIST", b"abc"),
            chunk(b"data", &[0u8; 12_000]),
        ]);
        let info = probe_bytes(&f, 0);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Audio,
                container: "wav".into(),
                capture_start_ms: MTIME - 750,
                duration_ms: Some(750),
                source: TimeSource::WavLengthAndFileTime,
            }
        );
        // the same without the pad byte would misread the data chunk: check it is honoured
        let mut unpadded = riff(&[fmt_pcm(8000, 1, 16)]);
        unpadded.extend_from_slice(b"LIST\x03\0\0\0abc");
        unpadded.extend(chunk(b"data", &[0u8; 12_000]));
        assert_ne!(probe_bytes(&unpadded, 0).duration_ms, Some(750));
    }

    #[test]
    fn wav_stereo_and_data_before_fmt() {
        let f = riff(&[chunk(b"data", &[0u8; 44_100 * 4]), fmt_pcm(44_100, 2, 16)]);
        let info = probe_bytes(&f, 0);
        assert_eq!(
            (info.source, info.duration_ms),
            (TimeSource::WavLengthAndFileTime, Some(1000))
        );
    }

    #[test]
    fn wav_truncated_data_counts_bytes_present() {
        let mut f = riff(&[fmt_pcm(8000, 1, 16), chunk(b"data", &[0u8; 16_000])]);
        f.truncate(f.len() - 8000);
        assert_eq!(probe_bytes(&f, 0).duration_ms, Some(500));
    }

    #[test]
    fn wav_without_usable_fmt_falls_back() {
        let mut zero_rate = fmt_pcm(8000, 1, 16);
        zero_rate[12..16].copy_from_slice(&0u32.to_le_bytes()); // sample rate
        zero_rate[16..20].copy_from_slice(&0u32.to_le_bytes()); // byte rate
        for f in [
            riff(&[chunk(b"data", &[0u8; 100])]),
            riff(&[fmt_pcm(8000, 1, 16)]),
            riff(&[zero_rate, chunk(b"data", &[0u8; 100])]),
            riff(&[chunk(b"fmt ", &[1, 0, 1])]),
            b"RIFF\0\0\0\0WAVE".to_vec(),
        ] {
            let info = probe_bytes(&f, 0);
            assert_file_time(&info);
            assert_eq!(
                (info.kind, info.container.as_str(), info.duration_ms),
                (MediaKind::Audio, "wav", None)
            );
        }
    }

    #[test]
    fn rf64_uses_ds64_size() {
        let mut ds64 = Vec::new();
        ds64.extend_from_slice(&0u64.to_le_bytes());
        ds64.extend_from_slice(&32_000u64.to_le_bytes());
        ds64.extend_from_slice(&0u64.to_le_bytes());
        let mut f = riff(&[chunk(b"ds64", &ds64), fmt_pcm(8000, 1, 16)]);
        f[0..4].copy_from_slice(b"RF64");
        f.extend_from_slice(b"data");
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&[0u8; 32_000]);
        assert_eq!(probe_bytes(&f, 0).duration_ms, Some(2000));
    }

    #[test]
    fn unknown_and_garbage_inputs() {
        let unknown = MediaInfo {
            kind: MediaKind::Other,
            container: "unknown".into(),
            capture_start_ms: MTIME,
            duration_ms: None,
            source: TimeSource::FileTime,
        };
        for f in [
            &b""[..],
            b"\0",
            b"%PDF-1.7\n",
            b"GIF89a\x01\0\x01\0",
            &[0u8; 64],
            b"RIFF\0\0\0\0AVI LIST",
        ] {
            assert_eq!(probe_bytes(f, 0), unknown, "{f:?}");
        }
        assert_file_time(&probe_bytes(&[0xFF, 0xD8], 0));
        assert_file_time(&probe_bytes(&[0xFF, 0xD8, 0x00, 0x01], 0));
        assert_file_time(&probe_bytes(b"\0\0\0\x08ftyp", 0));
        // a declared file length longer than the data must not be trusted
        let f = [ftyp(b"isom"), bx(b"free", &[])].concat();
        let info = probe(&mut Cursor::new(&f), 1 << 40, MTIME, 0);
        assert_file_time(&info);
        // nor shorter: probe reads nothing past file_len
        let info = probe(&mut Cursor::new(&f), 3, MTIME, 0);
        assert_eq!(info, unknown);
    }

    // ---- shipped sample files ----

    fn sample(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/{}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data"),
            name
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn shipped_samples() {
        let info = probe_bytes(&sample("sample.mp4"), 0);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Video,
                container: "mp4".into(),
                capture_start_ms: 1_795_166_100_000, // 2026-11-20T09:15:00Z
                duration_ms: Some(3000),
                source: TimeSource::Mvhd,
            }
        );
        let info = probe_bytes(&sample("sample.mov"), 0);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Video,
                container: "mov".into(),
                capture_start_ms: 1_795_166_400_000, // 2026-11-20T09:20:00Z
                duration_ms: Some(2000),
                source: TimeSource::Mvhd,
            }
        );
        // OffsetTimeOriginal +08:00 wins over the device zone passed in
        for zone in [0, -300, 480] {
            let info = probe_bytes(&sample("sample.jpg"), zone);
            assert_eq!(
                info,
                MediaInfo {
                    kind: MediaKind::Photo,
                    container: "jpeg".into(),
                    capture_start_ms: 1_795_137_390_000, // 2026-11-20T09:16:30+08:00 = 01:16:30Z
                    duration_ms: None,
                    source: TimeSource::ExifDateTimeOriginal,
                }
            );
        }
        let wav = sample("sample.wav");
        assert_eq!(wav.len(), 40_044);
        let info = probe_bytes(&wav, 0);
        assert_eq!(
            info,
            MediaInfo {
                kind: MediaKind::Audio,
                container: "wav".into(),
                capture_start_ms: MTIME - 2500,
                duration_ms: Some(2500),
                source: TimeSource::WavLengthAndFileTime,
            }
        );
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn no_panic_on_truncation_or_bit_flips() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for name in ["sample.mp4", "sample.mov", "sample.jpg", "sample.wav"] {
            let data = sample(name);
            for len in 0..=data.len() {
                let cut = &data[..len];
                let info = probe_bytes(cut, 60);
                // same answer whether the reader or file_len is the shorter
                let _ = probe(&mut Cursor::new(&data), len as u64, MTIME, 60);
                if info.source == TimeSource::FileTime {
                    assert_eq!(info.capture_start_ms, MTIME);
                }
            }
            for _ in 0..3000 {
                let mut d = data.clone();
                for _ in 0..=rng.below(8) {
                    // half the flips land in the first or last KiB, where the metadata lives
                    let at = match rng.below(4) {
                        0 => rng.below(d.len().min(1024)),
                        1 => d.len() - 1 - rng.below(d.len().min(1024)),
                        _ => rng.below(d.len()),
                    };
                    d[at] = rng.next() as u8;
                }
                let _ = probe_bytes(&d, 60);
                let zone = (rng.next() as i32) % 2000;
                let _ = probe(
                    &mut Cursor::new(&d),
                    rng.next() % (2 * d.len() as u64 + 1),
                    rng.next() as i64,
                    zone,
                );
            }
        }
        // pure noise, with headers of each format glued on
        for _ in 0..2000 {
            let n = rng.below(300);
            let mut d: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let prefix: &[u8] = match rng.below(4) {
                0 => &[0xFF, 0xD8, 0xFF, 0xE1],
                1 => b"RIFF\0\0\0\0WAVEfmt ",
                2 => b"\0\0\0\x10ftypisom\0\0\0\0",
                _ => b"",
            };
            d.splice(0..0, prefix.iter().copied());
            let _ = probe_bytes(&d, 0);
        }
    }
}
