//! Which documents an edge and the center must sync, found without listing them
//! all: the pure half of the heads exchange (see [`crate::wire`] for its messages).
//!
//! Every document has a *digest*: BLAKE3 over its name and its sorted Automerge
//! heads, so two copies have the same digest exactly when they have the same
//! heads. Documents fall into [`BUCKETS`] buckets by a hash of their name; a
//! bucket's digest is the XOR of its documents' digests (XOR, so a write updates
//! it in O(1) from the document's old and new digest, and so the center can add
//! the city's documents to a county's by XOR as well); the *root* is BLAKE3 over
//! the bucket digests in order.
//!
//! An unchanged check is one round trip of 32 bytes each way: the edge sends its
//! root, the center answers `Same`. Otherwise the center answers its bucket
//! digests, the edge picks the buckets that differ ([`Summary::differing`]) and
//! sends its documents' digests in those buckets in *key order* (bucket, then
//! name), at most [`MAX_PAGE_DOCS`] a page ([`page`]). The center compares each
//! page with its own documents of those buckets ([`answer`]): names that differ or
//! that only one side holds, again at most [`MAX_PAGE_DOCS`], and how far it got.
//! The next page starts after that point. Neither side keeps state between pages,
//! no frame grows with the number of documents, and both sides read their digests
//! from an index kept beside the documents (`jilu_store::heads`), so the cost is
//! that of the buckets that changed, not of every document.
//!
//! XOR is not collision-resistant against someone choosing digests, but a digest
//! only decides what is compared next: a node that forges one only keeps its own
//! documents from syncing. What is merged is decided by the Automerge sync and
//! [`crate::sync::check_changes`], as before.

use std::cmp::Ordering;

use crate::doc_name::DocName;
use crate::sync;
use crate::wire::{DocDigest, HeadsPage};

/// Buckets of the summary. 1,024 keeps the bucket digests a center sends for a
/// changed summary at 32 KiB, and a bucket at ~200 documents (~13 KiB of page)
/// for a 200,000-document edge: one changed document costs one 32 KiB answer and
/// one small page.
pub const BUCKETS: u16 = 1024;

/// Most documents in one page, and most names in one answer: with the longest
/// names ([`crate::doc_name::MAX_LEN`]) a page stays under 0.4 MiB, far inside
/// the codec's frame and decode limits (tested below).
pub const MAX_PAGE_DOCS: usize = 2048;

pub type Digest = [u8; 32];

/// The bucket of a document name.
pub fn bucket(name: &str) -> u16 {
    let h = blake3::hash(name.as_bytes());
    let b = h.as_bytes();
    u16::from_be_bytes([b[0], b[1]]) % BUCKETS
}

/// A document's digest: its name and its heads (in any order).
pub fn doc_digest(name: &str, heads: &[[u8; 32]]) -> Digest {
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut h = blake3::Hasher::new();
    h.update(&(name.len() as u64).to_be_bytes());
    h.update(name.as_bytes());
    for head in &sorted {
        h.update(head);
    }
    *h.finalize().as_bytes()
}

/// `a ^= b`.
pub fn xor_into(a: &mut Digest, b: &Digest) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// The order documents are paged in: by bucket, then by name.
pub fn key_order(a: &str, b: &str) -> Ordering {
    (bucket(a), a).cmp(&(bucket(b), b))
}

/// Whether `name` comes after `after` in key order (everything does after `None`).
fn is_after(name: &str, after: Option<&str>) -> bool {
    after.is_none_or(|a| key_order(name, a) == Ordering::Greater)
}

/// Bucket digests of a set of documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub buckets: Vec<Digest>,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary {
            buckets: vec![[0; 32]; BUCKETS as usize],
        }
    }
}

impl Summary {
    /// Adds (or, applied again, removes) a document with digest `digest`.
    pub fn toggle(&mut self, name: &str, digest: &Digest) {
        xor_into(&mut self.buckets[bucket(name) as usize], digest);
    }

    /// The union with a disjoint set (a county's documents and the city's).
    pub fn combine(&mut self, other: &Summary) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            xor_into(a, b);
        }
    }

    pub fn root(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        for b in &self.buckets {
            h.update(b);
        }
        *h.finalize().as_bytes()
    }

    /// Buckets whose digests differ from `theirs` (a peer's, which must have
    /// [`BUCKETS`] entries), in order.
    pub fn differing(&self, theirs: &[Digest]) -> Result<Vec<u16>, PageError> {
        if theirs.len() != self.buckets.len() {
            return Err(PageError::Buckets(theirs.len()));
        }
        Ok((0..BUCKETS)
            .filter(|&b| self.buckets[b as usize] != theirs[b as usize])
            .collect())
    }
}

