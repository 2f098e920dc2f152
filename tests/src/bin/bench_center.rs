//! `jilu-bench-center`: loads a center through its real merge path (activity
//! documents as an edge's Automerge sync messages into `Center::sync_doc`, items
//! as offers, chunks and `Center::complete`, each in its own synced RocksDB
//! change with the projections in the same batch), then serves the API on
//! loopback and prints p50/p99 over repeated requests, the time to rebuild the
//! projections (`center reindex`) and the process's RSS.
//!
//! `--items N --activities A --counties C` set the scale (the issue's figures are
//! `--items 1000000 --activities 200000 --counties 100`; the default is a
//! fiftieth of that). Items are small (one chunk): the bench measures the index,
//! not the disk.
//!
//! `--fan-in N` runs the other part instead: N edges syncing at once to a real
//! `center run` over QUIC ([`fan_in`]).

#[path = "bench_center/fan_in.rs"]
mod fan_in;

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use automerge::sync::{Message, State, SyncDoc};
use center::center::{Center, OfferOutcome};
use center::config::CenterConfig;
use jilu_certs::{Identity, Role};
use jilu_common::activity::Activity;
use jilu_common::chunk_tree::TreeHasher;
use jilu_common::doc;
use jilu_common::item::Item;
use jilu_common::media::{MediaKind, TimeSource};
use jilu_common::wire::Offer;
use jilu_store::db::Mode;

fn arg(args: &[String], name: &str, default: usize) -> Result<usize> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("{name} needs a number")),
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn sync_activity(center: &Center, peer: &Identity, name: &str, a: &Activity) -> Result<()> {
    let mut d = doc::new_document(doc::actor_for(&peer.node))?;
    doc::put(&mut d, &["activity"], a)?;
    d.commit();
    let mut state = State::new();
    for _ in 0..6 {
        let Some(msg) = d.sync().generate_sync_message(&mut state) else {
            return Ok(());
        };
        if let Some(reply) = center.sync_doc(peer, name, Some(&msg.encode()))? {
            d.sync()
                .receive_sync_message(&mut state, Message::decode(&reply)?)?;
        }
    }
    Ok(())
}

