//! A keeper's annotation of an activity of the own county (art. 10: what the
//! record shows), written into the merged activity document so it reaches the
//! county's edge at its next sync, as holds and approvals do.

use anyhow::{anyhow, bail, Result};
use jilu_common::activity::{Activity, Annotation, AnnotationKind};
use jilu_common::audit::Action;
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
        if let Some(h) = &new.item {
            let key = crate::http::records::hex32(h)
                .ok_or_else(|| anyhow!("item {h:?} is not an item hash (64 hex digits)"))?;
            match self.item(&key)? {
                Some(rec) if rec.item.county == county => {}
                _ => bail!("the center holds no item {h} of county {county}"),
            }
        }
        let annotation = Annotation {
            kind: new.kind,
            text: new.text,
            item: new.item,
            at: new.at,
            by: actor.to_string(),
        };
        let name = format!("activity/{county}/{activity}");
        self.edit_activity(actor, &name, Action::ActivityEdited, |a| {
            let detail = json!({"annotation": annotation});
            a.annotations.push(annotation);
            Ok(detail)
        })
    }
}
