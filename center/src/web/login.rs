//! `GET/POST /web/login`, `POST /web/logout` and `GET /web/lang`.
//!
//! A login needs the password and, for a head, supervisor or admin (and for
//! anyone enrolled), a fresh TOTP code. The form carries its own CSRF token
//! (also in a short-lived cookie) and must come with this site's Origin. Every
//! failure is written to the audit log with the address, and counted by the
//! throttle; a throttled login is refused before the password is looked at.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Form;
use jilu_common::audit::Action;
use jilu_store::journal::now_ms;
use jilu_web::pages::LoginPage;
use serde::Deserialize;
use serde_json::json;

use super::sessions::{
    cookie, random_hex, same, set_cookie, Sessions, COOKIE, LANG_COOKIE, LOGIN_COOKIE,
};
use super::{redirect, render, same_origin, WebCall};
use crate::accounts::Accounts;
use crate::center::Center;
use crate::http::error::ApiError;
use crate::totp::{self, Check};

fn with_cookie(mut r: Response, value: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn login_page(call: &WebCall, status: u16, error: Option<&'static str>, name: &str) -> Response {
    let csrf = random_hex();
    let page = LoginPage {
        lang: call.lang,
        t: call.lang.strings(),
        error,
        csrf: csrf.clone(),
        name: name.to_string(),
    };
    with_cookie(
        render(status, &page),
        set_cookie(LOGIN_COOKIE, &csrf, Some(900)),
    )
}

/// `GET /web/login`: the form (or, signed in already, the first page).
pub async fn form(call: WebCall) -> Response {
    if let Some(id) = cookie(&call.headers, COOKIE) {
        let c = call.api.center.clone();
        let live = tokio::task::spawn_blocking(move || Sessions(&c).check(&id).is_ok())
            .await
            .unwrap_or(false);
        if live {
            return redirect("/web/counties");
        }
    }
    login_page(&call, 200, None, "")
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
}

/// Why a login was refused: (audit reason, what the form says, counts as a failure).
type Refused = (&'static str, fn(&jilu_web::Strings) -> &'static str, bool);

fn failed(t: &jilu_web::Strings) -> &'static str {
    t.login_failed
}
fn throttled(t: &jilu_web::Strings) -> &'static str {
    t.login_throttled
}
fn reused(t: &jilu_web::Strings) -> &'static str {
    t.totp_reused
}
fn unenrolled(t: &jilu_web::Strings) -> &'static str {
    t.totp_required
}

/// Checks a login; the user on success.
fn check(
    c: &Center,
    f: &LoginForm,
    addr: &str,
    state: &super::WebState,
) -> Result<Result<crate::accounts::User, Refused>, ApiError> {
    let limits = c.cfg.web.limits();
    let now = now_ms();
    if state.throttle.blocked(&f.name, addr, limits, now) {
        return Ok(Err(("login_throttled", throttled, false)));
    }
    let _one = state
        .login
        .lock()
        .map_err(|_| ApiError::internal("login lock"))?;
    let acc = Accounts(c);
    let refused = |r: Refused| {
        if r.2 {
            state.throttle.failed(&f.name, addr, limits, now);
        }
        Ok(Err(r))
    };
    let Some(user) = acc.check_password(&f.name, &f.password)? else {
        return refused(("login_failed", failed, true));
    };
    if user.totp.is_none() {
        if totp::required(user.role) {
            return refused(("totp_not_enrolled", unenrolled, false));
        }
    } else {
        match totp::check(&user, &f.totp, (now / 1000) as u64)? {
            Check::Wrong => return refused(("totp_wrong", failed, true)),
            Check::Reused => return refused(("totp_reused", reused, true)),
            Check::Fresh(step) => acc.use_totp_step(&user.name, step)?,
        }
    }
    state.throttle.succeeded(&user.name);
    Ok(Ok(user))
}

/// `POST /web/login`.
pub async fn submit(call: WebCall, Form(f): Form<LoginForm>) -> Response {
    let t = call.lang.strings();
    let cookie_csrf = cookie(&call.headers, LOGIN_COOKIE).unwrap_or_default();
    let form_ok = same_origin(&call.headers) && !f.csrf.is_empty() && same(&f.csrf, &cookie_csrf);
    let c = call.api.center.clone();
    let web = call.api.web.clone();
    let addr = call.peer.clone();
    let old = cookie(&call.headers, COOKIE);
    let name = f.name.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let outcome = if form_ok {
            check(&c, &f, &addr, &web)?
        } else {
            Err((
                "csrf",
                failed as fn(&jilu_web::Strings) -> &'static str,
                false,
            ))
        };
        match outcome {
            Ok(user) => {
                if let Some(old) = old {
                    Sessions(&c).end(&old, "new login")?;
                }
                Ok(Ok(Sessions(&c).start(&user, &addr)?.0))
            }
            Err((reason, msg, _)) => {
                let mut tx = c.journal.begin();
                tx.audit(
                    "anonymous",
                    Action::ApiRefused,
                    format!("user:{}", f.name),
                    json!({"reason": reason, "address": addr, "request": "POST /web/login"}),
                    &[],
                )?;
                tx.commit()?;
                Ok(Err((reason, msg)))
            }
        }
    })
    .await;
    match out {
        Ok(Ok(Ok(id))) => {
            let r = with_cookie(redirect("/web/counties"), set_cookie(COOKIE, &id, None));
            with_cookie(r, set_cookie(LOGIN_COOKIE, "", Some(0)))
        }
        Ok(Ok(Err((reason, msg)))) => {
            let status = match reason {
                "login_throttled" => 429,
                "csrf" => 403,
                _ => 401,
            };
            login_page(&call, status, Some(msg(t)), &name)
        }
        Ok(Err(e)) => super::html(e.status, e.message),
        Err(e) => super::html(500, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /web/logout`: ends the session (CSRF-checked like every form).
pub async fn logout(call: WebCall, Form(f): Form<CsrfOnly>) -> Response {
    let id = cookie(&call.headers, COOKIE).unwrap_or_default();
    let r = call
        .form(f.csrf, move |c, _who| {
            Sessions(c).end(&id, "logout")?;
            Ok("/web/login".to_string())
        })
        .await;
    with_cookie(r, set_cookie(COOKIE, "", Some(0)))
}

/// `GET /web/lang?to=en&back=/web/...`: sets the language cookie and goes back.
pub async fn lang(Query(q): Query<HashMap<String, String>>) -> Response {
    let to = jilu_web::Lang::from_code(q.get("to").map(String::as_str));
    let back = jilu_web::guard::back_path(q.get("back").map(String::as_str), "/web/counties");
    with_cookie(
        redirect(back),
        set_cookie(LANG_COOKIE, to.code(), Some(365 * 86_400)),
    )
}
