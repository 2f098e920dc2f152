//! The bureau's accounts: users with a role and scope, passwords hashed with
//! argon2id, and bearer tokens for scripts. Users live in the center's RocksDB
//! (`users`); a token is stored only as its BLAKE3 hash (`tokens`), so a copy of
//! the store holds no usable token. Every change and every use of a token is
//! written to the hash-linked audit log.
//!
//! Hashing cost is `[accounts] hash_memory_kib` / `hash_passes` in `center.toml`
//! (defaults: argon2id's recommended 19 MiB, 2 passes); test configurations set
//! them to the minimum (8 KiB, 1 pass) so a test does not spend a second a hash.

use anyhow::{anyhow, bail, Context, Result};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jilu_common::access::{Principal, Role};
use jilu_common::audit::Action;
use jilu_common::record::Record;
use jilu_common::time::Millis;
use jilu_store::journal::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::center::Center;
use crate::schema::{TOKENS, USERS};

/// `[accounts]` in `center.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// argon2id memory per hash, KiB. Default 19456 (19 MiB). Minimum 8.
    pub hash_memory_kib: u32,
    /// argon2id passes. Default 2.
    pub hash_passes: u32,
    /// Days a token from `center user token` is valid when --expires is not given. Default 30.
    pub token_days: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            hash_memory_kib: 19_456,
            hash_passes: 2,
            token_days: 30,
        }
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub county: Option<String>,
    /// argon2id PHC string
    pub password: String,
    pub disabled: bool,
    pub created_at: Millis,
    pub changed_at: Millis,
    /// TOTP secret (base32) from `center user totp`; needed to check codes, so
    /// kept as is (the store is the center's, like its key)
    #[serde(default)]
    pub totp: Option<String>,
    /// the last TOTP time step a login used: a code of it or before is refused
    #[serde(default)]
    pub totp_step: u64,
}

impl Record for User {
    const NAME: &'static str = "user";
    const VERSION: u16 = 1;
}

/// What is kept of a bearer token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// short public id, for listing and revoking
    pub id: String,
    pub user: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl Record for Token {
    const NAME: &'static str = "token";
    const VERSION: u16 = 1;
}

/// Why a bearer token was refused (the stable code is the API's error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token: send Authorization: Bearer TOKEN")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the bearer token is not known")]
    Unknown,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token was revoked")]
    Revoked,
    #[error("the account is disabled")]
    Disabled,
    #[error("no such session: sign in again")]
    SessionUnknown,
    #[error("the session has expired: sign in again")]
    SessionExpired,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Missing => "token_missing",
            Refusal::Malformed => "token_malformed",
            Refusal::Unknown => "token_unknown",
            Refusal::Expired => "token_expired",
            Refusal::Revoked => "token_revoked",
            Refusal::Disabled => "account_disabled",
            Refusal::SessionUnknown => "session_unknown",
            Refusal::SessionExpired => "session_expired",
        }
    }
}

const TOKEN_PREFIX: &str = "jilu_";

