//! Web sessions, kept in the center's RocksDB (`websessions`), so a restart
//! keeps them. The browser holds a random 256-bit id in an HttpOnly, Secure,
//! SameSite=Strict cookie; the store keeps only its BLAKE3 hash, with the user,
//! the session's CSRF token and its times. A session ends at logout, after
//! `[web] session_idle_secs` without a request, or `session_max_secs` after
//! login, whichever comes first; a login always starts a new one.

use anyhow::Result;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::http::HeaderMap;
use jilu_common::access::Principal;
use jilu_common::audit::Action;
use jilu_common::record::Record;
use jilu_common::time::Millis;
use jilu_store::journal::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::{principal, Accounts, Refusal, User};
use crate::center::Center;
use crate::schema::WEBSESSIONS;

/// The session cookie.
pub const COOKIE: &str = "jilu_session";
/// The login form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "jilu_login";
/// The page language (`zh-CN` or `en`).
pub const LANG_COOKIE: &str = "jilu_lang";

/// A session is written back (its idle clock reset) at most this often (and at
/// most a quarter of the idle expiry).
const TOUCH_MS: i64 = 15_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    pub user: String,
    /// the CSRF token every form of this session carries
    pub csrf: String,
    /// short public tag, for the audit log (never the id)
    pub tag: String,
    pub created_at: Millis,
    pub seen_at: Millis,
}

impl Record for WebSession {
    const NAME: &'static str = "web session";
    const VERSION: u16 = 1;
}

/// 32 random bytes, hex.
pub fn random_hex() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    blake3::Hash::from_bytes(b).to_hex().to_string()
}

fn key(id: &str) -> [u8; 32] {
    *blake3::hash(id.as_bytes()).as_bytes()
}

pub use jilu_web::guard::{same, set_cookie};

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    jilu_web::guard::cookie(
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        name,
    )
}

/// The sessions of one center.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a>(pub &'a Center);

impl Sessions<'_> {
    pub fn get(&self, id: &str) -> Result<Option<WebSession>> {
        Ok(self.0.journal.store.get_record(WEBSESSIONS, &key(id))?)
    }

    /// A new session for `user` (audited); returns its id.
    pub fn start(&self, user: &User, address: &str) -> Result<(String, WebSession)> {
        let id = random_hex();
        let now = now_ms();
        let s = WebSession {
            user: user.name.clone(),
            csrf: random_hex(),
            tag: random_hex()[..12].to_string(),
            created_at: now,
            seen_at: now,
        };
        let mut tx = self.0.journal.begin();
        tx.put_record(WEBSESSIONS, &key(&id), &s)?;
        tx.audit(
            &user.name,
            Action::SessionStarted,
            format!("user:{}", user.name),
            json!({"session": s.tag, "role": user.role, "address": address}),
            &[],
        )?;
        tx.commit()?;
        Ok((id, s))
    }

    /// Ends a session (logout); `why` goes to the audit log.
    pub fn end(&self, id: &str, why: &str) -> Result<()> {
        let Some(s) = self.get(id)? else {
            return Ok(());
        };
        let mut tx = self.0.journal.begin();
        tx.delete(WEBSESSIONS, &key(id))?;
        tx.audit(
            &s.user,
            Action::SessionEnded,
            format!("user:{}", s.user),
            json!({"session": s.tag, "why": why}),
            &[],
        )?;
        tx.commit()
    }

    /// The user of a live session; an expired one is ended. Resets the idle clock.
    pub fn check(&self, id: &str) -> Result<(Principal, WebSession), Refusal> {
        let cfg = &self.0.cfg.web;
        let mut s = self.get(id).ok().flatten().ok_or(Refusal::SessionUnknown)?;
        let now = now_ms();
        let idle = now - s.seen_at > cfg.session_idle_secs as i64 * 1000;
        let old = now - s.created_at > cfg.session_max_secs as i64 * 1000;
        if idle || old {
            let _ = self.end(id, if idle { "idle" } else { "absolute" });
            return Err(Refusal::SessionExpired);
        }
        let user = Accounts(self.0)
            .user(&s.user)
            .ok()
            .flatten()
            .ok_or(Refusal::SessionUnknown)?;
        if user.disabled {
            return Err(Refusal::Disabled);
        }
        if now - s.seen_at > TOUCH_MS.min(cfg.session_idle_secs as i64 * 250) {
            s.seen_at = now;
            let mut tx = self.0.journal.begin();
            if tx.put_record(WEBSESSIONS, &key(id), &s).is_ok() {
                let _ = tx.commit();
            }
        }
        Ok((principal(&user), s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.append(
            axum::http::header::COOKIE,
            "a=1; jilu_session=abc ; b=".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(random_hex().len(), 64);
    }
}