fn send_item(center: &Center, peer: &Identity, item: &mut Item, n: usize) -> Result<()> {
    let data = format!("jilu bench item {n} of {}", peer.node).into_bytes();
    let mut t = TreeHasher::new();
    t.push(&data, data.len() as u64);
    let (hash, cvs) = t.finish();
    item.hash = hash.into();
    item.size = data.len() as u64;
    let offer = Offer {
        hash: *hash.as_bytes(),
        size: item.size,
        cvs,
        item: item.clone(),
    };
    match center.offer(peer, &offer)? {
        OfferOutcome::Verified { .. } => Ok(()),
        OfferOutcome::Receive(mut r) => {
            center
                .blobs
                .write_chunk(&offer.hash, &peer.node, 0, &data)?;
            r.mark_durable(0);
            center.complete(peer, &r, &offer)?;
            Ok(())
        }
        // every bench item's bytes name their node: no other node holds them
        OfferOutcome::Prove { .. } => {
            anyhow::bail!("item {n} of {} was asked for a proof", peer.node)
        }
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--fan-in") {
        return fan_in::run(fan_in::Plan {
            edges: arg(&args, "--fan-in", 100)?.max(1),
            docs: arg(&args, "--docs", 20)?,
            items: arg(&args, "--edge-items", 2)?,
            item_size: arg(&args, "--item-size", 8 << 20)?,
            stall_secs: arg(&args, "--stall", 600)? as u64,
        });
    }
    let items = arg(&args, "--items", 20_000)?;
    let activities = arg(&args, "--activities", 4_000)?.max(1);
    let counties = arg(&args, "--counties", 20)?.max(1);
    let reps = arg(&args, "--requests", 200)?;
    let tmp = tempfile::tempdir()?;
    let http = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let cfg_text = format!(
        "node = \"center-bench\"\ndata_dir = \"{}\"\n[tls]\ncert = \"x\"\nkey = \"x\"\nca = \"x\"\ncrl = \"x\"\n[http]\nlisten = \"{http}\"\n[accounts]\nhash_memory_kib = 8\nhash_passes = 1\n",
        tmp.path().join("data").display()
    );
    let cfg_path = tmp.path().join("center.toml");
    std::fs::write(&cfg_path, cfg_text)?;
    let cfg = CenterConfig::load(&cfg_path)?;
    let center = std::sync::Arc::new(Center::open(cfg.clone(), Mode::ReadWrite)?);
    println!("jilu-bench-center: {items} items, {activities} activities, {counties} counties");

    let peers: Vec<Identity> = (0..counties)
        .map(|c| Identity::new(&format!("edge-41{c:04}"), &format!("41{c:04}"), Role::Edge))
        .collect::<std::result::Result<_, _>>()?;
    let day0 = 1_796_000_000_000i64;
    let started = Instant::now();
    for a in 0..activities {
        let peer = &peers[a % counties];
        let arrival = day0 + (a as i64) * 60_000;
        let act = Activity {
            id: format!("A-{a}"),
            matter: "1".into(),
            place: "现场".into(),
            officers: vec![format!("{}", 1000 + a % 500)],
            arrival,
            departure: Some(arrival + 1_800_000),
            remote: false,
            notice: None,
            annotations: vec![],
            interruptions: vec![],
            items: vec![],
            hold: None,
            classification: None,
        };
        sync_activity(
            &center,
            peer,
            &format!("activity/{}/A-{a}", peer.county),
            &act,
        )?;
    }
    let docs_s = started.elapsed().as_secs_f64();
    println!(
        "merged {activities} activity documents in {docs_s:.1} s ({:.0}/s)",
        activities as f64 / docs_s
    );
    let started = Instant::now();
    for n in 0..items {
        let a = n % activities;
        let peer = &peers[a % counties];
        let arrival = day0 + (a as i64) * 60_000;
        let mut item = Item {
            hash: jilu_common::hash::Hash::default(),
            size: 0,
            chunks: 1,
            kind: MediaKind::Video,
            container: "mp4".into(),
            original_name: format!("V{n}.MP4"),
            capture_start: arrival + (n / activities) as i64 * 300_000,
            duration_ms: Some(300_000),
            time_source: TimeSource::Mvhd,
            clock_offset_ms: 0,
            device: format!("cam-{}", n % 1000),
            officer: format!("{}", 1000 + a % 500),
            activity: Some(format!("A-{a}")),
            ingested_at: arrival + 3_600_000,
            period: "2026-11".into(),
            county: peer.county.clone(),
            node: peer.node.clone(),
        };
        send_item(&center, peer, &mut item, n)?;
    }
    let items_s = started.elapsed().as_secs_f64();
    println!(
        "verified {items} items in {items_s:.1} s ({:.0}/s)",
        items as f64 / items_s
    );

    let started = Instant::now();
    let fresh = center::projection::rebuild(&center)?;
    println!(
        "index rebuild (center reindex): {} entries in {:.2} s",
        fresh.len(),
        started.elapsed().as_secs_f64()
    );
    drop(fresh);

    center::accounts::Accounts(&center).add(
        "bench",
        "supervisor",
        jilu_common::access::Role::Supervisor,
        None,
        "bench password",
    )?;
    let (token, _) =
        center::accounts::Accounts(&center).issue_token("bench", "supervisor", Some(1.0))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cancel = tokio_util_cancel();
    let api = center::http::Api {
        center: center.clone(),
        metrics: Default::default(),
        web: Default::default(),
    };
    let http_cfg = cfg.http.clone().context("[http]")?;
    let (addr, _, _task) = rt.block_on(center::http::listener::start(&http_cfg, api, cancel))?;

    let county = &peers[0].county;
    let some_hash = {
        let page = jilu_tests::api::get(
            addr,
            &format!("/api/v1/items?county={county}&limit=1"),
            &token,
        )
        .json();
        page["items"][0]["hash"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // the 500th page of the county's list (limit 50): walk the cursors once
    let mut cursor = String::new();
    let mut pages = 0;
    while pages < 499 {
        let p = jilu_tests::api::get(
            addr,
            &format!("/api/v1/items?county={county}&limit=50{cursor}"),
            &token,
        )
        .json();
        match p["next"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
        pages += 1;
    }
    let to = day0 + (activities as i64) * 30_000;
    let cases: Vec<(&str, String)> = vec![
        (
            "findings of one county",
            format!("/api/v1/findings?county={county}"),
        ),
        (
            "county items, first page",
            format!("/api/v1/items?county={county}&limit=50"),
        ),
        (
            "county items, page 500",
            format!("/api/v1/items?county={county}&limit=50{cursor}"),
        ),
        ("item with custody", format!("/api/v1/items/{some_hash}")),
        (
            "search by hash prefix",
            format!(
                "/api/v1/items?hash={}",
                &some_hash[..8.min(some_hash.len())]
            ),
        ),
        (
            "search by officer",
            "/api/v1/items?officer=1007&limit=50".to_string(),
        ),
        (
            "search by date range",
            format!("/api/v1/items?from={day0}&to={to}&limit=50"),
        ),
    ];
    println!(
        "(the \"page 500\" row is page {} of the county's list: it has no more)",
        pages + 1
    );
    println!("{:<28} {:>9} {:>9}", "request", "p50 ms", "p99 ms");
    for (name, path) in cases {
        let mut ms = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            let r = jilu_tests::api::get(addr, &path, &token);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if r.status != 200 {
                return Err(anyhow!("{path}: status {}", r.status));
            }
        }
        let p50 = percentile(&mut ms, 0.5);
        let p99 = percentile(&mut ms, 0.99);
        println!(
            "{name:<28} {p50:>9.2} {p99:>9.2}{}",
            if p99 < 50.0 {
                ""
            } else {
                "  (over the 50 ms target)"
            }
        );
    }
    println!("RSS {:.0} MiB (target < 2048)", rss_mib());
    Ok(())
}

fn tokio_util_cancel() -> tokio_util::sync::CancellationToken {
    tokio_util::sync::CancellationToken::new()
}
