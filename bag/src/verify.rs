//! Checks a preservation copy offline, with no Jilu database and no network: a bag
//! folder, or an ISO image of one (read with `xorriso`). Every payload file against
//! every manifest, the tag manifests, the Payload-Oxum, the label's fields, and the
//! custody chain's links and items. Every mismatch is reported, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::custody;
use crate::digest::{self, Algorithm, Digests};
use crate::iso;
use crate::label::Label;
use crate::manifest;

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// payload files checked against the manifests
    pub files: usize,
    pub bytes: u64,
    /// items the custody chain names, and its lines
    pub items: usize,
    pub custody_lines: usize,
    pub label: Option<Label>,
    /// every mismatch, one sentence each, naming the file
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the bag at `path` (a folder, or a `.iso` image of one).
pub fn verify(path: &Path) -> Result<Report> {
    if path.is_file() {
        let tmp = tempfile::tempdir().context("cannot make a folder to read the image into")?;
        let dir = tmp.path().join("bag");
        iso::extract(path, &dir)?;
        let mut report = verify_dir(&dir)?;
        if let Err(e) = iso::check_md5(path) {
            report.problems.push(format!("{e:#}"));
        }
        return Ok(report);
    }
    verify_dir(path)
}

fn verify_dir(bag: &Path) -> Result<Report> {
    let mut r = Report::default();
    if !bag.is_dir() {
        anyhow::bail!(
            "{} is neither a bag folder nor an image file",
            bag.display()
        );
    }
    match fs::read_to_string(bag.join("bagit.txt")) {
        Ok(t) if t.lines().any(|l| l.trim() == "BagIt-Version: 1.0") => {}
        Ok(_) => r
            .problems
            .push("bagit.txt does not declare BagIt-Version: 1.0".into()),
        Err(_) => r
            .problems
            .push("bagit.txt is missing: this is not a bag".into()),
    }
    // every payload file, digested once for all three manifests
    let mut found = BTreeMap::new();
    walk(bag, &bag.join("data"), &mut found, &mut r.problems)?;
    r.files = found.len();
    r.bytes = found.values().map(|d: &Digests| d.len).sum();
    for a in Algorithm::ALL {
        let name = format!("manifest-{}.txt", a.name());
        check_manifest(bag, &name, a, &found, true, &mut r.problems);
    }
    // the tag files, against the tag manifests
    let mut tags = BTreeMap::new();
    for entry in fs::read_dir(bag).with_context(|| format!("cannot read {}", bag.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && !name.starts_with("tagmanifest-") {
            tags.insert(name, digest::of_file(&entry.path())?);
        }
    }
    for a in Algorithm::ALL {
        let name = format!("tagmanifest-{}.txt", a.name());
        check_manifest(bag, &name, a, &tags, false, &mut r.problems);
    }
    let oxum = check_oxum(bag, &r);
    r.problems.extend(oxum);
    check_label(bag, &mut r);
    check_custody(bag, &found, &mut r);
    Ok(r)
}

/// Collects `data/`'s files (relative to the bag) with their digests.
fn walk(
    bag: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Digests>,
    problems: &mut Vec<String>,
) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) if dir == bag.join("data") => {
            problems.push("data/ is missing: the bag holds no payload".into());
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let path: PathBuf = entry?.path();
        if path.is_dir() {
            walk(bag, &path, out, problems)?;
        } else {
            let rel = path
                .strip_prefix(bag)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.insert(
                rel,
                digest::of_file(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
        }
    }
    Ok(())
}

/// Compares one manifest with the files found. A payload manifest must list every
/// payload file; a tag manifest must list at least bagit.txt, bag-info.txt and the
/// payload manifests.
fn check_manifest(
    bag: &Path,
    name: &str,
    a: Algorithm,
    found: &BTreeMap<String, Digests>,
    payload: bool,
    problems: &mut Vec<String>,
) {
    let text = match fs::read_to_string(bag.join(name)) {
        Ok(t) => t,
        Err(_) => {
            problems.push(format!("{name} is missing"));
            return;
        }
    };
    let listed = match manifest::parse(&text) {
        Ok(l) => l,
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            return;
        }
    };
    for (path, want) in &listed {
        match found.get(path) {
            Some(d) if d.get(a) == want => {}
            Some(_) => problems.push(format!("{path}: its {} does not match {name}", a.name())),
            None => problems.push(format!("{path}: listed in {name} but not in the bag")),
        }
    }
    let must: BTreeSet<String> = if payload {
        found.keys().cloned().collect()
    } else {
        ["bagit.txt", "bag-info.txt"]
            .into_iter()
            .map(String::from)
            .chain(
                Algorithm::ALL
                    .iter()
                    .map(|a| format!("manifest-{}.txt", a.name())),
            )
            .collect()
    };
    for path in must {
        if !listed.contains_key(&path) {
            problems.push(format!("{path}: in the bag but not listed in {name}"));
        }
    }
}

fn check_oxum(bag: &Path, r: &Report) -> Vec<String> {
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap_or_default();
    match info.lines().find_map(|l| l.strip_prefix("Payload-Oxum:")) {
        Some(v) if v.trim() == format!("{}.{}", r.bytes, r.files) => vec![],
        Some(v) => vec![format!(
            "bag-info.txt: Payload-Oxum {} but the payload is {}.{}",
            v.trim(),
            r.bytes,
            r.files
        )],
        None => vec!["bag-info.txt has no Payload-Oxum".into()],
    }
}

fn check_label(bag: &Path, r: &mut Report) {
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap_or_default();
    match fs::read_to_string(bag.join("data/label.txt")) {
        Err(_) => r
            .problems
            .push("data/label.txt is missing: the copy has no label".into()),
        Ok(t) => match Label::parse(&t) {
            Err(e) => r.problems.push(format!("data/label.txt: {e}")),
            Ok(l) => {
                let copy = format!("{}/{}", l.copy, l.copies);
                if !info
                    .lines()
                    .any(|x| x.strip_prefix("Jilu-Copy:").map(str::trim) == Some(copy.as_str()))
                {
                    r.problems.push(format!(
                        "data/label.txt: copy {copy} is not the copy bag-info.txt names"
                    ));
                }
                r.label = Some(l);
            }
        },
    }
}

fn check_custody(bag: &Path, found: &BTreeMap<String, Digests>, r: &mut Report) {
    let text = match fs::read_to_string(bag.join("data/custody.jsonl")) {
        Ok(t) => t,
        Err(_) => {
            r.problems
                .push("data/custody.jsonl is missing: the copy has no custody chain".into());
            return;
        }
    };
    match custody::check(&text) {
        Err(e) => r.problems.push(format!("data/custody.jsonl: {e}")),
        Ok((items, lines)) => {
            r.items = items.len();
            r.custody_lines = lines;
            for item in items {
                let rel = format!("data/{}", item.file);
                match found.get(&rel) {
                    None => r.problems.push(format!(
                        "{rel}: named by the custody chain but not in the bag"
                    )),
                    Some(d) if d.blake3 != item.hash || d.len != item.size => {
                        r.problems.push(format!(
                            "{rel}: its BLAKE3 or size is not the item {} the custody chain names",
                            item.hash
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
}
