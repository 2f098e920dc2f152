//! `POST /web/office/checkout`: the check-out form, as `edge-node checkout`.
//!
//! The form's fields become the command line `edge-node checkout` would be
//! given and are parsed by the CLI's own parser, so a value the CLI refuses is
//! refused with the CLI's sentence; the command then runs through
//! [`crate::control::server::run_command`] exactly as one sent over the control
//! socket, acting as the keeper the form names, via the office page. A refused
//! check-out shows the CLI's error line above the form, which keeps what was
//! typed; nothing is written.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use clap::Parser;
use jilu_web::guard;
use jilu_web::office::CheckoutForm;
use serde::Deserialize;
use tracing::{info, warn};

use super::{pages, redirect, Call};
use crate::cli::context::Files;
use crate::cli::output::{Print, Recorded};
use crate::cli::{Cli, Command};
use crate::control::server::{run_command, Asked};

/// The form as posted (every field optional: a missing one is an empty value,
/// which the CLI's parser refuses with its own sentence).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Fields {
    csrf: String,
    keeper: String,
    device: String,
    officer: String,
    purpose: String,
    battery: String,
    free_mb: String,
    works: String,
    device_clock: String,
    #[serde(rename = "override")]
    override_reason: String,
}

impl Fields {
    fn form(&self) -> CheckoutForm {
        CheckoutForm {
            keeper: self.keeper.clone(),
            device: self.device.clone(),
            officer: self.officer.clone(),
            purpose: self.purpose.clone(),
            battery: self.battery.clone(),
            free_mb: self.free_mb.clone(),
            works: self.works.clone(),
            device_clock: self.device_clock.clone(),
            override_reason: self.override_reason.clone(),
        }
    }

    /// The `edge-node checkout` command line of this form (`--opt=value`, and
    /// the device after `--`, so no value is read as an option).
    pub fn argv(&self) -> Vec<String> {
        let mut a = vec![
            "edge-node".to_string(),
            "checkout".to_string(),
            format!("--officer={}", self.officer.trim()),
            format!("--purpose={}", self.purpose.trim()),
            format!("--battery={}", self.battery.trim()),
            format!("--free-mb={}", self.free_mb.trim()),
            format!("--works={}", self.works.trim()),
            format!("--device-clock={}", self.device_clock.trim()),
        ];
        let reason = self.override_reason.trim();
        if !reason.is_empty() {
            a.push(format!("--override={reason}"));
        }
        a.push("--".into());
        a.push(self.device.trim().to_string());
        a
    }
}

/// The command of the form, or the CLI parser's error line.
pub fn parse(f: &Fields) -> Result<Command, String> {
    match Cli::try_parse_from(f.argv()) {
        Ok(cli) => Ok(cli.command),
        Err(e) => Err(e
            .render()
            .to_string()
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("error: the form could not be read")
            .to_string()),
    }
}

/// A check-out opens no user files.
struct NoFiles;

impl Files for NoFiles {
    fn plan(&mut self, _: &[PathBuf]) -> Result<Vec<PathBuf>> {
        bail!("the office page opens no files")
    }
    fn open_source(&mut self, _: &Path) -> Result<std::fs::File> {
        bail!("the office page opens no files")
    }
    fn exists(&mut self, _: &Path) -> Result<bool> {
        bail!("the office page opens no files")
    }
    fn create_new(&mut self, _: &Path) -> Result<std::fs::File> {
        bail!("the office page opens no files")
    }
    fn rename(&mut self, _: &Path, _: &Path) -> Result<()> {
        bail!("the office page opens no files")
    }
    fn remove(&mut self, _: &Path) -> Result<()> {
        bail!("the office page opens no files")
    }
    fn watch(&self) -> crate::ingest::Watch {
        crate::ingest::Watch::Path
    }
}

/// The office page refusing the form, with `error` above it (status 400).
async fn refused(call: Call, f: Fields, error: String) -> Response {
    let form = f.form();
    call.page(StatusCode::BAD_REQUEST, "office", move |s, c| {
        pages::office_page(s, c, form, Some(error), None)
    })
    .await
}

pub async fn submit(call: Call, Form(f): Form<Fields>) -> Response {
    if !call.origin_ok {
        warn!(peer = %call.peer, "office page: refused a form from another site (Origin)");
        return call.error(StatusCode::FORBIDDEN, guard::ORIGIN_REFUSED.to_string());
    }
    if !guard::same(&f.csrf, &call.office.csrf) {
        warn!(peer = %call.peer, "office page: refused a form without this page's CSRF token");
        return call.error(StatusCode::FORBIDDEN, guard::CSRF_REFUSED.to_string());
    }
    let keeper = f.keeper.trim().to_string();
    if keeper.is_empty() {
        let msg = call.lang.strings().office_keeper_missing.to_string();
        return refused(call, f, msg).await;
    }
    let command = match parse(&f) {
        Ok(c) => c,
        Err(line) => return refused(call, f, line).await,
    };
    let service = call.office.service.clone();
    let via = format!("office page http://{} from {}", call.office.addr, call.peer);
    let ran = tokio::task::spawn_blocking(move || {
        let mut printed = Recorded::default();
        let stop = service.stop.clone();
        let code = run_command(
            &service,
            Asked {
                actor: jilu_common::subject::Actor::new(&keeper, Some(via)),
                json: true,
                command: &command,
            },
            &mut printed,
            &mut NoFiles,
            &|| stop.is_cancelled(),
        );
        (code, printed.0)
    })
    .await;
    let (code, printed) = match ran {
        Ok(r) => r,
        Err(e) => return call.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let line = |err: bool| {
        printed.iter().find_map(|p| match (p, err) {
            (Print::Err(l), true) | (Print::Out(l), false) => Some(l.clone()),
            _ => None,
        })
    };
    if code != 0 {
        let msg = line(true).unwrap_or_else(|| format!("error: exit status {code}"));
        return refused(call, f, msg).await;
    }
    let id = line(false)
        .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .unwrap_or_default();
    info!(checkout = %id, device = %f.device, keeper = %f.keeper, "checked out through the office page");
    redirect(&format!("/web/office?done={}", guard::encode(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            keeper: "李四".into(),
            device: "cam-01".into(),
            officer: "1001".into(),
            purpose: "现场检查".into(),
            battery: "90".into(),
            free_mb: "9000".into(),
            works: "yes".into(),
            device_clock: "2026-11-20T09:00:00+08:00".into(),
            ..Fields::default()
        }
    }

    #[test]
    fn the_form_is_read_by_the_clis_parser() {
        let Ok(Command::Checkout(a)) = parse(&fields()) else {
            panic!("not a checkout");
        };
        assert_eq!(
            (a.device.as_str(), a.battery, a.works),
            ("cam-01", 90, true)
        );
        assert_eq!(a.override_reason, None);
        let bad = Fields {
            battery: "-5".into(),
            ..fields()
        };
        let e = parse(&bad).unwrap_err();
        assert!(
            e.starts_with("error: invalid value '-5' for '--battery <BATTERY>'"),
            "{e}"
        );
        let bad = Fields {
            works: "maybe".into(),
            device: "--help".into(),
            ..fields()
        };
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("'maybe': answer yes or no"), "{e}");
    }
}
