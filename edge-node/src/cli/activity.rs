//! `activity ...`: enforcement activities with arrival and departure, the notice
//! given to the party, annotations and interruption records (art. 8–12).

use anyhow::Result;
use clap::Subcommand;
use jilu_common::activity::{Activity, Annotation, AnnotationKind, InterruptionReason, Notice};
use jilu_common::time;
use serde::{Deserialize, Serialize};

use super::context::Ctx;
use super::parse_time;
use crate::activities::{ActivityChange, NewActivity, NewInterruption};

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum ActivityCmd {
    /// Record a new activity.
    New {
        /// Matter id from the catalogue.
        #[arg(long)]
        matter: String,
        #[arg(long)]
        place: String,
        /// Badge of an officer present (repeat for each).
        #[arg(long = "officer", required = true)]
        officers: Vec<String>,
        /// Arrival on site (RFC 3339).
        #[arg(long)]
        arrival: String,
        /// Departure from site (RFC 3339), if known.
        #[arg(long)]
        departure: Option<String>,
        /// Remote work (边远/水上/异地/连续执法): 24 h after return to hand over.
        #[arg(long)]
        remote: bool,
        /// Id to use (default: generated).
        #[arg(long)]
        id: Option<String>,
    },
    /// Change place, arrival, departure or the remote flag.
    Set {
        id: String,
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        arrival: Option<String>,
        #[arg(long)]
        departure: Option<String>,
        #[arg(long)]
        remote: Option<bool>,
    },
    /// Record that the party was told of the recording (art. 9).
    Notice {
        id: String,
        #[arg(long)]
        at: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        words: String,
    },
    /// Note what the record shows (art. 10).
    Annotate {
        id: String,
        /// place, time, scene, participants, officer-conduct, party-conduct, violation or evidence.
        #[arg(long)]
        kind: AnnotationKind,
        #[arg(long)]
        text: String,
        /// The recording it refers to (hash or prefix).
        #[arg(long)]
        item: Option<String>,
        #[arg(long)]
        at: Option<String>,
    },
    /// Link recordings to the activity.
    Link {
        id: String,
        /// Hashes of the recordings, or unique prefixes of at least 6 hex digits.
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// File the written record of an interruption (art. 12), after the activity.
    Interruption {
        id: String,
        /// device-fault, battery, storage, weather, obstruction, force-majeure or other.
        #[arg(long)]
        reason: InterruptionReason,
        /// What happened and on what basis recording stopped.
        #[arg(long)]
        basis: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Badge of the officer writing it.
        #[arg(long)]
        by: String,
    },
    /// List activities.
    List,
    /// Show one activity.
    Show { id: String },
}

fn show(ctx: &mut Ctx<'_>, a: &Activity) -> Result<()> {
    ctx.out.show(&serde_json::to_value(a)?, || {
        format!(
            "{}  matter {}  {}  {} .. {}  officers {}  items {}{}",
            a.id,
            a.matter,
            a.place,
            time::format(a.arrival),
            a.departure
                .map(time::format)
                .unwrap_or_else(|| "(on site)".into()),
            a.officers.join(","),
            a.items.len(),
            if a.notice.is_some() {
                "  notice given"
            } else {
                ""
            }
        )
    });
    Ok(())
}

pub fn activity(ctx: &mut Ctx<'_>, cmd: &ActivityCmd) -> Result<()> {
    match cmd {
        ActivityCmd::New {
            matter,
            place,
            officers,
            arrival,
            departure,
            remote,
            id,
        } => {
            let req = NewActivity {
                id: id.clone(),
                matter: matter.clone(),
                place: place.clone(),
                officers: officers.clone(),
                arrival: parse_time(arrival)?,
                departure: departure.as_deref().map(parse_time).transpose()?,
                remote: *remote,
            };
            let edge = ctx.rw()?;
            let a = edge.new_activity(&ctx.actor, req)?;
            show(ctx, &a)?;
        }
        ActivityCmd::Set {
            id,
            place,
            arrival,
            departure,
            remote,
        } => {
            let change = ActivityChange {
                place: place.clone(),
                arrival: arrival.as_deref().map(parse_time).transpose()?,
                departure: departure.as_deref().map(parse_time).transpose()?,
                remote: *remote,
            };
            let edge = ctx.rw()?;
            let a = edge.change_activity(&ctx.actor, id, change)?;
            show(ctx, &a)?;
        }
        ActivityCmd::Notice { id, at, by, words } => {
            let notice = Notice {
                at: parse_time(at)?,
                by: by.clone(),
                words: words.clone(),
            };
            let edge = ctx.rw()?;
            edge.officer(by)?;
            let a = edge.give_notice(&ctx.actor, id, notice)?;
            show(ctx, &a)?;
        }
        ActivityCmd::Annotate {
            id,
            kind,
            text,
            item,
            at,
        } => {
            let at = at.as_deref().map(parse_time).transpose()?;
            let edge = ctx.rw()?;
            // a prefix as typed is resolved to the one full hash it names
            let item = match item {
                Some(prefix) => Some(edge.resolve_item(prefix)?.item.hash),
                None => None,
            };
            let annotation = Annotation {
                kind: *kind,
                text: text.clone(),
                item,
                at,
                by: ctx.actor.name.clone(),
            };
            let a = edge.annotate(&ctx.actor, id, annotation)?;
            show(ctx, &a)?;
        }
        ActivityCmd::Link { id, items } => {
            let edge = ctx.rw()?;
            let a = edge.link_items(&ctx.actor, id, items)?;
            show(ctx, &a)?;
        }
        ActivityCmd::Interruption {
            id,
            reason,
            basis,
            from,
            to,
            by,
        } => {
            let req = NewInterruption {
                reason: *reason,
                basis: basis.clone(),
                from: parse_time(from)?,
                to: parse_time(to)?,
                by: by.clone(),
            };
            let edge = ctx.rw()?;
            let rec = edge.file_interruption(&ctx.actor, id, req)?;
            ctx.out.show(&serde_json::to_value(&rec)?, || {
                format!(
                    "filed interruption {} on {id}: {:?}, approval pending at the center",
                    rec.id, rec.reason
                )
            });
        }
        ActivityCmd::List => {
            let edge = ctx.ro()?;
            for a in edge.activities()? {
                show(ctx, &a)?;
            }
        }
        ActivityCmd::Show { id } => {
            let edge = ctx.ro()?;
            let a = edge.activity(id)?;
            let pretty = serde_json::to_string_pretty(&a)?;
            ctx.out.show(&serde_json::to_value(&a)?, || pretty);
        }
    }
    Ok(())
}
