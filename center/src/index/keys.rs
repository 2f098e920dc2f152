//! Key layout of the `index` family. Every key starts with a two-letter tag and a
//! NUL; text parts end in NUL; times are order-preserving big-endian, so a prefix
//! scan is a list in capture (or arrival) order and a page is a range.
//!
//! | key | value |
//! |---|---|
//! | `as` county id | [`super::ActivityRow`] |
//! | `ac` county time(arrival) county id | — (activities of a county) |
//! | `ao` officer time(arrival) county id | — (activities of an officer) |
//! | `ap` county id | — (interruptions waiting for approval) |
//! | `ad` county time(deadline) county id | — (hand-over deadline, nothing handed over yet) |
//! | `ah` county id | — (activities on hold) |
//! | `is` hash | [`super::ItemRow`] |
//! | `ic` county time(capture) hash | — (items of a county) |
//! | `ia` county activity hash | — (items of an activity) |
//! | `io` officer time hash | — (items of an officer) |
//! | `iv` device time hash | — (items of a device) |
//! | `it` time hash | — (items by capture date) |
//! | `ib` state time hash | — (items by state) |
//! | `ie` time(expiry) hash | — (items under the ordinary retention, by expiry; not held ones) |
//! | `dv` county device | [`super::DeviceRow`] |
//! | `lv` county device time(out) id | [`super::LedgerRow`] (a device's check-outs) |
//! | `lm` county month id | the `lv` key of that check-out (what a ledger document wrote) |
//! | `rg` county | [`super::RegistryRow`] (officers and devices, art. 3) |
//! | `ik` county hash | an item's own class above ordinary (its name), from `registry/<county>` |
//! | `fi` county owner n | [`super::FindingRow`] (owner: activity id, or `item:HASH`) |
//! | `mx` | the matter catalogue's rows |
//!
//! Every activity list key ends in `county NUL id NUL` after its fixed part
//! (tag, text, time), so [`county_and_id`] reads any of them.

use jilu_common::time::Millis;

/// An order-preserving encoding of a signed time.
pub fn time(t: Millis) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Builds a key from a tag and parts; each text part is followed by NUL.
pub struct Key(Vec<u8>);

impl Key {
    pub fn new(tag: &str) -> Key {
        let mut v = tag.as_bytes().to_vec();
        v.push(0);
        Key(v)
    }
    pub fn text(mut self, s: &str) -> Key {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    pub fn time(mut self, t: Millis) -> Key {
        self.0.extend_from_slice(&time(t));
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Key {
        self.0.extend_from_slice(b);
        self
    }
    pub fn done(self) -> Vec<u8> {
        self.0
    }
}

pub fn activity_row(county: &str, id: &str) -> Vec<u8> {
    Key::new("as").text(county).text(id).done()
}

pub fn item_row(hash: &[u8; 32]) -> Vec<u8> {
    Key::new("is").bytes(hash).done()
}

pub fn item_class(county: &str, hash: &[u8; 32]) -> Vec<u8> {
    Key::new("ik").text(county).bytes(hash).done()
}

pub fn device_row(county: &str, device: &str) -> Vec<u8> {
    Key::new("dv").text(county).text(device).done()
}

pub fn ledger_row(county: &str, device: &str, out_at: Millis, id: &str) -> Vec<u8> {
    Key::new("lv")
        .text(county)
        .text(device)
        .time(out_at)
        .text(id)
        .done()
}

pub fn ledger_lines(county: &str, device: &str) -> Vec<u8> {
    Key::new("lv").text(county).text(device).done()
}

pub fn ledger_month(county: &str, month: &str) -> Vec<u8> {
    Key::new("lm").text(county).text(month).done()
}

pub fn registry_row(county: &str) -> Vec<u8> {
    Key::new("rg").text(county).done()
}

pub fn findings_of(county: &str, owner: &str) -> Vec<u8> {
    Key::new("fi").text(county).text(owner).done()
}

pub const MATTERS: &[u8] = b"mx\0";
/// The fingerprint of the retention policy the projections were built under.
pub const RETENTION: &[u8] = b"rp\0";

/// The item hash at the end of an item-list key.
pub fn trailing_hash(key: &[u8]) -> Option<[u8; 32]> {
    key.len()
        .checked_sub(32)
        .and_then(|at| key[at..].try_into().ok())
}

/// The `county NUL id NUL` that ends an activity list key, after `skip` bytes.
pub fn county_and_id(key: &[u8], skip: usize) -> Option<(String, String)> {
    let rest = key.get(skip..)?.strip_suffix(&[0])?;
    let at = rest.iter().position(|b| *b == 0)?;
    Some((
        String::from_utf8(rest[..at].to_vec()).ok()?,
        String::from_utf8(rest[at + 1..].to_vec()).ok()?,
    ))
}