fn hasher(cfg: &AccountsConfig) -> Result<Argon2<'static>> {
    let params = Params::new(cfg.hash_memory_kib.max(8), cfg.hash_passes.max(1), 1, None)
        .map_err(|e| anyhow!("[accounts] hashing parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_password(cfg: &AccountsConfig, password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        bail!("a password needs at least 8 characters");
    }
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher(cfg)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

fn token_key(token: &str) -> Vec<u8> {
    let mut k = vec![b'h'];
    k.extend_from_slice(blake3::hash(token.as_bytes()).as_bytes());
    k
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("invalid user name {name:?}: use 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

/// Accounts of one center.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a>(pub &'a Center);

impl Accounts<'_> {
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.0.journal.store.get_record(USERS, name.as_bytes())?)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self
            .0
            .journal
            .store
            .scan_records(USERS, b"")?
            .into_iter()
            .map(|(_, u)| u)
            .collect())
    }

    pub fn add(
        &self,
        by: &str,
        name: &str,
        role: Role,
        county: Option<&str>,
        password: &str,
    ) -> Result<User> {
        check_name(name)?;
        if role.county_scoped() != county.is_some() {
            bail!(
                "{} --county for role {role}",
                if role.county_scoped() {
                    "give"
                } else {
                    "do not give"
                }
            );
        }
        if let Some(c) = county {
            jilu_common::id::check("county", c).map_err(|e| anyhow!("{e}"))?;
        }
        if self.user(name)?.is_some() {
            bail!("user {name} exists already: use `center user passwd` or pick another name");
        }
        let now = now_ms();
        let user = User {
            name: name.to_string(),
            role,
            county: county.map(String::from),
            password: hash_password(&self.0.cfg.accounts, password)?,
            disabled: false,
            created_at: now,
            changed_at: now,
            totp: None,
            totp_step: 0,
        };
        let mut tx = self.0.journal.begin();
        tx.put_record(USERS, name.as_bytes(), &user)?;
        tx.audit(
            by,
            Action::UserChanged,
            format!("user:{name}"),
            json!({"op": "add", "role": role, "county": county}),
            &[],
        )?;
        tx.commit()?;
        Ok(user)
    }

    pub(crate) fn change(
        &self,
        by: &str,
        name: &str,
        op: &str,
        f: impl FnOnce(&mut User),
    ) -> Result<()> {
        let mut user = self
            .user(name)?
            .ok_or_else(|| anyhow!("no user {name}: see `center user list`"))?;
        f(&mut user);
        user.changed_at = now_ms();
        let mut tx = self.0.journal.begin();
        tx.put_record(USERS, name.as_bytes(), &user)?;
        tx.audit(
            by,
            Action::UserChanged,
            format!("user:{name}"),
            json!({"op": op}),
            &[],
        )?;
        tx.commit()
    }

    pub fn passwd(&self, by: &str, name: &str, password: &str) -> Result<()> {
        let hash = hash_password(&self.0.cfg.accounts, password)?;
        self.change(by, name, "passwd", |u| u.password = hash)
    }

    pub fn disable(&self, by: &str, name: &str) -> Result<()> {
        self.change(by, name, "disable", |u| u.disabled = true)
    }

    /// A new bearer token for `name`, valid `days`; returns (token, its record).
    pub fn issue_token(&self, by: &str, name: &str, days: Option<f64>) -> Result<(String, Token)> {
        let user = self
            .user(name)?
            .ok_or_else(|| anyhow!("no user {name}: see `center user list`"))?;
        if user.disabled {
            bail!("user {name} is disabled");
        }
        let days = days.unwrap_or(f64::from(self.0.cfg.accounts.token_days));
        if !(days > 0.0 && days <= 3650.0) {
            bail!("--expires must be more than 0 and at most 3650 days");
        }
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            blake3::Hash::from_bytes(secret).to_hex()
        );
        let key = token_key(&token);
        let id = blake3::hash(&key).to_hex()[..12].to_string();
        let now = now_ms();
        let rec = Token {
            id: id.clone(),
            user: name.to_string(),
            created_at: now,
            expires_at: now + (days * 86_400_000.0) as i64,
            revoked_at: None,
        };
        let mut tx = self.0.journal.begin();
        tx.put_record(TOKENS, &key, &rec)?;
        tx.put(TOKENS, format!("i{id}").as_bytes(), &key)?;
        tx.audit(
            by,
            Action::TokenIssued,
            format!("user:{name}"),
            json!({"token": id, "expires_at": rec.expires_at}),
            &[],
        )?;
        tx.commit()?;
        Ok((token, rec))
    }

    pub fn tokens(&self) -> Result<Vec<Token>> {
        Ok(self
            .0
            .journal
            .store
            .scan_records(TOKENS, b"h")?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    pub fn revoke_token(&self, by: &str, id: &str) -> Result<Token> {
        let key = self
            .0
            .journal
            .store
            .get(TOKENS, format!("i{id}").as_bytes())?
            .ok_or_else(|| anyhow!("no token {id}: see `center user tokens`"))?;
        let mut rec: Token = self
            .0
            .journal
            .store
            .get_record(TOKENS, &key)?
            .context("the token's record is missing")?;
        if rec.revoked_at.is_none() {
            rec.revoked_at = Some(now_ms());
            let mut tx = self.0.journal.begin();
            tx.put_record(TOKENS, &key, &rec)?;
            tx.audit(
                by,
                Action::TokenRevoked,
                format!("user:{}", rec.user),
                json!({"token": id}),
                &[],
            )?;
            tx.commit()?;
        }
        Ok(rec)
    }

    /// The principal a bearer token stands for, or why it is refused. Nothing is
    /// audited here: the caller audits the request with its outcome.
    pub fn authenticate(&self, token: &str) -> Result<(Principal, Token), Refusal> {
        let hex = token.strip_prefix(TOKEN_PREFIX).ok_or(Refusal::Malformed)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::Malformed);
        }
        let rec: Token = self
            .0
            .journal
            .store
            .get_record(TOKENS, &token_key(token))
            .ok()
            .flatten()
            .ok_or(Refusal::Unknown)?;
        if rec.revoked_at.is_some() {
            return Err(Refusal::Revoked);
        }
        if rec.expires_at <= now_ms() {
            return Err(Refusal::Expired);
        }
        let user = self
            .user(&rec.user)
            .ok()
            .flatten()
            .ok_or(Refusal::Unknown)?;
        if user.disabled {
            return Err(Refusal::Disabled);
        }
        Ok((principal(&user), rec))
    }

    /// The user, when `password` is theirs and the account is enabled.
    pub fn check_password(&self, name: &str, password: &str) -> Result<Option<User>> {
        let Some(user) = self.user(name)? else {
            return Ok(None);
        };
        let parsed = PasswordHash::new(&user.password)
            .map_err(|e| anyhow!("the stored password of {name} is unreadable: {e}"))?;
        if user.disabled
            || hasher(&self.0.cfg.accounts)?
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
        {
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// Checks a password; on success issues a token valid one day.
    pub fn login(&self, name: &str, password: &str) -> Result<Option<(String, Token)>> {
        if self.check_password(name, password)?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.issue_token(name, name, Some(1.0))?))
    }
}

pub fn principal(user: &User) -> Principal {
    Principal {
        name: user.name.clone(),
        role: user.role,
        county: user.county.clone(),
    }
}
