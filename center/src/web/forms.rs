//! The decisions as forms: the head approves or returns an interruption record
//! (art. 12); a supervisor sets a hold (art. 16) or a classification (art. 14).
//! Each goes through the API's decision function (the same access decision and
//! the same [`crate::center::Center`] method), after the CSRF and Origin checks
//! of [`super::WebCall::form`], and returns to the activity's page.

use axum::extract::Path;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::WebCall;
use crate::http::decisions;

fn back(county: &str, id: &str) -> String {
    format!(
        "/web/activities/{}/{}",
        super::encode(county),
        super::encode(id)
    )
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    csrf: Option<String>,
    approve: String,
    #[serde(default)]
    note: String,
}

pub async fn interruption(
    call: WebCall,
    Path((county, id, interruption)): Path<(String, String, String)>,
    Form(f): Form<Decision>,
) -> Response {
    call.form(f.csrf, move |c, who| {
        let note = Some(f.note.trim().to_string()).filter(|n| !n.is_empty());
        decisions::decide_interruption(
            c,
            who,
            (&county, &id, &interruption),
            f.approve == "true",
            note,
        )?;
        Ok(back(&county, &id))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct HoldForm {
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
}

pub async fn hold(
    call: WebCall,
    Path((county, id)): Path<(String, String)>,
    Form(f): Form<HoldForm>,
) -> Response {
    call.form(f.csrf, move |c, who| {
        decisions::set_hold(c, who, &county, &id, &f.reason)?;
        Ok(back(&county, &id))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct ClassForm {
    csrf: Option<String>,
    #[serde(default)]
    class: String,
}

pub async fn classification(
    call: WebCall,
    Path((county, id)): Path<(String, String)>,
    Form(f): Form<ClassForm>,
) -> Response {
    call.form(f.csrf, move |c, who| {
        decisions::set_classification(c, who, &county, &id, &f.class)?;
        Ok(back(&county, &id))
    })
    .await
}
