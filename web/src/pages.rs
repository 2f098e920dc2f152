//! The page models: what each page shows, already in the request's language
//! (times formatted, codes labelled). The servers fill them from their own
//! queries; the templates only lay them out.

use askama::Template;

use crate::strings::{Lang, Strings};

/// What every signed-in page has: language, user, the session's CSRF token,
/// the path of this page (for the language switch) and the active menu entry.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub t: &'static Strings,
    pub user: String,
    pub role: String,
    pub csrf: String,
    /// this page's path and query, percent-encoded (the language switch returns here)
    pub here: String,
    pub nav: &'static str,
    /// the county office page of an edge node (its own menu; `user` is the
    /// node and `role` its county), not the bureau's signed-in pages
    pub office: bool,
}

impl Chrome {
    /// The name of the language the switch offers.
    pub fn other_lang(&self) -> &'static str {
        self.lang.other().strings().lang_name
    }
    pub fn other_code(&self) -> &'static str {
        self.lang.other().code()
    }
}

#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub lang: Lang,
    pub t: &'static Strings,
    pub error: Option<&'static str>,
    /// the login form's CSRF token (also in its cookie)
    pub csrf: String,
    pub name: String,
}

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub c: Chrome,
    pub status: u16,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct EdgeLine {
    pub node: String,
    pub online: bool,
    pub last_contact: String,
    pub queue: String,
    pub eta: String,
    pub verified: u64,
}

#[derive(Debug, Clone)]
pub struct CountyLine {
    pub county: String,
    pub edges: Vec<EdgeLine>,
}

#[derive(Debug, Template)]
#[template(path = "counties.html")]
pub struct CountiesPage {
    pub c: Chrome,
    pub counties: Vec<CountyLine>,
}

#[derive(Debug, Clone)]
pub struct ActivityLine {
    pub county: String,
    pub id: String,
    pub matter: String,
    pub place: String,
    pub officers: String,
    pub arrival: String,
    pub items: u64,
    pub pending: u64,
    pub held: bool,
    pub class: String,
}

#[derive(Debug, Template)]
#[template(path = "activities.html")]
pub struct ActivitiesPage {
    pub c: Chrome,
    pub county: String,
    pub officer: String,
    pub pending: bool,
    pub held: bool,
    pub rows: Vec<ActivityLine>,
    /// the next page's URL
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InterruptionLine {
    pub id: String,
    pub reason: String,
    pub basis: String,
    pub period: String,
    pub written_by: String,
    pub state: String,
    pub pending: bool,
    pub decided: String,
}

#[derive(Debug, Clone)]
pub struct AnnotationLine {
    pub kind: String,
    pub text: String,
    pub by: String,
}

#[derive(Debug, Clone)]
pub struct ItemLine {
    pub hash: String,
    pub short: String,
    pub kind: String,
    pub name: String,
    pub captured: String,
    pub officer: String,
    pub state: String,
}

#[derive(Debug, Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub c: Chrome,
    pub a: ActivityLine,
    pub departure: String,
    pub notice: Option<String>,
    pub hold: Option<String>,
    pub class_code: String,
    pub annotations: Vec<AnnotationLine>,
    pub interruptions: Vec<InterruptionLine>,
    pub items: Vec<ItemLine>,
    /// (code, label) of every class, for the classification form
    pub classes: Vec<(String, String)>,
    pub can_decide: bool,
    pub can_hold: bool,
    /// decisions made at the center and whether the county's edge has them
    pub deliveries: Vec<DeliveryLine>,
}

#[derive(Debug, Clone)]
pub struct CustodyLine {
    pub seq: u64,
    pub at: String,
    pub node: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Template)]
#[template(path = "item.html")]
pub struct ItemPage {
    pub c: Chrome,
    pub item: ItemLine,
    pub county: String,
    pub activity: Option<String>,
    pub size: u64,
    pub device: String,
    pub duration: String,
    pub class: String,
    pub origin: String,
    pub verified_at: String,
    pub holders: String,
    /// "video", "audio" or "img"; empty when the user may not play it
    pub media: &'static str,
    pub mime: &'static str,
    pub src: String,
    pub custody: Vec<CustodyLine>,
    /// its own classification decisions and whether the county's edge has them
    pub deliveries: Vec<DeliveryLine>,
}

