//! `jilu-bench-automerge`: Jilu's document work on automerge 0.7.4 (the release
//! before) and on the release Jilu builds with, side by side in one process.
//!
//! ```text
//! cargo build --release --workspace
//! $CARGO_TARGET_DIR/release/jilu-bench-automerge [--runs 5] [--docs 1000] [--heads-docs 10000]
//! ```
//!
//! Both releases are linked at once: 0.7.4 under the name `automerge07` (a renamed
//! dependency of this crate only), the current one through `jilu_common`. Jilu's
//! mapping (`common/src/doc.rs`) is compiled a second time against 0.7.4
//! (`jilu_tests::doc07`), so both sides run the very same reconcile code. What is
//! measured, each on both releases, in alternating order, median of `--runs`:
//!
//! - load + save of a typical activity document: the stored 0.7.4 fixture bytes
//!   (`tests/fixtures/automerge-0.7/activity.automerge`), the same input for both;
//! - `doc::put` of an activity record with one field changed, plus `commit()` (the
//!   reconcile every edge command runs), and of an unchanged record;
//! - the first sync of `--docs` activity documents between two in-memory peers
//!   (the edge's documents, an empty center), the Automerge sync protocol per
//!   document with every message encoded and decoded: time and bytes sent;
//! - load + heads of `--heads-docs` saved documents (what an edge does before its
//!   one `Heads` frame), each release on the bytes it saved itself, and the current
//!   release on the bytes 0.7.4 saved (a store right after the upgrade);
//! - the saved size of an activity after 100 edits.
//!
//! Ratios are current / 0.7.4: above 1 is slower (or bigger) on the current release.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use jilu_common::activity::{Activity, Annotation, AnnotationKind};
use jilu_tests::doc_fixture::{self, EDGE_NODE, T0};

const FIXTURE_ACTIVITY: &[u8] = include_bytes!("../../fixtures/automerge-0.7/activity.automerge");
const USAGE: &str = "usage: jilu-bench-automerge [--runs 5] [--docs 1000] [--heads-docs 10000]
  --runs N        runs of every measurement on each release, median shown (default 5)
  --docs N        documents in the first-sync measurement (default 1000)
  --heads-docs N  documents loaded for their heads (default 10000)";

/// The activity of document `i`: the fixture's typical activity under its own id.
fn activity_steps(i: usize) -> Vec<Activity> {
    let mut steps = doc_fixture::activity_steps();
    for s in &mut steps {
        s.id = format!("A-410422-{i}");
    }
    steps
}

/// The 100 edits: departure corrections, place corrections, items and annotations,
/// each a separate command, as a long-lived activity collects them.
fn edit(a: &mut Activity, k: usize) {
    match k % 4 {
        0 => a.departure = Some(T0 + 55 * 60_000 + k as i64 * 1_000),
        1 => a.place = format!("叶县某食品有限公司 {k} 号仓库"),
        2 => a.items.push(jilu_common::hash::Hash::of(&k.to_le_bytes())),
        _ => a.annotations.push(Annotation {
            kind: AnnotationKind::Scene,
            text: format!("补充说明 {k}"),
            item: None,
            at: Some(T0 + k as i64 * 1_000),
            by: "41042201".into(),
        }),
    }
}

/// A timed row of the table: its label, the figure it shows, and how.
type TimedRow = (
    &'static str,
    fn(&Figures) -> Duration,
    fn(Duration) -> String,
);

/// What one release measured in one run.
#[derive(Debug, Clone, Default)]
struct Figures {
    load_save: Duration,
    put_changed: Duration,
    put_same: Duration,
    sync_total: Duration,
    sync_bytes: u64,
    sync_messages: u64,
    heads_own: Duration,
    heads_of_07: Option<Duration>,
    size_after_edits: usize,
}

