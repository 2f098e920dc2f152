//! Preservation copies (art. 16): `center export` writes one of an activity's two
//! labelled copies as a BagIt bag with its ISO 9660 image (see the `jilu-bag`
//! crate), then records the copy as a custody event of every item it holds.
//!
//! The bag is written from a read-only view of the store, so exporting never holds
//! up a running center; the custody events are then recorded through the admin
//! socket (or straight into the store when the center is stopped), like decisions.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use jilu_bag::custody::{self, ItemLine};
use jilu_bag::{iso, BagWriter, Label};
use jilu_common::activity::Activity;
use jilu_common::audit::Action;
use jilu_common::hash::Hash;
use jilu_common::matter::{self, Matter};
use jilu_common::subject::Subject;
use jilu_common::{doc, time};
use jilu_store::journal::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::center::Center;

/// What to export, as the operator asked for it.
#[derive(Debug, Clone)]
pub struct Request {
    pub activity: String,
    /// the activity's county; when absent it is found from the activity id
    pub county: Option<String>,
    pub copy: u8,
    pub out: PathBuf,
    /// 制作单位
    pub unit: String,
    /// 制作人
    pub producer: String,
}

/// A finished copy, as recorded in the custody chain of every item it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Copy {
    pub by: String,
    pub county: String,
    pub activity: String,
    pub copy: u8,
    /// the item hashes the copy holds
    pub items: Vec<String>,
    pub bag: PathBuf,
    pub image: PathBuf,
    /// BLAKE3 of the bag's tag manifest: pins every file of the bag
    pub tag_blake3: String,
    /// BLAKE3 of the image file
    pub image_blake3: String,
}

/// The number of copies art. 16 asks for ("一式两份").
pub const COPIES: u8 = 2;

/// Finds the activity's document name: `activity/<county>/<id>`.
fn activity_doc(center: &Center, req: &Request) -> Result<String> {
    if let Some(c) = &req.county {
        return Ok(crate::center::activity_name(c, &req.activity)?.to_string());
    }
    let found: Vec<String> = center
        .journal
        .doc_names("activity/")?
        .into_iter()
        .filter(|n| n.rsplit('/').next() == Some(req.activity.as_str()))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no activity {} at the center (has its county's edge synced?)",
            req.activity
        ),
        _ => bail!(
            "activity id {} is used by more than one county ({}): name the county with --county",
            req.activity,
            found.join(", ")
        ),
    }
}

fn matter_name(center: &Center, id: &str) -> String {
    let from_doc = center
        .journal
        .load_doc(matter::CATALOGUE)
        .ok()
        .flatten()
        .and_then(|d| doc::get::<Matter>(&d, &["matters", id]).ok().flatten());
    from_doc
        .or_else(|| matter::annex().into_iter().find(|m| m.id == id))
        .map(|m| format!("{} {}", m.category, m.matter))
        .unwrap_or_else(|| format!("事项 {id}"))
}

/// A file name for an item inside the bag: its original name, made unique.
fn payload_name(original: &str, hash: &str, taken: &mut BTreeSet<String>) -> String {
    let base: String = Path::new(original)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| hash.to_string());
    let name = if taken.contains(&base) {
        format!("{}-{base}", &hash[..12])
    } else {
        base
    };
    taken.insert(name.clone());
    format!("footage/{name}")
}

