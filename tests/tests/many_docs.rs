//! An edge with more documents than one old-style `Heads` frame held (the codec
//! refused those above ~26,500 realistic names, issue 7 part 8) syncs completely
//! through the paged heads exchange, and its next sync sends nothing.

use jilu_tests::cluster::{assert_converged, Ca, Center};
use jilu_tests::many_docs::{activity_name, copy_to_center, write_activities};
use jilu_tests::Edge;

const COUNTY: &str = "410402";
/// Above the ~26,546 documents one `Heads` frame could carry.
const DOCS: usize = 30_000;
/// Documents the center does not hold yet: the first sync merges these. The
/// others it holds already (copied byte for byte, as an earlier sync would have
/// left them), so the first sync still pages through the digests of all 30,000
/// (a change in every bucket) but runs the Automerge sync for only these: a
/// first sync of 30,000 documents one by one would take minutes here.
const NEW: usize = 1_500;

#[test]
fn thirty_thousand_documents_sync_in_pages_then_nothing_is_sent() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let mut center = Center::start(root.path(), &ca);
    let edge = Edge::office(COUNTY, 0);
    edge.link(&ca, &center, COUNTY, "");
    write_activities(&edge.dir, COUNTY, 0, DOCS).unwrap();
    // the center holds every one but every 20th
    let held: Vec<String> = (0..DOCS)
        .filter(|i| i % (DOCS / NEW) != 0)
        .map(|i| activity_name(COUNTY, i))
        .collect();
    assert_eq!(held.len(), DOCS - NEW);
    center.kill9();
    copy_to_center(&edge.dir, &center.config, &held).unwrap();
    center.restart();

    let out = edge
        .cmd()
        .env("JILU_LOG", "warn,edge_node::doc_sync=debug")
        .args(["--json", "sync", "--once"])
        .output()
        .unwrap();
    let log = jilu_tests::text(&out);
    assert!(out.status.success(), "{log}");
    // most buckets hold a new document (1,500 over 1,024 buckets: ~77 %), so most of
    // the edge's 30,000 digests go out, in full pages of 2,048 but the last
    let sent: Vec<usize> = log
        .lines()
        .filter(|l| l.contains("HeadsPage → Differ"))
        .map(|l| {
            // `docs=N`, perhaps with colour codes (`ESC [ … m`) around the `=`
            let mut plain = String::new();
            let mut chars = l.chars();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' {
                    chars.by_ref().find(|&c| c == 'm');
                } else {
                    plain.push(c);
                }
            }
            let at = plain.find("docs=").expect("docs field") + 5;
            let digits: String = plain[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<usize>().unwrap()
        })
        .collect();
    let total: usize = sent.iter().sum();
    assert!(total > DOCS * 6 / 10, "{total} digests sent in {sent:?}");
    assert_eq!(sent.len(), total.div_ceil(2048), "{sent:?}");
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    // the new activities, and the node's registry, ledger and catalogue
    let synced = first["docs_synced"].as_u64().unwrap() as usize;
    assert!((NEW..NEW + 5).contains(&synced), "{first}");
    assert!(
        first["docs_refused"].as_array().unwrap().is_empty(),
        "{first}"
    );
    // both sides hold identical documents, read from the documents themselves
    assert_converged(&center, &edge, COUNTY);
    assert_eq!(
        center
            .docs(COUNTY)
            .keys()
            .filter(|n| n.starts_with("activity/"))
            .count(),
        DOCS
    );

    // nothing changed: one round trip, nothing sent
    let out = edge
        .cmd()
        .env("JILU_LOG", "warn,edge_node::doc_sync=debug")
        .args(["--json", "sync", "--once"])
        .output()
        .unwrap();
    let log = jilu_tests::text(&out);
    assert!(out.status.success(), "{log}");
    let trips: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("control round trip"))
        .collect();
    assert_eq!(trips.len(), 1, "{log}");
    assert!(trips[0].contains("Summary → Same"), "{log}");
    let again: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(again["docs_synced"], 0, "{again}");
    assert_eq!(again["bytes_sent"], 0, "{again}");
}
