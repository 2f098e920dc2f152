//! `center user ...` and `center grant ...`: account and grant changes, sent to
//! the running center over its admin socket (it holds the store), or applied to
//! the store directly while it is stopped, like `center approve`.

use anyhow::Result;
use jilu_common::access::Role;
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::center::Center;
use crate::grants::Grants;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "account_op", rename_all = "snake_case")]
pub enum AccountOp {
    Add {
        by: String,
        name: String,
        role: Role,
        county: Option<String>,
        password: String,
    },
    Passwd {
        by: String,
        name: String,
        password: String,
    },
    Disable {
        by: String,
        name: String,
    },
    List,
    Token {
        by: String,
        name: String,
        days: Option<f64>,
    },
    Tokens,
    Revoke {
        by: String,
        id: String,
    },
    Totp {
        by: String,
        name: String,
    },
    Grant {
        by: String,
        user: String,
        target: String,
        days: u32,
        revoke: bool,
    },
    Grants,
}

/// Applies an account change; returns what to print (JSON lines for lists).
pub fn apply(center: &Center, op: &AccountOp) -> Result<String> {
    let acc = Accounts(center);
    Ok(match op {
        AccountOp::Add {
            by,
            name,
            role,
            county,
            password,
        } => {
            acc.add(by, name, *role, county.as_deref(), password)?;
            format!("user {name} added ({role})")
        }
        AccountOp::Passwd { by, name, password } => {
            acc.passwd(by, name, password)?;
            format!("password of {name} changed")
        }
        AccountOp::Disable { by, name } => {
            acc.disable(by, name)?;
            format!("user {name} disabled: its tokens are refused from now on")
        }
        AccountOp::List => {
            let mut out = Vec::new();
            for u in acc.users()? {
                out.push(serde_json::to_string(&serde_json::json!({
                    "name": u.name, "role": u.role, "county": u.county,
                    "disabled": u.disabled, "created_at": u.created_at,
                }))?);
            }
            out.join("\n")
        }
        AccountOp::Token { by, name, days } => {
            let (token, rec) = acc.issue_token(by, name, *days)?;
            serde_json::to_string(&serde_json::json!({
                "token": token, "id": rec.id, "user": rec.user, "expires_at": rec.expires_at,
            }))?
        }
        AccountOp::Tokens => {
            let mut out = Vec::new();
            for t in acc.tokens()? {
                out.push(serde_json::to_string(&t)?);
            }
            out.join("\n")
        }
        AccountOp::Revoke { by, id } => {
            let t = acc.revoke_token(by, id)?;
            format!("token {id} of {} revoked", t.user)
        }
        AccountOp::Totp { by, name } => {
            let secret = acc.enrol_totp(by, name)?;
            let uri = crate::totp::uri(name, &secret);
            format!(
                "{uri}\n{}\nscan the code (or enter the secret {secret}) in an authenticator app; the web login of {name} now asks for its 6-digit code",
                crate::totp::qr_text(&uri)?
            )
        }
        AccountOp::Grant {
            by,
            user,
            target,
            days,
            revoke,
        } => {
            let g = Grants(center).set(by, user, target, *days, *revoke)?;
            if *revoke {
                format!("grant of {target} to {user} revoked")
            } else {
                format!(
                    "{user} may see {target} until {}",
                    jilu_common::time::format(g.until)
                )
            }
        }
        AccountOp::Grants => {
            let mut out = Vec::new();
            for g in Grants(center).list()? {
                out.push(serde_json::to_string(&g)?);
            }
            out.join("\n")
        }
    })
}

/// `center user ...`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        name: String,
        /// officer, keeper, supervisor, head, auditor or admin
        #[arg(long)]
        role: String,
        /// The county of an officer or keeper.
        #[arg(long)]
        county: Option<String>,
    },
    /// Set a user's password (read from standard input).
    Passwd { name: String },
    /// Disable a user: every token of theirs is refused from then on.
    Disable { name: String },
    /// Every user.
    List,
    /// Print a bearer token for NAME, with that user's role and scope.
    Token {
        name: String,
        /// Days until it expires, fractions allowed [default: [accounts] token_days, 30].
        #[arg(long)]
        expires: Option<f64>,
    },
    /// Every token (never the token itself: its id, user, expiry, revocation).
    Tokens,
    /// Revoke a token by its id (see `center user tokens`).
    Revoke { id: String },
    /// Enrol NAME for the web login's second factor: prints the otpauth URI and
    /// a QR code (a new secret each time; the one before stops working).
    Totp { name: String },
}

/// Turns the terminal's echo off (the newline still shows) until dropped.
struct NoEcho {
    saved: rustix::termios::Termios,
}

impl NoEcho {
    fn on(fd: std::os::fd::BorrowedFd<'_>) -> Result<NoEcho> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let saved = tcgetattr(fd)?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        tcsetattr(fd, OptionalActions::Now, &quiet)?;
        Ok(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = rustix::termios::tcsetattr(
            std::os::fd::AsFd::as_fd(&stdin),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// A password from standard input: prompted for, and not echoed, on a
/// terminal; one line from a pipe (scripts).
fn read_password() -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let _quiet = if stdin.is_terminal() {
        eprint!("password: ");
        std::io::stderr().flush()?;
        Some(NoEcho::on(std::os::fd::AsFd::as_fd(&stdin))?)
    } else {
        None
    };
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(p)
}

pub fn account_op(by: &str, c: &UserCommand) -> Result<AccountOp> {
    let by = by.to_string();
    Ok(match c {
        UserCommand::Add { name, role, county } => AccountOp::Add {
            by,
            name: name.clone(),
            role: role.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            county: county.clone(),
            password: read_password()?,
        },
        UserCommand::Passwd { name } => AccountOp::Passwd {
            by,
            name: name.clone(),
            password: read_password()?,
        },
        UserCommand::Disable { name } => AccountOp::Disable {
            by,
            name: name.clone(),
        },
        UserCommand::List => AccountOp::List,
        UserCommand::Token { name, expires } => AccountOp::Token {
            by,
            name: name.clone(),
            days: *expires,
        },
        UserCommand::Tokens => AccountOp::Tokens,
        UserCommand::Revoke { id } => AccountOp::Revoke { by, id: id.clone() },
        UserCommand::Totp { name } => AccountOp::Totp {
            by,
            name: name.clone(),
        },
    })
}
