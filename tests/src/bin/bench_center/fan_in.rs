//! `jilu-bench-center --fan-in N`: N edges connect and sync at once to one real
//! `center run` over mutually authenticated QUIC on loopback. Each edge is a real
//! `edge-node` store (its own folder, certificate and county) with `--docs`
//! documents and `--edge-items` items of `--item-size` bytes (defaults 20, 2 and
//! 8 MiB, the figures); the timed part is N `edge-node sync --once`
//! processes started together.
//!
//! Checked, not assumed: every sync exits 0 with every item verified and nothing
//! refused; the center lists exactly the edges' items, each blob on its disk
//! hashing to its name; the center's documents of each county are the edge's;
//! the center counted no QUIC refusal. An edge still running after `--stall`
//! seconds is a stalled edge: the run fails and names it.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use jilu_tests::cluster::{Ca, Center};
use jilu_tests::{random_file, Edge};

/// What the fan-in run is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub edges: usize,
    pub docs: usize,
    pub items: usize,
    pub item_size: usize,
    pub stall_secs: u64,
}

fn county(n: usize) -> String {
    format!("42{n:04}")
}

/// An office with `docs` documents and `items` random items, linked to `center`.
fn prepare(ca: &Ca, center: &Center, n: usize, plan: &Plan) -> Result<Edge> {
    let e = Edge::office(&county(n), 0);
    let base = e.docs().len();
    if base >= plan.docs {
        bail!("an office holds {base} documents before any activity: --docs must be more");
    }
    for a in 1..=plan.docs - base {
        e.new_activity(&format!("A-{a}"));
    }
    let held = e.docs().len();
    if held != plan.docs {
        bail!("edge {n} holds {held} documents, not {}", plan.docs);
    }
    for i in 0..plan.items {
        let f = random_file(
            e.tmp.path(),
            &format!("V{i}.bin"),
            plan.item_size,
            (n * 1000 + i) as u64 + 7,
        );
        let path = f.to_string_lossy().into_owned();
        let mut args = vec!["ingest", path.as_str(), "--device", "cam-01"];
        if i % 2 == 0 {
            args.extend(["--activity", "A-1"]);
        }
        e.ok(&args);
        std::fs::remove_file(&f)?;
    }
    e.link(ca, center, &county(n), "");
    Ok(e)
}