/// The measurements, written once and compiled against each release: `am` is the
/// Automerge crate, `doc` Jilu's mapping compiled against it.
macro_rules! suite {
    () => {
        use std::hint::black_box;
        use std::time::{Duration, Instant};

        use am::sync::{Message, State, SyncDoc};
        use am::AutoCommit;
        use jilu_common::activity::Activity;

        use crate::{activity_steps, edit, Figures, EDGE_NODE};

        const LOAD_SAVE_ITERS: u32 = 2_000;
        const PUT_ITERS: u32 = 2_000;

        fn edge_doc() -> AutoCommit {
            AutoCommit::new().with_actor(doc::actor_for(EDGE_NODE))
        }

        fn put(d: &mut AutoCommit, a: &Activity) {
            doc::put(d, &["activity"], a).expect("doc::put");
            d.commit();
        }

        /// Activity document `i`, written command by command.
        pub fn build(i: usize) -> AutoCommit {
            let mut d = edge_doc();
            for step in activity_steps(i) {
                put(&mut d, &step);
            }
            d
        }

        fn load(bytes: &[u8]) -> AutoCommit {
            AutoCommit::load(bytes).expect("load")
        }

        /// Per load + save of `bytes`.
        fn load_save(bytes: &[u8]) -> Duration {
            let t = Instant::now();
            for _ in 0..LOAD_SAVE_ITERS {
                let mut d = load(black_box(bytes));
                black_box(d.save());
            }
            t.elapsed() / LOAD_SAVE_ITERS
        }

        /// Per `doc::put` + `commit()` on the fixture's activity as a command finds
        /// it (a fresh copy each time): with one field changed, and unchanged.
        fn puts(bytes: &[u8]) -> (Duration, Duration) {
            let mut base = load(bytes);
            let a: Activity = doc::get(&base, &["activity"])
                .expect("get")
                .expect("activity");
            let (mut changed, mut same) = (Duration::ZERO, Duration::ZERO);
            for k in 0..PUT_ITERS {
                let mut b = a.clone();
                b.departure = b.departure.map(|x| x + 1 + i64::from(k));
                let mut d = base.fork().with_actor(doc::actor_for(EDGE_NODE));
                let t = Instant::now();
                put(&mut d, black_box(&b));
                changed += t.elapsed();
                let mut d = base.fork().with_actor(doc::actor_for(EDGE_NODE));
                let t = Instant::now();
                put(&mut d, black_box(&a));
                same += t.elapsed();
            }
            (changed / PUT_ITERS, same / PUT_ITERS)
        }

        /// First sync of `docs` edge documents with an empty peer: total time,
        /// bytes and messages, every message encoded and decoded as on the wire.
        fn first_sync(docs: &mut [AutoCommit]) -> (Duration, u64, u64) {
            let (mut bytes, mut messages) = (0u64, 0u64);
            let t = Instant::now();
            for edge in docs.iter_mut() {
                let mut center = AutoCommit::new().with_actor(doc::actor_for("center-city"));
                let (mut se, mut sc) = (State::new(), State::new());
                let mut rounds = 0;
                loop {
                    let to_c = edge
                        .sync()
                        .generate_sync_message(&mut se)
                        .map(|m| m.encode());
                    let to_e = center
                        .sync()
                        .generate_sync_message(&mut sc)
                        .map(|m| m.encode());
                    if to_c.is_none() && to_e.is_none() {
                        break;
                    }
                    rounds += 1;
                    assert!(rounds < 64, "sync does not settle");
                    if let Some(m) = to_c {
                        bytes += m.len() as u64;
                        messages += 1;
                        let m = Message::decode(&m).expect("decode");
                        center
                            .sync()
                            .receive_sync_message(&mut sc, m)
                            .expect("apply");
                    }
                    if let Some(m) = to_e {
                        bytes += m.len() as u64;
                        messages += 1;
                        let m = Message::decode(&m).expect("decode");
                        edge.sync().receive_sync_message(&mut se, m).expect("apply");
                    }
                }
                assert_eq!(edge.get_heads(), center.get_heads(), "converged");
            }
            (t.elapsed(), bytes, messages)
        }

        /// Load + heads of every saved document, total.
        pub fn heads(saved: &[Vec<u8>]) -> Duration {
            let t = Instant::now();
            for bytes in saved {
                let mut d = load(black_box(bytes));
                black_box(d.get_heads());
            }
            t.elapsed()
        }

        /// The sorted heads of saved document bytes.
        pub fn heads_hex(bytes: &[u8]) -> Vec<String> {
            let mut h: Vec<String> = load(bytes)
                .get_heads()
                .iter()
                .map(|h| h.to_string())
                .collect();
            h.sort();
            h
        }

        /// Documents this release built and saved, for `heads`.
        pub fn saved(n: usize) -> Vec<Vec<u8>> {
            (0..n).map(|i| build(i).save()).collect()
        }

        fn size_after_edits() -> usize {
            let mut d = build(0);
            let mut a = activity_steps(0).pop().expect("steps");
            for k in 0..100 {
                edit(&mut a, k);
                put(&mut d, &a);
            }
            d.save().len()
        }

        /// One run of everything but the heads measurement (its documents are
        /// built once, outside the runs).
        pub fn run(fixture: &[u8], docs: usize) -> Figures {
            let load_save = load_save(fixture);
            let (put_changed, put_same) = puts(fixture);
            let mut edge_docs: Vec<AutoCommit> = (0..docs).map(build).collect();
            let (sync_total, sync_bytes, sync_messages) = first_sync(&mut edge_docs);
            Figures {
                load_save,
                put_changed,
                put_same,
                sync_total,
                sync_bytes,
                sync_messages,
                size_after_edits: size_after_edits(),
                ..Figures::default()
            }
        }
    };
}

