//! The office page's pages: each reads the running node's open store (no lock
//! taken from the node's work: RocksDB reads run beside its writes) and fills a
//! model of `jilu_web::office`.

use std::collections::HashMap;

use anyhow::Result;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use jilu_common::registry::DeviceStatus;
use jilu_common::time::{self, cst_day_start};
use jilu_web::office::{
    CheckoutForm, OfficeActivitiesPage, OfficeDockPage, OfficeFindingsPage, OfficePage,
    OfficeQueuePage,
};
use jilu_web::pages::Chrome;
use jilu_web::Template;

use super::{render, view, Call};
use crate::edge::now_ms;
use crate::service::Service;

impl Call {
    /// Builds a page for `nav` from the node on a blocking thread; an error of
    /// the store is an error page.
    pub async fn page<P: Template + Send + 'static>(
        self,
        status: StatusCode,
        nav: &'static str,
        f: impl FnOnce(&Service, Chrome) -> Result<P> + Send + 'static,
    ) -> Response {
        let chrome = self.chrome(nav);
        let service = self.office.service.clone();
        match tokio::task::spawn_blocking(move || f(&service, chrome)).await {
            Ok(Ok(p)) => render(status, &p),
            Ok(Err(e)) => self.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("error: {}", crate::cli::output::one_line(&e)),
            ),
            Err(e) => self.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// The devices page's model: devices out, and the form (refused: with its error).
pub fn office_page(
    s: &Service,
    c: Chrome,
    form: CheckoutForm,
    error: Option<String>,
    done: Option<String>,
) -> Result<OfficePage> {
    let edge = &s.edge;
    let mut out = Vec::new();
    let mut devices = Vec::new();
    for d in edge.devices()? {
        match d.status {
            DeviceStatus::CheckedOut => {
                if let Some(c) = edge.open_checkout(&d.id)? {
                    out.push(view::out_line(&c));
                }
            }
            DeviceStatus::Available => devices.push(d.id),
            DeviceStatus::Repair | DeviceStatus::Retired => {}
        }
    }
    let officers = edge
        .officers()?
        .into_iter()
        .map(|o| (o.badge, o.name))
        .collect();
    Ok(OfficePage {
        c,
        out,
        devices,
        officers,
        form,
        error,
        done,
    })
}

/// `GET /web/office[?done=CHECKOUT]`.
pub async fn devices(call: Call, Query(q): Query<HashMap<String, String>>) -> Response {
    let done = q.get("done").cloned();
    call.page(StatusCode::OK, "office", move |s, c| {
        let form = CheckoutForm {
            works: "yes".into(),
            device_clock: time::format(now_ms()),
            ..CheckoutForm::default()
        };
        office_page(s, c, form, None, done)
    })
    .await
}

/// `GET /web/office/activities`: today's (China Standard Time).
pub async fn activities(call: Call) -> Response {
    let lang = call.lang;
    call.page(StatusCode::OK, "office_activities", move |s, c| {
        let start = cst_day_start(now_ms());
        Ok(OfficeActivitiesPage {
            c,
            day: time::cst(start).get(..10).unwrap_or_default().to_string(),
            rows: view::today(lang, &s.edge.cfg.county, &s.edge.activities()?, start),
        })
    })
    .await
}

/// `GET /web/office/dock`.
pub async fn dock(call: Call) -> Response {
    call.page(StatusCode::OK, "office_dock", |s, c| {
        let snap = s.dock_snapshot();
        Ok(OfficeDockPage {
            c,
            watching: snap.is_some(),
            cameras: snap
                .iter()
                .flat_map(|d| d.cameras.iter().map(view::camera_line))
                .collect(),
        })
    })
    .await
}

/// `GET /web/office/queue`.
pub async fn queue(call: Call) -> Response {
    call.page(StatusCode::OK, "office_queue", |s, c| {
        let st = s.edge.status()?;
        let link = st
            .link
            .as_ref()
            .map(|l| {
                format!(
                    "{} {}{}",
                    l.state,
                    time::cst(l.since),
                    l.last_error
                        .as_ref()
                        .map(|e| format!(" · {e}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        Ok(OfficeQueuePage {
            c,
            edge: view::edge_line(&st),
            oldest: st
                .oldest_waiting
                .map(time::cst)
                .unwrap_or_else(|| "—".into()),
            center_configured: st.center_configured,
            link,
            refused: st.refused.clone(),
            corrupt: st.locally_corrupt.clone(),
        })
    })
    .await
}

/// `GET /web/office/findings`: the findings of `edge-node status`.
pub async fn findings(call: Call) -> Response {
    let lang = call.lang;
    call.page(StatusCode::OK, "office_findings", move |s, c| {
        let st = s.edge.status()?;
        let officers: HashMap<String, String> = s
            .edge
            .activities()?
            .into_iter()
            .map(|a| (a.id, a.officers.join(", ")))
            .collect();
        Ok(OfficeFindingsPage {
            c,
            rows: st
                .findings
                .iter()
                .map(|f| view::finding_line(lang, &st.county, f, &officers))
                .collect(),
        })
    })
    .await
}