fn hashes(e: &Edge) -> BTreeSet<String> {
    e.items()
        .iter()
        .filter_map(|i| i["hash"].as_str().map(str::to_string))
        .collect()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

pub fn run(plan: Plan) -> Result<()> {
    let root = tempfile::tempdir()?;
    let ca = Ca::new(root.path());
    let center = Center::start_with(root.path(), &ca, "", true);
    println!(
        "jilu-bench-center --fan-in: {} edges, each {} documents and {} items of {} MiB, to one `center run` over mTLS QUIC on loopback",
        plan.edges,
        plan.docs,
        plan.items,
        plan.item_size >> 20
    );
    let started = Instant::now();
    let mut edges = Vec::with_capacity(plan.edges);
    for n in 0..plan.edges {
        edges.push(prepare(&ca, &center, n, &plan)?);
    }
    println!(
        "prepared {} edges in {:.0} s (not timed below)",
        plan.edges,
        started.elapsed().as_secs_f64()
    );
    let expected: Vec<BTreeSet<String>> = edges.iter().map(hashes).collect();

    let t0 = Instant::now();
    let mut running: Vec<(usize, Instant, Child)> = Vec::with_capacity(plan.edges);
    for (n, e) in edges.iter().enumerate() {
        let child = e
            .cmd()
            .args(["--json", "sync", "--once", "--give-up", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        running.push((n, Instant::now(), child));
    }
    let launched = t0.elapsed().as_secs_f64();
    let mut done: Vec<Option<(f64, f64)>> = vec![None; plan.edges];
    let mut outputs = Vec::new();
    let deadline = Duration::from_secs(plan.stall_secs);
    while !running.is_empty() {
        let mut i = 0;
        while i < running.len() {
            if running[i].2.try_wait()?.is_some() {
                let (n, spawned, child) = running.swap_remove(i);
                done[n] = Some((spawned.elapsed().as_secs_f64(), t0.elapsed().as_secs_f64()));
                outputs.push((n, child.wait_with_output()?));
            } else {
                i += 1;
            }
        }
        if t0.elapsed() > deadline {
            let stalled: Vec<String> = running.iter().map(|(n, _, _)| county(*n)).collect();
            for (_, _, c) in &mut running {
                let _ = c.kill();
            }
            bail!(
                "{} edges stalled (still syncing after {} s): {}",
                stalled.len(),
                plan.stall_secs,
                stalled.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = t0.elapsed().as_secs_f64();
    let center_peak = center.pid().map(rss_mib).unwrap_or(0.0);
    let per_edge: Vec<f64> = done.iter().flatten().map(|d| d.0).collect();
    let (min, max) = per_edge
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
    let mut sorted = per_edge.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let bytes = (plan.edges * plan.items * plan.item_size) as f64;
    println!("launched {} syncs in {launched:.2} s", plan.edges);
    println!(
        "total {total:.1} s ({:.0} MiB/s over all edges)",
        bytes / total / (1 << 20) as f64
    );
    println!(
        "per-edge completion (own start to exit): min {min:.1} s, median {median:.1} s, max {max:.1} s, max/min {:.2} (target <= 3)",
        max / min
    );
    println!("center peak RSS {center_peak:.0} MiB");
    let mut problems = Vec::new();
    for (n, out) in &outputs {
        let text = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = text
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        let verified = report["items_verified"].as_u64().unwrap_or(0) as usize;
        let refused = report["docs_refused"].as_array().map_or(0, Vec::len)
            + report["refused_items"].as_array().map_or(0, Vec::len);
        if !out.status.success() || verified != plan.items || refused > 0 {
            eprintln!(
                "edge {}: {}",
                county(*n),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            problems.push(format!(
                "edge {}: exit {:?}, {verified} of {} items verified, {refused} refused: {}",
                county(*n),
                out.status.code(),
                plan.items,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    // the center's own account: every item verified, on disk, hashing to its name
    let at_center: BTreeSet<String> = center
        .verified_items()
        .iter()
        .filter_map(|i| i["item"]["hash"].as_str().map(str::to_string))
        .collect();
    let want: BTreeSet<String> = expected.iter().flatten().cloned().collect();
    if at_center != want {
        problems.push(format!(
            "the center holds {} verified items, the edges {} ({} missing)",
            at_center.len(),
            want.len(),
            want.difference(&at_center).count()
        ));
    }
    for (n, e) in edges.iter().enumerate() {
        let (mine, theirs) = (e.docs(), center.docs(&county(n)));
        let same = mine.iter().all(|(k, h)| theirs.get(k) == Some(h));
        if !same {
            problems.push(format!(
                "edge {}: its {} documents differ from the center's",
                county(n),
                mine.len()
            ));
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    println!(
        "{} problems so far; reading the center's /metrics",
        problems.len()
    );
    let metrics = jilu_tests::api::request(center.http, "GET", "/metrics", None, &[], None);
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    let quic_refusals = metric(&metrics, "jilu_quic_refusals_total");
    let edges_refused = metric(&metrics, "jilu_edge_refused{");
    if quic_refusals > 0.0 || edges_refused > 0.0 {
        problems.push(format!(
            "the center counted {quic_refusals} QUIC refusals ({edges_refused} edges with a last refusal)"
        ));
    }

    println!(
        "verified at the center: {} of {} items (blobs re-hashed); documents equal on {} of {} edges; QUIC refusals {quic_refusals}",
        at_center.intersection(&want).count(),
        want.len(),
        plan.edges - problems.iter().filter(|p| p.contains("documents differ")).count(),
        plan.edges
    );
    if !problems.is_empty() {
        return Err(anyhow!("{} problems in the fan-in run", problems.len()));
    }
    if max / min > 3.0 {
        bail!("max/min {:.2} is over the target of 3", max / min);
    }
    Ok(())
}
