//! Second factor of web logins: TOTP (RFC 6238, SHA-1, 6 digits, 30 s steps,
//! one step of clock skew either way). `center user totp NAME` enrols a user:
//! a new 160-bit secret, printed as an otpauth URI and a QR code for the
//! terminal. A code is accepted once: a login records the time step it used,
//! and a code of that step or an earlier one is refused from then on.

use anyhow::{anyhow, bail, Result};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use jilu_common::access::Role;
use totp_rs::{Builder, Secret, Totp};

use crate::accounts::{Accounts, User};

/// Whether a role must give a code at login (optional for the others, unless enrolled).
pub fn required(role: Role) -> bool {
    matches!(role, Role::Head | Role::Supervisor | Role::Admin)
}

fn totp_of(secret_b32: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret_b32)
        .map_err(|e| anyhow!("the stored TOTP secret is unreadable: {e}"))?;
    Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| anyhow!("TOTP: {e}"))
}

/// The otpauth URI an authenticator app reads.
pub fn uri(name: &str, secret_b32: &str) -> String {
    format!("otpauth://totp/Jilu:{name}?secret={secret_b32}&issuer=Jilu&algorithm=SHA1&digits=6&period=30")
}

/// `uri` as a QR code of Unicode half blocks, for a terminal.
pub fn qr_text(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| anyhow!("QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// What a code given at login is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// right, and not used before: the step to record
    Fresh(u64),
    /// right, but its step (or a later one) was used already
    Reused,
    Wrong,
}

/// Checks `code` for `user` at `now_secs`.
pub fn check(user: &User, code: &str, now_secs: u64) -> Result<Check> {
    let Some(secret) = &user.totp else {
        return Ok(Check::Wrong);
    };
    Ok(match totp_of(secret)?.check(code.trim(), now_secs) {
        None => Check::Wrong,
        Some(step) if step <= user.totp_step => Check::Reused,
        Some(step) => Check::Fresh(step),
    })
}

impl Accounts<'_> {
    /// Enrols `name`: a new secret (replacing any before); returns its base32 text.
    pub fn enrol_totp(&self, by: &str, name: &str) -> Result<String> {
        if self.user(name)?.is_none() {
            bail!("no user {name}: see `center user list`");
        }
        let mut bytes = [0u8; 20];
        OsRng.fill_bytes(&mut bytes);
        let b32 = Secret::from(bytes.to_vec()).to_base32();
        let stored = b32.clone();
        self.change(by, name, "totp", move |u| {
            u.totp = Some(stored);
            u.totp_step = 0;
        })?;
        Ok(b32)
    }

    /// Records that a login used TOTP step `step`.
    pub fn use_totp_step(&self, name: &str, step: u64) -> Result<()> {
        self.change(name, name, "totp_used", |u| {
            u.totp_step = u.totp_step.max(step)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(secret: &str, step: u64) -> User {
        User {
            name: "sup".into(),
            role: Role::Supervisor,
            county: None,
            password: String::new(),
            disabled: false,
            created_at: 0,
            changed_at: 0,
            totp: Some(secret.into()),
            totp_step: step,
        }
    }

    #[test]
    fn a_code_counts_once() {
        let b32 = Secret::from(vec![7u8; 20]).to_base32();
        let t = totp_of(&b32).unwrap();
        let now = 1_800_000_000;
        let code = t.generate(now).to_string();
        let step = now / 30;
        assert_eq!(
            check(&user(&b32, 0), &code, now).unwrap(),
            Check::Fresh(step)
        );
        assert_eq!(check(&user(&b32, step), &code, now).unwrap(), Check::Reused);
        assert_eq!(check(&user(&b32, 0), "000000", now).unwrap(), Check::Wrong);
        // a code of the step before is still in the window, once
        let prev = t.generate(now - 30).to_string();
        assert_eq!(
            check(&user(&b32, step - 2), &prev, now).unwrap(),
            Check::Fresh(step - 1)
        );
        assert_eq!(check(&user(&b32, step), &prev, now).unwrap(), Check::Reused);
        assert!(qr_text(&uri("sup", &b32)).unwrap().lines().count() > 10);
        assert!(required(Role::Head) && !required(Role::Keeper));
    }
}