/// Why a page (or an answer to one) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// a summary must have one digest per bucket
    #[error("a summary has {0} bucket digests, not {BUCKETS}")]
    Buckets(usize),
    /// the bucket list is empty, unordered, repeated or out of range
    #[error("the page's bucket list is not an ordered list of buckets below {BUCKETS}")]
    BucketList,
    /// more documents than one page may hold
    #[error("a page holds {0} documents, more than {MAX_PAGE_DOCS}")]
    TooMany(usize),
    /// a name outside the grammar
    #[error("a page names something that is not a document name: {0}")]
    Name(String),
    /// a document in a bucket the page does not cover
    #[error("a page lists a document outside its buckets")]
    OutsideBuckets,
    /// documents not in key order, repeated, or not after the page's start
    #[error("a page's documents are not in key order after its start")]
    Order,
    /// a page that is not the last must carry a document (or paging never ends)
    #[error("a page that is not the last holds no document")]
    Empty,
    /// an answer that does not move past the page's start
    #[error("the answer to a page does not move past where the page started")]
    NoProgress,
}

/// The next page for the buckets `buckets` after `after`: `docs` are the
/// sender's documents of those buckets after `after`, in key order (more than a
/// page may be given; pass at most [`MAX_PAGE_DOCS`] + 1 to read no more than
/// needed).
pub fn page(buckets: &[u16], after: Option<&str>, mut docs: Vec<DocDigest>) -> HeadsPage {
    let last = docs.len() <= MAX_PAGE_DOCS;
    docs.truncate(MAX_PAGE_DOCS);
    HeadsPage {
        buckets: buckets.to_vec(),
        after: after.map(str::to_string),
        docs,
        last,
    }
}

/// Checks a page before anything is read for it. Documents the sender's county
/// does not see are not refused here (an edge configured for another county than
/// its certificate's lists them): [`answer`] leaves them out.
pub fn check_page(p: &HeadsPage) -> Result<(), PageError> {
    if p.buckets.is_empty()
        || p.buckets.len() > BUCKETS as usize
        || p.buckets.windows(2).any(|w| w[0] >= w[1])
        || p.buckets.iter().any(|&b| b >= BUCKETS)
    {
        return Err(PageError::BucketList);
    }
    if p.docs.len() > MAX_PAGE_DOCS {
        return Err(PageError::TooMany(p.docs.len()));
    }
    if !p.last && p.docs.is_empty() {
        return Err(PageError::Empty);
    }
    let covered = |name: &str| p.buckets.binary_search(&bucket(name)).is_ok();
    let named = |name: &str| {
        DocName::parse(name)
            .map(|_| ())
            .map_err(|_| PageError::Name(crate::log_escape::escape(name)))
    };
    if let Some(a) = &p.after {
        named(a)?;
        if !covered(a) {
            return Err(PageError::OutsideBuckets);
        }
    }
    let mut prev = p.after.as_deref();
    for d in &p.docs {
        named(&d.name)?;
        if !covered(&d.name) {
            return Err(PageError::OutsideBuckets);
        }
        if !is_after(&d.name, prev) {
            return Err(PageError::Order);
        }
        prev = Some(&d.name);
    }
    Ok(())
}

/// What the receiver of a page answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// documents that differ or that only one side holds, in key order
    pub names: Vec<String>,
    /// compared up to and including this key; `None`: to the end of the buckets
    pub through: Option<String>,
}