mod v07 {
    use automerge07 as am;
    use jilu_tests::doc07 as doc;
    suite!();
}

mod v12 {
    use jilu_common::automerge as am;
    use jilu_common::doc;
    suite!();
}

struct Args {
    runs: usize,
    docs: usize,
    heads_docs: usize,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        runs: 5,
        docs: 1_000,
        heads_docs: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--runs" => &mut a.runs,
            "--docs" => &mut a.docs,
            "--heads-docs" => &mut a.heads_docs,
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown option '{other}'\n{USAGE}"),
        };
        let value = it
            .next()
            .ok_or_else(|| anyhow!("{flag} needs a number\n{USAGE}"))?;
        *slot = value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow!("{flag}: '{value}' is not a positive number"))?;
    }
    Ok(a)
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn row(what: &str, old: String, new: String, ratio: f64) {
    println!("| {what} | {old} | {new} | {ratio:.2} |");
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "building {} documents on each release for the heads measurement…",
        args.heads_docs
    );
    let saved07 = v07::saved(args.heads_docs);
    let saved12 = v12::saved(args.heads_docs);
    // the same commands must make the same changes on both releases
    let same = saved07
        .iter()
        .zip(&saved12)
        .filter(|(a, b)| {
            v07::heads_hex(a) == v12::heads_hex(b) && v12::heads_hex(a) == v12::heads_hex(b)
        })
        .count();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        eprintln!("run {}/{}", run + 1, args.runs);
        // alternate which release goes first, so neither always meets a warm cache
        let pair = |first_old: bool| {
            let run_old = || {
                let mut f = v07::run(FIXTURE_ACTIVITY, args.docs);
                f.heads_own = v07::heads(&saved07);
                f
            };
            let run_new = || {
                let mut f = v12::run(FIXTURE_ACTIVITY, args.docs);
                f.heads_own = v12::heads(&saved12);
                f.heads_of_07 = Some(v12::heads(&saved07));
                f
            };
            if first_old {
                let o = run_old();
                (o, run_new())
            } else {
                let n = run_new();
                (run_old(), n)
            }
        };
        let (o, n) = pair(run % 2 == 0);
        old.push(o);
        new.push(n);
    }
    let pick = |v: &[Figures], f: fn(&Figures) -> Duration| median(v.iter().map(f).collect());
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    println!(
        "automerge 0.7.4 vs 0.12.0: median of {} runs; {} documents synced, {} loaded for heads\n",
        args.runs, args.docs, args.heads_docs
    );
    println!("| measurement | 0.7.4 | 0.12.0 | ratio |");
    println!("|---|---|---|---|");
    let timed: [TimedRow; 5] = [
        (
            "load + save, typical activity (1,118 B)",
            |f| f.load_save,
            us,
        ),
        (
            "`doc::put` + commit, one field changed",
            |f| f.put_changed,
            us,
        ),
        ("`doc::put` + commit, unchanged record", |f| f.put_same, us),
        ("first sync, all documents, total", |f| f.sync_total, ms),
        ("load + heads, all documents, total", |f| f.heads_own, ms),
    ];
    for (what, f, show) in timed {
        let (a, b) = (pick(&old, f), pick(&new, f));
        row(what, show(a), show(b), ratio(a, b));
    }
    let a = pick(&old, |f| f.heads_own);
    let b = median(new.iter().filter_map(|f| f.heads_of_07).collect());
    row(
        "load + heads, documents saved by 0.7.4, total",
        ms(a),
        ms(b),
        ratio(a, b),
    );
    let (bo, bn) = (old[0].sync_bytes, new[0].sync_bytes);
    row(
        "first sync, bytes of sync messages",
        format!("{bo} B ({} messages)", old[0].sync_messages),
        format!("{bn} B ({} messages)", new[0].sync_messages),
        bn as f64 / bo as f64,
    );
    let (so, sn) = (old[0].size_after_edits, new[0].size_after_edits);
    row(
        "saved size after 100 edits",
        format!("{so} B"),
        format!("{sn} B"),
        sn as f64 / so as f64,
    );
    println!(
        "\ndocuments built by the same commands on both releases with identical heads: {same}/{}",
        saved07.len()
    );
    if same == saved07.len() {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: the releases made different changes from the same commands");
        ExitCode::FAILURE
    }
}
