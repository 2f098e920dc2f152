//! A keeper's annotation of an activity of the own county (art. 10: what the
//! record shows), written into the merged activity document so it reaches the
//! county's edge at its next sync, as holds and approvals do.

use anyhow::{anyhow, bail, Result};
use jilu_common::activity::{Activity, Annotation, AnnotationKind};
use jilu_common::audit::Action;
use jilu_common::hash::Hash;
use serde_json::json;

use crate::center::Center;

/// What an annotation says; `item`, when given, is the full hash of an item of
/// the activity's county that the center holds.
#[derive(Debug, Clone)]
pub struct NewAnnotation {
    pub kind: AnnotationKind,
    pub text: String,
    pub item: Option<String>,
    pub at: Option<i64>,
}

impl Center {
    pub fn annotate(
        &self,
        actor: &str,
        county: &str,
        activity: &str,
        new: NewAnnotation,
    ) -> Result<Activity> {
        if new.text.trim().is_empty() {
            bail!("an annotation needs its text");
        }
        let item = match &new.item {
            Some(h) => {
                let hash: Hash = h
                    .parse()
                    .map_err(|_| anyhow!("item {h:?} is not an item hash (64 hex digits)"))?;
                match self.item(hash.as_bytes())? {
                    Some(rec) if rec.item.county == county => Some(hash),
                    _ => bail!("the center holds no item {h} of county {county}"),
                }
            }
            None => None,
        };
        let annotation = Annotation {
            kind: new.kind,
            text: new.text,
            item,
            at: new.at,
            by: actor.to_string(),
        };
        let name = crate::center::activity_name(county, activity)?;
        self.edit_activity(actor, name.as_str(), Action::ActivityEdited, |a| {
            let detail = json!({"annotation": annotation});
            a.annotations.push(annotation);
            Ok(detail)
        })
    }
}
