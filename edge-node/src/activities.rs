//! Enforcement activities (art. 8–12): one Automerge document each, named
//! `activity/<county>/<id>`, holding the activity with its notice, annotations,
//! interruption records and linked items.

use anyhow::{anyhow, bail, Result};
use jilu_common::activity::{
    Activity, Annotation, Approval, ApprovalState, Interruption, InterruptionReason, Notice,
};
use jilu_common::audit::Action;
use jilu_common::doc;
use jilu_common::doc_name::DocName;
use jilu_common::hash::Hash;
use jilu_common::subject::Actor;
use jilu_common::subject::Subject;
use jilu_common::time::{self, Millis};
use serde_json::json;

use crate::edge::{now_ms, Edge, ItemTx};

/// The document of activity `id` of `county`; an id that breaks the id rule is
/// named in the error.
pub fn activity_doc(county: &str, id: &str) -> Result<DocName> {
    DocName::activity(county, id).map_err(|e| anyhow!("activity {id}: {e}"))
}

/// What `activity new` is given.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub id: Option<String>,
    pub matter: String,
    pub place: String,
    pub officers: Vec<String>,
    pub arrival: Millis,
    pub departure: Option<Millis>,
    pub remote: bool,
}

/// Fields `activity set` may change.
#[derive(Debug, Clone, Default)]
pub struct ActivityChange {
    pub place: Option<String>,
    pub arrival: Option<Millis>,
    pub departure: Option<Millis>,
    pub remote: Option<bool>,
}

/// What `activity interruption` is given.
#[derive(Debug, Clone)]
pub struct NewInterruption {
    pub reason: InterruptionReason,
    pub basis: String,
    pub from: Millis,
    pub to: Millis,
    pub by: String,
}

impl Edge {
    pub fn activities(&self) -> Result<Vec<Activity>> {
        let mut out = Vec::new();
        for name in self.doc_names(&DocName::activity_prefix(&self.cfg.county))? {
            if let Some(d) = self.load_doc(&name)? {
                if let Some(a) = doc::get::<Activity>(&d, &["activity"])? {
                    out.push(a);
                }
            }
        }
        out.sort_by_key(|a| a.arrival);
        Ok(out)
    }

    pub fn activity(&self, id: &str) -> Result<Activity> {
        let name = activity_doc(&self.cfg.county, id)?;
        let d = self
            .load_doc(&name)?
            .ok_or_else(|| anyhow!("unknown activity '{id}' (see `edge-node activity list`)"))?;
        doc::get(&d, &["activity"])?
            .ok_or_else(|| anyhow!("activity document {name} holds no activity"))
    }

    pub fn new_activity(&self, actor: &Actor, req: NewActivity) -> Result<Activity> {
        self.matter(&req.matter)?;
        if req.officers.is_empty() {
            bail!("an activity needs at least one officer (--officer BADGE)");
        }
        for badge in &req.officers {
            self.officer(badge)?;
        }
        if req.place.trim().is_empty() {
            bail!("an activity needs its place (--place)");
        }
        check_times(req.arrival, req.departure)?;
        let mut tx = self.begin();
        let id = match req.id {
            Some(id) => id,
            None => format!("A-{}-{}", self.cfg.county, tx.next_counter("activity")?),
        };
        jilu_common::id::check("activity id", &id)?;
        let name = activity_doc(&self.cfg.county, &id)?;
        if self.load_doc(&name)?.is_some() {
            bail!("activity '{id}' already exists");
        }
        let activity = Activity {
            id: id.clone(),
            matter: req.matter,
            place: req.place,
            officers: req.officers,
            arrival: req.arrival,
            departure: req.departure,
            remote: req.remote,
            notice: None,
            annotations: vec![],
            interruptions: vec![],
            items: vec![],
            hold: None,
            classification: None,
        };
        let mut d = self.load_or_create_doc(&name)?;
        doc::put(&mut d, &["activity"], &activity)?;
        tx.put_doc(&name, &mut d)?;
        tx.audit(
            actor,
            Action::ActivityCreated,
            Subject::Activity(id.to_string()),
            serde_json::to_value(&activity)?,
            &[],
        )?;
        tx.commit()?;
        Ok(activity)
    }

    /// Loads, changes and saves an activity with an audit entry describing the change.
    fn edit_activity<F>(
        &self,
        actor: &Actor,
        id: &str,
        action: Action,
        items: &[[u8; 32]],
        f: F,
    ) -> Result<Activity>
    where
        F: FnOnce(&mut Activity) -> Result<serde_json::Value>,
    {
        let name = activity_doc(&self.cfg.county, id)?;
        let mut d = self
            .load_doc(&name)?
            .ok_or_else(|| anyhow!("unknown activity '{id}' (see `edge-node activity list`)"))?;
        let mut a: Activity = doc::get(&d, &["activity"])?
            .ok_or_else(|| anyhow!("activity document {name} holds no activity"))?;
        let detail = f(&mut a)?;
        doc::put(&mut d, &["activity"], &a)?;
        let mut tx = self.begin();
        tx.put_doc(&name, &mut d)?;
        tx.audit(
            actor,
            action,
            Subject::Activity(id.to_string()),
            detail,
            items,
        )?;
        tx.commit()?;
        Ok(a)
    }

