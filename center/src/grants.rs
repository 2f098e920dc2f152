//! Explicit grants to classified records (art. 14): who may see what, until
//! when, granted by whom. A grant on an activity covers its items. Kept in the
//! `grants` family under `user \0 target`, so a check is one read.

use anyhow::{anyhow, bail, Result};
use jilu_common::audit::Action;
use jilu_common::record::Record;
use jilu_common::time::Millis;
use jilu_store::journal::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::center::Center;
use crate::schema::GRANTS;

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub user: String,
    /// `activity:COUNTY/ID` or `item:HASH`
    pub target: String,
    pub until: Millis,
    pub by: String,
    pub at: Millis,
    pub revoked_at: Option<Millis>,
}

impl Record for Grant {
    const NAME: &'static str = "grant";
    const VERSION: u16 = 1;
}

impl Grant {
    pub fn live(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.until > now
    }
}

/// The target text of an activity.
pub fn activity_target(county: &str, id: &str) -> String {
    format!("activity:{county}/{id}")
}

/// The target text of an item.
pub fn item_target(hash: &str) -> String {
    format!("item:{hash}")
}

/// Checks a target's text: `activity:COUNTY/ID` or `item:HASH` (64 hex).
pub fn check_target(target: &str) -> Result<()> {
    if let Some(rest) = target.strip_prefix("activity:") {
        let (county, id) = rest
            .split_once('/')
            .ok_or_else(|| anyhow!("a grant target activity:COUNTY/ID needs the county"))?;
        jilu_common::id::check("county", county).map_err(|e| anyhow!("{e}"))?;
        jilu_common::id::check("activity id", id).map_err(|e| anyhow!("{e}"))?;
        return Ok(());
    }
    if let Some(hash) = target.strip_prefix("item:") {
        if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(());
        }
    }
    bail!("invalid grant target {target:?}: use activity:COUNTY/ID or item:HASH")
}

fn key(user: &str, target: &str) -> Vec<u8> {
    format!("{user}\u{0}{target}").into_bytes()
}

#[derive(Debug, Clone, Copy)]
pub struct Grants<'a>(pub &'a Center);

impl Grants<'_> {
    /// Whether `user` holds a live grant for any of `targets`.
    pub fn holds(&self, user: &str, targets: &[&str]) -> Result<bool> {
        let now = now_ms();
        for t in targets {
            let g: Option<Grant> = self.0.journal.store.get_record(GRANTS, &key(user, t))?;
            if g.is_some_and(|g| g.live(now)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn list(&self) -> Result<Vec<Grant>> {
        Ok(self
            .0
            .journal
            .store
            .scan_records(GRANTS, b"")?
            .into_iter()
            .map(|(_, g)| g)
            .collect())
    }

    /// Grants `user` access to `target` for `days`, or with `revoke` ends it.
    pub fn set(
        &self,
        by: &str,
        user: &str,
        target: &str,
        days: u32,
        revoke: bool,
    ) -> Result<Grant> {
        check_target(target)?;
        if crate::accounts::Accounts(self.0).user(user)?.is_none() {
            bail!("no user {user}: see `center user list`");
        }
        let now = now_ms();
        let k = key(user, target);
        let grant = if revoke {
            let mut g: Grant = self
                .0
                .journal
                .store
                .get_record(GRANTS, &k)?
                .ok_or_else(|| anyhow!("{user} holds no grant for {target}"))?;
            g.revoked_at = Some(now);
            g
        } else {
            if days == 0 || days > 3650 {
                bail!("--days must be 1 to 3650");
            }
            Grant {
                user: user.to_string(),
                target: target.to_string(),
                until: now + i64::from(days) * 86_400_000,
                by: by.to_string(),
                at: now,
                revoked_at: None,
            }
        };
        let mut tx = self.0.journal.begin();
        tx.put_record(GRANTS, &k, &grant)?;
        tx.audit(
            by,
            Action::GrantChanged,
            format!("user:{user}"),
            json!({"target": target, "until": grant.until, "revoked": revoke}),
            &[],
        )?;
        tx.commit()?;
        Ok(grant)
    }
}