/// Compares a (checked) page from a node of `county` with `mine`: the
/// receiver's documents of the page's buckets after `page.after` that `county`
/// sees, in key order — all of them up to the page's last document (to the end if
/// the page is the last), or at least [`MAX_PAGE_DOCS`] + `page.docs.len()` of
/// them: the answer never looks further. The page's documents that `county` does
/// not see are left out (they are neither compared nor named).
pub fn answer(page: &HeadsPage, mine: &[DocDigest], county: &str) -> Answer {
    // the page describes the sender's documents up to `reach` (None: the end)
    let reach = if page.last {
        None
    } else {
        page.docs.last().map(|d| d.name.as_str())
    };
    let within = |name: &str| reach.is_none_or(|r| key_order(name, r) != Ordering::Greater);
    let seen = |d: &&DocDigest| sync::visible_to(&d.name, county);
    let (mut theirs, mut ours) = (
        page.docs.iter().filter(seen).peekable(),
        mine.iter().peekable(),
    );
    let mut names = Vec::new();
    loop {
        if names.len() == MAX_PAGE_DOCS {
            // full: the sender goes on after the last name given
            let through = names.last().cloned();
            return Answer { names, through };
        }
        let t: Option<&DocDigest> = theirs.peek().copied();
        let o: Option<&DocDigest> = ours.peek().copied().filter(|d| within(&d.name));
        let (name, differs) = match (t, o) {
            (None, None) => break,
            (Some(t), None) => {
                theirs.next();
                (&t.name, true)
            }
            (None, Some(o)) => {
                ours.next();
                (&o.name, true)
            }
            (Some(t), Some(o)) => match key_order(&t.name, &o.name) {
                Ordering::Less => {
                    theirs.next();
                    (&t.name, true)
                }
                Ordering::Greater => {
                    ours.next();
                    (&o.name, true)
                }
                Ordering::Equal => {
                    theirs.next();
                    ours.next();
                    (&t.name, t.digest != o.digest)
                }
            },
        };
        if differs {
            names.push(name.clone());
        }
    }
    Answer {
        names,
        through: reach.map(str::to_string),
    }
}

