//! Part `docs` of `jilu-bench-sync`: the unchanged sync at 10k, 100k and 200k
//! documents (see the crate doc, part 4).

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::many_docs::write_activities;
use jilu_tests::Edge;
use serde_json::{json, Value};

use super::{note, row, settle, sync_once, verdict, Args, Row, COUNTY};

/// The unchanged sync at the largest count may take at most this many times as
/// long as at the smallest (in proportion it would take count-ratio times).
const TARGET_GROWTH: f64 = 2.0;

/// `--docs 10000,100000,200000`: ascending, each at least 1.
pub fn parse_sizes(text: &str) -> Result<Vec<usize>> {
    let sizes: Vec<usize> = text
        .split(',')
        .map(|n| n.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            anyhow!("--docs: document counts separated by commas, e.g. 10000,100000,200000")
        })?;
    if sizes.is_empty() || sizes.contains(&0) || sizes.windows(2).any(|w| w[0] >= w[1]) {
        bail!("--docs: counts must be at least 1 and ascending, e.g. 10000,100000,200000");
    }
    Ok(sizes)
}

/// One count: a fresh center and an edge with `n` documents, its first sync and
/// its unchanged second one.
fn one_size(a: &Args, work: &Path, n: usize, rows: &mut Vec<Row>) -> Result<Value> {
    let dir = work.join(format!("docs-{n}"));
    std::fs::create_dir_all(&dir)?;
    let ca = Ca::new(&dir);
    let center = Center::start(&dir, &ca);
    let edge = Edge::office(COUNTY, 0);
    edge.link(&ca, &center, COUNTY, "");
    note(a, &format!("docs: writing {n} activity documents …"));
    let t0 = Instant::now();
    write_activities(&edge.dir, COUNTY, 0, n)?;
    let written = t0.elapsed();
    note(
        a,
        &format!(
            "docs: written in {:.1} s; first sync …",
            written.as_secs_f64()
        ),
    );
    let (first, r1, log1) = sync_once(&edge, "warn,edge_node::doc_sync=debug")?;
    let pages = log1
        .lines()
        .filter(|l| l.contains("HeadsPage → Differ"))
        .count();
    let synced = r1["docs_synced"].as_u64().unwrap_or(0);
    note(
        a,
        &format!(
            "docs: first sync {:.1} s ({synced} documents merged, {pages} pages); second sync …",
            first.as_secs_f64()
        ),
    );
    settle()?;
    let (second, r2, log) = sync_once(&edge, "warn,edge_node::doc_sync=debug")?;
    let trips: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("control round trip"))
        .collect();
    let same = trips.len() == 1 && trips[0].contains("Summary → Same");
    note(
        a,
        &format!(
            "docs: {n} documents, second sync {:.2} s, {} round trip(s)",
            second.as_secs_f64(),
            trips.len()
        ),
    );
    // the center holds every document, as read from its documents themselves
    // (`center docs`), not from the index the exchange used
    let at_center = center
        .docs(COUNTY)
        .keys()
        .filter(|k| k.starts_with("activity/"))
        .count();
    let whole = at_center == n && synced as usize >= n;
    rows.push(row(
        "docs",
        format!(
            "{n} documents: write {:.1} s, first sync {:.1} s ({synced} merged, {pages} pages), center holds {at_center}",
            written.as_secs_f64(),
            first.as_secs_f64()
        ),
        "",
        format!("{n} at the center"),
        verdict(whole),
    ));
    rows.push(row(
        "docs",
        format!("{n} documents: second sync --once, nothing changed"),
        format!(
            "{:.2} s, {} round trip(s)",
            second.as_secs_f64(),
            trips.len()
        ),
        "1 round trip (Summary → Same)",
        verdict(same),
    ));
    Ok(json!({
        "docs": n,
        "write_secs": written.as_secs_f64(),
        "first_sync_secs": first.as_secs_f64(),
        "first_sync_merged": synced,
        "first_sync_pages": pages,
        "center_docs": at_center,
        "second_sync_secs": second.as_secs_f64(),
        "second_sync_report": r2,
        "round_trips": trips.len(),
        "pass": whole && same,
    }))
}

pub fn part_docs(a: &Args, work: &Path, rows: &mut Vec<Row>) -> Result<Value> {
    let mut runs = Vec::new();
    for &n in &a.docs {
        runs.push(one_size(a, work, n, rows)?);
        // each size's stores are done with: free the disk for the next
        let _ = std::fs::remove_dir_all(work.join(format!("docs-{n}")));
    }
    let secs = |v: &Value| v["second_sync_secs"].as_f64().unwrap_or(0.0);
    let growth = match (runs.first(), runs.last()) {
        (Some(lo), Some(hi)) if runs.len() > 1 => {
            let (n0, n1) = (a.docs[0], a.docs[a.docs.len() - 1]);
            let g = secs(hi) / secs(lo).max(1e-6);
            rows.push(row(
                "docs",
                format!(
                    "unchanged sync at {n1} / at {n0} documents ({}× the documents)",
                    n1 / n0
                ),
                format!("{g:.2}×"),
                format!("< {TARGET_GROWTH}×"),
                verdict(g < TARGET_GROWTH),
            ));
            Some(g)
        }
        _ => None,
    };
    let pass = runs.iter().all(|r| r["pass"] == true) && growth.is_none_or(|g| g < TARGET_GROWTH);
    Ok(json!({"sizes": runs, "unchanged_growth": growth, "pass": pass}))
}