    pub fn change_activity(
        &self,
        actor: &Actor,
        id: &str,
        change: ActivityChange,
    ) -> Result<Activity> {
        self.edit_activity(actor, id, Action::ActivityEdited, &[], |a| {
            let before = json!({"place": a.place, "arrival": a.arrival, "departure": a.departure, "remote": a.remote});
            if let Some(p) = change.place {
                a.place = p;
            }
            if let Some(t) = change.arrival {
                a.arrival = t;
            }
            if let Some(t) = change.departure {
                a.departure = Some(t);
            }
            if let Some(r) = change.remote {
                a.remote = r;
            }
            check_times(a.arrival, a.departure)?;
            Ok(json!({"before": before, "after": {"place": a.place, "arrival": a.arrival, "departure": a.departure, "remote": a.remote}}))
        })
    }

    pub fn give_notice(&self, actor: &Actor, id: &str, notice: Notice) -> Result<Activity> {
        self.edit_activity(actor, id, Action::ActivityEdited, &[], |a| {
            let detail = json!({"notice": notice});
            a.notice = Some(notice);
            Ok(detail)
        })
    }

    /// Adds an annotation. An item given by a prefix is stored as the full hash it
    /// names (an ambiguous prefix is refused), so the record stays meaningful when
    /// more items arrive.
    pub fn annotate(&self, actor: &Actor, id: &str, annotation: Annotation) -> Result<Activity> {
        if annotation.text.trim().is_empty() {
            bail!("an annotation needs its text (--text)");
        }
        let items = match annotation.item {
            Some(h) => {
                if self.item(h.as_bytes())?.is_none() {
                    bail!("no item with hash {h} at this node (see `edge-node items`)");
                }
                vec![*h.as_bytes()]
            }
            None => vec![],
        };
        self.edit_activity(actor, id, Action::ActivityEdited, &items, |a| {
            let detail = json!({"annotation": annotation});
            a.annotations.push(annotation);
            Ok(detail)
        })
    }

    /// Files an interruption record (art. 12). It is written after the activity, so
    /// the activity's departure must be set; approval comes later from the center.
    pub fn file_interruption(
        &self,
        actor: &Actor,
        id: &str,
        req: NewInterruption,
    ) -> Result<Interruption> {
        self.officer(&req.by)?;
        if req.basis.trim().is_empty() {
            bail!("an interruption record must state the reason and basis (--basis)");
        }
        if req.to <= req.from {
            bail!(
                "interruption ends ({}) before it starts ({})",
                time::format(req.to),
                time::format(req.from)
            );
        }
        let mut filed = None;
        self.edit_activity(actor, id, Action::InterruptionFiled, &[], |a| {
            let Some(departure) = a.departure else {
                bail!("interruption records are written after the activity (art. 12): set its departure first with `edge-node activity set {id} --departure TIME`");
            };
            if req.from < a.arrival || req.to > departure {
                bail!(
                    "the interruption {}..{} lies outside the activity ({}..{})",
                    time::format(req.from),
                    time::format(req.to),
                    time::format(a.arrival),
                    time::format(departure)
                );
            }
            let record = Interruption {
                id: format!("I{}", a.interruptions.len() + 1),
                reason: req.reason,
                basis: req.basis,
                from: req.from,
                to: req.to,
                written_at: now_ms(),
                written_by: req.by,
                approval: Approval { state: ApprovalState::Pending, by: None, at: None, note: None },
            };
            a.interruptions.push(record.clone());
            let detail = serde_json::to_value(&record)?;
            filed = Some(record);
            Ok(detail)
        })?;
        filed.ok_or_else(|| anyhow!("interruption was not filed"))
    }

    /// Links items to an activity (art. 5, 11), updating both sides.
    pub fn link_items(&self, actor: &Actor, id: &str, hashes: &[String]) -> Result<Activity> {
        let mut records = Vec::new();
        for h in hashes {
            let rec = self.resolve_item(h)?;
            if let Some(other) = rec.item.activity.as_deref().filter(|o| *o != id) {
                bail!(
                    "item {} is already linked to activity {other}",
                    rec.item.hash.short()
                );
            }
            records.push(rec);
        }
        self.activity(id)?;
        let keys: Vec<[u8; 32]> = records.iter().map(|r| *r.item.hash.as_bytes()).collect();
        let name = activity_doc(&self.cfg.county, id)?;
        let mut d = self
            .load_doc(&name)?
            .ok_or_else(|| anyhow!("unknown activity '{id}'"))?;
        let mut a: Activity = doc::get(&d, &["activity"])?
            .ok_or_else(|| anyhow!("activity document {name} holds no activity"))?;
        let mut tx = self.begin();
        for rec in &mut records {
            if !a.items.contains(&rec.item.hash) {
                a.items.push(rec.item.hash);
            }
            rec.item.activity = Some(id.to_string());
            tx.put_item(rec)?;
        }
        doc::put(&mut d, &["activity"], &a)?;
        tx.put_doc(&name, &mut d)?;
        let linked: Vec<Hash> = records.iter().map(|r| r.item.hash).collect();
        tx.audit(
            actor,
            Action::ItemLinked,
            Subject::Activity(id.to_string()),
            json!({"items": linked}),
            &keys,
        )?;
        tx.commit()?;
        Ok(a)
    }
}

fn check_times(arrival: Millis, departure: Option<Millis>) -> Result<()> {
    if let Some(d) = departure {
        if d < arrival {
            bail!(
                "departure ({}) is before arrival ({})",
                time::format(d),
                time::format(arrival)
            );
        }
    }
    Ok(())
}