/// Checks an answer against the page it answers: in bounds, and past the page's
/// start (so paging ends). Returns where the next page starts, `None` when done.
pub fn next_after(
    page: &HeadsPage,
    names: &[String],
    through: Option<&str>,
) -> Result<Option<String>, PageError> {
    if names.len() > MAX_PAGE_DOCS {
        return Err(PageError::TooMany(names.len()));
    }
    match through {
        None => Ok(None),
        Some(t) if is_after(t, page.after.as_deref()) => Ok(Some(t.to_string())),
        Some(_) => Err(PageError::NoProgress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const COUNTY: &str = "410422";

    fn name(i: usize) -> String {
        format!("activity/{COUNTY}/A-{i:06}")
    }

    /// A side's documents: name → digest.
    type Side = BTreeMap<String, Digest>;

    fn side(range: std::ops::Range<usize>, version: u8) -> Side {
        range
            .map(|i| (name(i), doc_digest(&name(i), &[[version; 32]])))
            .collect()
    }

    fn summary(s: &Side) -> Summary {
        let mut out = Summary::default();
        for (n, d) in s {
            out.toggle(n, d);
        }
        out
    }

    /// A side's documents of `buckets` after `after`, in key order, at most `limit`
    /// (what the index gives a driver).
    fn docs_after(s: &Side, buckets: &[u16], after: Option<&str>, limit: usize) -> Vec<DocDigest> {
        let mut v: Vec<DocDigest> = s
            .iter()
            .filter(|(n, _)| buckets.contains(&bucket(n)) && is_after(n, after))
            .map(|(n, d)| DocDigest {
                name: n.clone(),
                digest: *d,
            })
            .collect();
        v.sort_by(|a, b| key_order(&a.name, &b.name));
        v.truncate(limit);
        v
    }

    /// The whole exchange between an edge and a center, as the drivers run it,
    /// through the real codec: the names to sync and the round trips taken.
    fn exchange(edge: &Side, center: &Side) -> (Vec<String>, usize) {
        let mine = summary(edge);
        let theirs = summary(center);
        let mut trips = 1;
        if mine.root() == theirs.root() {
            return (Vec::new(), trips);
        }
        let differ = mine.differing(&theirs.buckets).unwrap();
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let p = page(
                &differ,
                after.as_deref(),
                docs_after(edge, &differ, after.as_deref(), MAX_PAGE_DOCS + 1),
            );
            let wire = crate::codec::encode(&crate::wire::Request::HeadsPage(Box::new(p.clone())))
                .unwrap();
            assert!(wire.len() < 512 << 10, "a page of {} bytes", wire.len());
            let p2 = match crate::codec::decode_body(&wire[4..]).unwrap() {
                crate::wire::Request::HeadsPage(p) => *p,
                other => panic!("{other:?}"),
            };
            check_page(&p2).unwrap();
            let limit = MAX_PAGE_DOCS + p2.docs.len();
            let a = answer(
                &p2,
                &docs_after(center, &p2.buckets, p2.after.as_deref(), limit),
                COUNTY,
            );
            trips += 1;
            assert!(a.names.len() <= MAX_PAGE_DOCS);
            after = next_after(&p, &a.names, a.through.as_deref()).unwrap();
            names.extend(a.names);
            if after.is_none() {
                break;
            }
        }
        (names, trips)
    }

    /// The names that truly differ, in key order.
    fn truth(edge: &Side, center: &Side) -> Vec<String> {
        let mut v: Vec<String> = edge
            .keys()
            .chain(center.keys())
            .filter(|n| edge.get(*n) != center.get(*n))
            .cloned()
            .collect();
        v.sort_by(|a, b| key_order(a, b));
        v.dedup();
        v
    }

    #[test]
    fn digests_follow_heads_not_their_order() {
        let a = doc_digest("catalogue", &[[1; 32], [2; 32]]);
        assert_eq!(a, doc_digest("catalogue", &[[2; 32], [1; 32]]));
        assert_ne!(a, doc_digest("catalogue", &[[1; 32]]));
        assert_ne!(a, doc_digest("policy/x", &[[1; 32], [2; 32]]));
        assert!((0..1000).all(|i| bucket(&name(i)) < BUCKETS));
    }

    #[test]
    fn summaries_add_remove_and_combine() {
        let s = side(0..100, 1);
        let mut sum = summary(&s);
        assert_ne!(sum.root(), Summary::default().root());
        for (n, d) in &s {
            sum.toggle(n, d);
        }
        assert_eq!(sum, Summary::default(), "toggled twice: gone");
        // a county's and the city's documents, summed apart and combined
        let (county, city) = (side(0..50, 1), side(50..100, 1));
        let mut both = summary(&county);
        both.combine(&summary(&city));
        assert_eq!(both, summary(&s));
        // one changed document: only its bucket differs
        let mut changed = s.clone();
        let n = name(7);
        changed.insert(n.clone(), doc_digest(&n, &[[9; 32]]));
        assert_eq!(
            summary(&s).differing(&summary(&changed).buckets).unwrap(),
            vec![bucket(&n)]
        );
        assert_eq!(
            summary(&s).differing(&[[0; 32]; 3]),
            Err(PageError::Buckets(3))
        );
    }

    #[test]
    fn unchanged_is_one_round_trip() {
        let s = side(0..20_000, 1);
        assert_eq!(exchange(&s, &s), (vec![], 1));
        assert_eq!(exchange(&Side::new(), &Side::new()), (vec![], 1));
    }

    #[test]
    fn the_exchange_finds_exactly_what_differs() {
        let base = side(0..6000, 1);
        // one document changed at the edge: one small page
        let mut one = base.clone();
        one.insert(name(42), doc_digest(&name(42), &[[2; 32]]));
        assert_eq!(exchange(&one, &base), (vec![name(42)], 2));
        // changed, edge-only and center-only documents at once
        let mut edge = base.clone();
        let mut center = base.clone();
        for i in (0..6000).step_by(97) {
            edge.insert(name(i), doc_digest(&name(i), &[[3; 32]]));
        }
        for i in 6000..6100 {
            edge.insert(name(i), doc_digest(&name(i), &[[1; 32]]));
        }
        for i in 7000..7050 {
            center.insert(name(i), doc_digest(&name(i), &[[1; 32]]));
        }
        let (names, _) = exchange(&edge, &center);
        assert_eq!(names, truth(&edge, &center));
        assert_eq!(names.len(), 62 + 100 + 50);
    }

    #[test]
    fn a_first_sync_pages_either_way() {
        // everything at the edge only: pages of at most MAX_PAGE_DOCS
        let edge = side(0..10_000, 1);
        let (names, trips) = exchange(&edge, &Side::new());
        assert_eq!(names, truth(&edge, &Side::new()));
        assert_eq!(trips, 1 + 10_000usize.div_ceil(MAX_PAGE_DOCS));
        // everything at the center only (a replaced edge): the center's answers page
        let (names, trips) = exchange(&Side::new(), &edge);
        assert_eq!(names.len(), 10_000);
        assert_eq!(names, truth(&Side::new(), &edge));
        assert!(trips > 1 + 10_000 / MAX_PAGE_DOCS, "{trips}");
        // and each differing by one side's version
        let (names, _) = exchange(&side(0..10_000, 2), &edge);
        assert_eq!(names.len(), 10_000);
    }

    #[test]
    fn the_largest_page_and_answer_fit_the_codec() {
        let long = |i: usize| format!("activity/{}/{:0>64}", "c".repeat(64), i);
        assert_eq!(long(0).len(), crate::doc_name::MAX_LEN);
        let mut docs: Vec<DocDigest> = (0..MAX_PAGE_DOCS)
            .map(|i| DocDigest {
                name: long(i),
                digest: [0xff; 32],
            })
            .collect();
        docs.sort_by(|a, b| key_order(&a.name, &b.name));
        let names: Vec<String> = docs.iter().map(|d| d.name.clone()).collect();
        let p = HeadsPage {
            buckets: (0..BUCKETS).collect(),
            after: Some(long(99_999)),
            docs,
            last: false,
        };
        let req = crate::wire::Request::HeadsPage(Box::new(p));
        let frame = crate::codec::encode(&req).unwrap();
        assert!(frame.len() < 512 << 10, "{}", frame.len());
        let back: crate::wire::Request = crate::codec::decode_body(&frame[4..]).unwrap();
        assert_eq!(back, req);
        let resp = crate::wire::Response::Differ {
            names,
            through: Some(long(1)),
        };
        let frame = crate::codec::encode(&resp).unwrap();
        let back: crate::wire::Response = crate::codec::decode_body(&frame[4..]).unwrap();
        assert_eq!(back, resp);
        let sum = crate::wire::Response::Buckets {
            digests: vec![[7; 32]; BUCKETS as usize],
        };
        let frame = crate::codec::encode(&sum).unwrap();
        assert!(frame.len() < 40 << 10);
    }

    #[test]
    fn bad_pages_are_refused() {
        let mut docs = docs_after(&side(0..50, 1), &(0..BUCKETS).collect::<Vec<_>>(), None, 50);
        let buckets: Vec<u16> = {
            let mut b: Vec<u16> = docs.iter().map(|d| bucket(&d.name)).collect();
            b.dedup();
            b
        };
        let good = HeadsPage {
            buckets: buckets.clone(),
            after: None,
            docs: docs.clone(),
            last: true,
        };
        assert_eq!(check_page(&good), Ok(()));
        let with = |f: &dyn Fn(&mut HeadsPage)| {
            let mut p = good.clone();
            f(&mut p);
            check_page(&p)
        };
        assert_eq!(with(&|p| p.buckets.clear()), Err(PageError::BucketList));
        assert_eq!(with(&|p| p.buckets.reverse()), Err(PageError::BucketList));
        assert_eq!(
            with(&|p| p.buckets.push(BUCKETS)),
            Err(PageError::BucketList)
        );
        assert_eq!(
            with(&|p| p.buckets = vec![buckets[0], buckets[0]]),
            Err(PageError::BucketList)
        );
        assert_eq!(with(&|p| p.docs.reverse()), Err(PageError::Order));
        assert_eq!(
            with(&|p| p.docs.push(p.docs[0].clone())),
            Err(PageError::Order)
        );
        assert_eq!(
            with(&|p| p.buckets.retain(|&b| b != bucket(&p.docs[3].name))),
            Err(PageError::OutsideBuckets)
        );
        // another county's document is no reason to refuse, but it is not answered
        let mut other = good.clone();
        other
            .docs
            .retain(|d| bucket(&d.name) != bucket("activity/410499/A-1"));
        other.docs.push(DocDigest {
            name: "activity/410499/A-1".into(),
            digest: [1; 32],
        });
        other.docs.sort_by(|a, b| key_order(&a.name, &b.name));
        other.buckets.push(bucket("activity/410499/A-1"));
        other.buckets.sort();
        other.buckets.dedup();
        assert_eq!(check_page(&other), Ok(()));
        let a = answer(&other, &[], COUNTY);
        assert_eq!(a.names.len(), other.docs.len() - 1);
        assert!(!a.names.iter().any(|n| n.contains("410499")));
        assert!(matches!(
            with(&|p| p.docs[0].name = "activity/410422/\n".into()),
            Err(PageError::Name(_))
        ));
        assert!(matches!(
            with(&|p| p.after = Some("junk".into())),
            Err(PageError::Name(_))
        ));
        assert_eq!(
            with(&|p| p.after = Some(p.docs[10].name.clone())),
            Err(PageError::Order)
        );
        assert_eq!(
            with(&|p| {
                p.docs.clear();
                p.last = false
            }),
            Err(PageError::Empty)
        );
        docs.extend((0..MAX_PAGE_DOCS).map(|i| DocDigest {
            name: name(100 + i),
            digest: [0; 32],
        }));
        assert_eq!(
            with(&|p| p.docs = docs.clone()),
            Err(PageError::TooMany(50 + MAX_PAGE_DOCS))
        );
        // an answer must move past the page's start
        let p = HeadsPage {
            after: Some(good.docs[5].name.clone()),
            ..good.clone()
        };
        assert_eq!(
            next_after(&p, &[], Some(&good.docs[5].name)),
            Err(PageError::NoProgress)
        );
        assert_eq!(
            next_after(&p, &[], Some(&good.docs[6].name)),
            Ok(Some(good.docs[6].name.clone()))
        );
    }
}
