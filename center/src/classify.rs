//! Classification decisions (art. 14): a supervisor sets an activity's class in
//! its merged document, so it reaches the county's edge at the next sync, as
//! holds and approvals do. Its items inherit it.

use anyhow::Result;
use jilu_common::access::Class;
use jilu_common::activity::Activity;
use jilu_common::audit::Action;
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
}