/// Writes the bag and its image. Does not record anything: see [`record`].
pub fn write(center: &Center, req: &Request) -> Result<Copy> {
    if !(1..=COPIES).contains(&req.copy) {
        bail!(
            "--copy must be 1 or 2 (art. 16 asks for two copies), not {}",
            req.copy
        );
    }
    let image = iso_path(&req.out);
    if image.exists() {
        bail!(
            "{} already exists: choose a new --out for this copy",
            image.display()
        );
    }
    let name = activity_doc(center, req)?;
    let county = name.split('/').nth(1).unwrap_or_default().to_string();
    let d = center.journal.load_doc(&name)?.ok_or_else(|| {
        anyhow!(
            "no activity {} at the center (has its county's edge synced?)",
            req.activity
        )
    })?;
    let activity: Activity =
        doc::get(&d, &["activity"])?.ok_or_else(|| anyhow!("document {name} holds no activity"))?;
    if activity.items.is_empty() {
        bail!("activity {} has no recordings to preserve", activity.id);
    }
    // every item must be verified here before a copy of it is made
    let mut items = Vec::new();
    for h in &activity.items {
        let hash: Hash = *h;
        let rec = center.item(hash.as_bytes())?.ok_or_else(|| {
            anyhow!(
                "item {h} of activity {} is not verified at the center yet: sync its edge first",
                activity.id
            )
        })?;
        items.push((hash, rec));
    }
    let mut bag = BagWriter::create(&req.out)?;
    let mut taken = BTreeSet::new();
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for (hash, rec) in &items {
        let hex = rec.item.hash.to_hex();
        let file = payload_name(&rec.item.original_name, &hex, &mut taken);
        let path = center.blobs.path(hash.as_bytes());
        let src = File::open(&path)
            .with_context(|| format!("cannot read the blob {}", path.display()))?;
        let got = bag.add(&file, src)?;
        if got.blake3 != hex || got.len != rec.item.size {
            bail!(
                "the center's blob of {} does not hash to its name: the copy is not made; run a verify of the blob store",
                rec.item.hash
            );
        }
        lines.push(ItemLine {
            hash: hex,
            size: rec.item.size,
            file,
        });
        for e in center.journal.custody(hash.as_bytes())? {
            events.push(serde_json::to_value(&e)?);
        }
    }
    let record = serde_json::to_vec_pretty(&activity)?;
    bag.add("activity.json", &record[..])?;
    let produced = now_ms();
    let label = Label {
        unit: req.unit.clone(),
        producer: req.producer.clone(),
        produced_at: time::format(produced),
        name: format!(
            "{} {}",
            matter_name(center, &activity.matter),
            activity.place
        ),
        number: activity.id.clone(),
        copy: req.copy,
        copies: COPIES,
    };
    bag.add("label.txt", label.render().as_bytes())?;
    bag.add("custody.jsonl", custody::render(&lines, &events).as_bytes())?;
    let done = bag.finish(&[
        ("Source-Organization", req.unit.clone()),
        ("Bagging-Date", time::format(produced)[..10].to_string()),
        ("External-Identifier", name.clone()),
        (
            "Bag-Software-Agent",
            format!("Jilu {}", env!("CARGO_PKG_VERSION")),
        ),
        ("Jilu-Copy", format!("{}/{COPIES}", req.copy)),
    ])?;
    iso::write(
        &done.dir,
        &image,
        &iso::volume_id(&activity.id, req.copy),
        produced / 1000,
    )?;
    let image_blake3 = jilu_bag::digest::of_file(&image)
        .with_context(|| format!("cannot read back {}", image.display()))?
        .blake3;
    Ok(Copy {
        by: req.producer.clone(),
        county,
        activity: activity.id.clone(),
        copy: req.copy,
        items: lines.into_iter().map(|l| l.hash).collect(),
        bag: done.dir,
        image,
        tag_blake3: done.tag_blake3,
        image_blake3,
    })
}

/// The image beside the bag: `<out>.iso`.
pub fn iso_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".iso");
    PathBuf::from(s)
}

/// Records a finished copy as a custody event of every item it holds.
pub fn record(center: &Center, c: &Copy) -> Result<String> {
    let mut hashes = Vec::new();
    for h in &c.items {
        let hash: Hash = h
            .parse()
            .map_err(|_| anyhow!("'{h}' is not an item hash"))?;
        hashes.push(*hash.as_bytes());
    }
    let mut tx = center.journal.begin();
    tx.audit(
        c.by.as_str(),
        Action::Export,
        Subject::Activity(c.activity.clone()),
        json!({
            "preservation_copy": c.copy,
            "of": COPIES,
            "county": c.county,
            "bag": c.bag,
            "image": c.image,
            "tag_blake3": c.tag_blake3,
            "image_blake3": c.image_blake3,
        }),
        &hashes,
    )?;
    tx.commit()?;
    Ok(format!(
        "copy {}/{COPIES} of {} written: {} ({} items) and {}",
        c.copy,
        c.activity,
        c.bag.display(),
        c.items.len(),
        c.image.display()
    ))
}
