//! Classification decisions (art. 14): a supervisor sets an activity's class in
//! its merged document, so it reaches the county's edge at the next sync, as
//! holds and approvals do. Every item also has its own class, kept in its
//! county's registry document (`item_classes/<hash>`), which reaches the edge
//! the same way; an item's effective class is the stricter of its own and its
//! activity's ([`jilu_common::access::effective`]).

use anyhow::{anyhow, Result};
use jilu_common::access::{Class, ItemClass};
use jilu_common::activity::Activity;
use jilu_common::audit::Action;
use jilu_common::subject::Subject;
use serde_json::json;

use crate::center::Center;

impl Center {
    pub fn set_classification(
        &self,
        actor: &str,
        county: &str,
        activity: &str,
        class: Class,
    ) -> Result<Activity> {
        let name = crate::center::activity_name(county, activity)?;
        self.edit_activity(actor, name.as_str(), Action::ClassificationSet, |a| {
            let before = a.classification.clone();
            a.classification = (class != Class::Ordinary).then(|| class.as_str().to_string());
            Ok(json!({"class": class, "before": before}))
        })
    }

    /// Sets an item's own class in its county's registry document.
    pub fn set_item_classification(
        &self,
        actor: &str,
        hash: &[u8; 32],
        class: Class,
    ) -> Result<ItemClass> {
        let hex = blake3::Hash::from_bytes(*hash).to_hex().to_string();
        let rec = self
            .item(hash)?
            .ok_or_else(|| anyhow!("the center holds no item {hex}"))?;
        let name = format!("registry/{}", rec.item.county);
        let mut d = self.journal.load_doc(&name)?.ok_or_else(|| {
            anyhow!("no document {name} at the center (has the county's edge synced?)")
        })?;
        let before: Option<ItemClass> = jilu_common::doc::get(&d, &["item_classes", &hex])?;
        let set = ItemClass {
            class: class.as_str().to_string(),
            by: actor.to_string(),
            at: jilu_store::journal::now_ms(),
        };
        jilu_common::doc::put(&mut d, &["item_classes", &hex], &set)?;
        let mut tx = self.journal.begin();
        tx.put_doc(&name, &mut d)?;
        crate::projection::on_doc(self, &mut tx, &name, &d)?;
        crate::delivery::record(
            self,
            &mut tx,
            (&name, &hex),
            Action::ClassificationSet,
            actor,
            &mut d,
        )?;
        tx.audit(
            actor,
            Action::ClassificationSet,
            Subject::Item((*hash).into()),
            json!({"class": class, "before": before.map(|b| b.class), "doc": name}),
            &[*hash],
        )?;
        tx.commit()?;
        Ok(set)
    }
}
