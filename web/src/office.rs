//! The page models of the county office page (`edge-node run --http`): the same
//! base template, stylesheet and strings as the bureau's pages, with the office's
//! own menu ([`Chrome::office`]). The edge node fills them from its own store.

use askama::Template;

use crate::pages::{ActivityLine, Chrome, EdgeLine, FindingLine};

/// A device out in the field: its open check-out.
#[derive(Debug, Clone)]
pub struct OutLine {
    pub device: String,
    pub officer: String,
    pub purpose: String,
    pub out_at: String,
    pub battery: u8,
    pub free_mb: u64,
    pub clock_offset: i64,
    /// the override's reason, when the pre-use check failed
    pub overridden: String,
}

/// What the check-out form was filled with (kept when it is refused).
#[derive(Debug, Clone, Default)]
pub struct CheckoutForm {
    pub keeper: String,
    pub device: String,
    pub officer: String,
    pub purpose: String,
    pub battery: String,
    pub free_mb: String,
    pub works: String,
    pub device_clock: String,
    pub override_reason: String,
}

/// `/web/office`: devices out and the check-out form with the pre-use check.
#[derive(Debug, Template)]
#[template(path = "office.html")]
pub struct OfficePage {
    pub c: Chrome,
    pub out: Vec<OutLine>,
    /// devices that may be checked out
    pub devices: Vec<String>,
    /// (badge, name)
    pub officers: Vec<(String, String)>,
    pub form: CheckoutForm,
    /// why the last check-out was refused (the CLI's error line)
    pub error: Option<String>,
    /// the check-out just recorded
    pub done: Option<String>,
}

/// `/web/office/activities`: today's activities (China Standard Time), each
/// with its departure.
#[derive(Debug, Template)]
#[template(path = "office_activities.html")]
pub struct OfficeActivitiesPage {
    pub c: Chrome,
    pub day: String,
    pub rows: Vec<(ActivityLine, String)>,
}

/// A docked camera's ingest.
#[derive(Debug, Clone)]
pub struct CameraLine {
    pub device: String,
    /// "done/seen"
    pub files: String,
    pub failed: u64,
    pub stored: String,
    pub left: String,
    pub current: String,
    pub rate: String,
    pub eta: String,
}

/// `/web/office/dock`: what the node's dock watch is ingesting.
#[derive(Debug, Template)]
#[template(path = "office_dock.html")]
pub struct OfficeDockPage {
    pub c: Chrome,
    /// whether the node watches a dock at all
    pub watching: bool,
    pub cameras: Vec<CameraLine>,
}

/// `/web/office/queue`: the upload queue, its ETA and the link to the center.
#[derive(Debug, Template)]
#[template(path = "office_queue.html")]
pub struct OfficeQueuePage {
    pub c: Chrome,
    /// the node as the bureau's counties page shows it
    pub edge: EdgeLine,
    pub oldest: String,
    pub center_configured: bool,
    /// the link's state and last error
    pub link: String,
    /// (hash, reason) of items the center refused
    pub refused: Vec<(String, String)>,
    /// items damaged in this store
    pub corrupt: Vec<String>,
}

/// `/web/office/findings`: what `edge-node status` reports.
#[derive(Debug, Template)]
#[template(path = "office_findings.html")]
pub struct OfficeFindingsPage {
    pub c: Chrome,
    pub rows: Vec<FindingLine>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    #[test]
    fn the_office_menu_replaces_the_bureaus() {
        for lang in [Lang::Zh, Lang::En] {
            let t = lang.strings();
            let html = OfficeDockPage {
                c: Chrome {
                    lang,
                    t,
                    user: "edge-410402".into(),
                    role: "410402".into(),
                    csrf: "tok".into(),
                    here: "%2Fweb%2Foffice%2Fdock".into(),
                    nav: "office_dock",
                    office: true,
                },
                watching: false,
                cameras: vec![],
            }
            .render()
            .expect("render");
            assert!(html.contains(t.office_nav_devices) && html.contains(t.office_dock_idle));
            assert!(!html.contains(t.nav_counties) && !html.contains("/web/logout"));
            assert!(
                html.contains("href=\"/web/office/dock\" class=\"on\""),
                "{html}"
            );
        }
    }
}