#[derive(Debug, Clone)]
pub struct FindingLine {
    pub county: String,
    pub article: String,
    pub finding: String,
    pub officers: String,
    pub concerns: String,
    /// the activity or item page it concerns
    pub link: String,
    pub when: String,
}

#[derive(Debug, Template)]
#[template(path = "board.html")]
pub struct BoardPage {
    pub c: Chrome,
    pub county: String,
    pub officer: String,
    pub article: String,
    pub articles: Vec<String>,
    pub by_county: Vec<(String, usize)>,
    pub by_officer: Vec<(String, usize)>,
    pub rows: Vec<FindingLine>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditLine {
    pub seq: u64,
    pub at: String,
    pub node: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub c: Chrome,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub rows: Vec<AuditLine>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeviceLine {
    pub county: String,
    pub device: String,
    /// its kind and status from the registry, labelled; empty when not registered
    pub kind: String,
    pub status: String,
    pub items: u64,
    pub last_capture: String,
}

#[derive(Debug, Template)]
#[template(path = "devices.html")]
pub struct DevicesPage {
    pub c: Chrome,
    pub county: String,
    pub rows: Vec<DeviceLine>,
    pub next: Option<String>,
}

/// A decision made at the center: "sent, waiting" or "received by edge N at T".
#[derive(Debug, Clone)]
pub struct DeliveryLine {
    pub action: String,
    pub by: String,
    pub at: String,
    pub waiting: bool,
    /// "received by edge NODE at TIME" in the page's language, when received
    pub received: String,
}

/// A device's registry entry, labelled.
#[derive(Debug, Clone)]
pub struct RegisteredLine {
    pub kind: String,
    pub serial: String,
    pub unit: String,
    pub status: String,
}

/// A check-out of the ledger with its pre-use check (art. 4, 7).
#[derive(Debug, Clone)]
pub struct CheckoutLine {
    pub id: String,
    pub officer: String,
    pub out_at: String,
    /// when returned, or empty
    pub in_at: String,
    pub in_note: String,
    pub purpose: String,
    pub battery: u8,
    pub free_mb: u64,
    pub works: bool,
    pub clock_offset_ms: i64,
    /// the check's failures, joined; empty when it passed
    pub failures: String,
    /// the override's reason, or empty
    pub override_reason: String,
}

#[derive(Debug, Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub c: Chrome,
    pub county: String,
    pub device: String,
    pub registered: Option<RegisteredLine>,
    pub items: u64,
    pub last_capture: String,
    pub rows: Vec<CheckoutLine>,
    pub next: Option<String>,
}

/// A county's equipment ratio (art. 3).
#[derive(Debug, Clone)]
pub struct RatioLine {
    pub county: String,
    pub officers: u64,
    pub devices: u64,
    /// devices per officer, two decimals; empty with no officer
    pub ratio: String,
    pub below: bool,
}

#[derive(Debug, Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub c: Chrome,
    pub county: String,
    pub target: String,
    pub rows: Vec<RatioLine>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome(lang: Lang) -> Chrome {
        Chrome {
            lang,
            t: lang.strings(),
            user: "sup<1>".into(),
            role: "supervisor".into(),
            csrf: "tok".into(),
            here: "/web/counties".into(),
            nav: "counties",
            office: false,
        }
    }

    #[test]
    fn pages_render_in_both_languages_and_escape() {
        for lang in [Lang::Zh, Lang::En] {
            let html = CountiesPage {
                c: chrome(lang),
                counties: vec![],
            }
            .render()
            .expect("render");
            assert!(html.contains(lang.strings().nav_counties), "{html}");
            assert!(html.contains(&format!("lang=\"{}\"", lang.code())));
            assert!(
                html.contains("sup&#60;1&#62;") || html.contains("sup&lt;1&gt;"),
                "{html}"
            );
            assert!(!html.contains("sup<1>"));
        }
    }
}
