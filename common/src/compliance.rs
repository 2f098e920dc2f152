//! The checks behind `status`: what the regulation asks that the records do not show.
//!
//! - art. 5: every recording belongs to an enforcement activity;
//! - art. 6 + annex: an activity of a listed matter has recordings;
//! - art. 8 + 12: arrival to departure is covered by recordings, or by a written
//!   interruption record (pending or approved; a rejected one justifies nothing);
//! - art. 13: footage is handed over (ingested) within the hand-over window after
//!   the activity ends (24 h: the regulation's limit for remote work, and the
//!   latest any activity may be handed over).
//!
//! Two more lists are not shortcomings of the records but things waiting for
//! someone, kept by the center beside the findings: pre-use checks overridden
//! (art. 7, [`overridden_checks`]) and interruption records waiting for the unit
//! head (art. 12, [`pending_approvals`]).

use serde::{Deserialize, Serialize};

use crate::activity::{Activity, ApprovalState};
use crate::hash::Hash;
use crate::item::Item;
use crate::ledger::CheckOut;
use crate::matter::Matter;
use crate::time::Millis;

/// Tunables of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// art. 13: hours after departure (or capture end) by which footage must be ingested
    pub handover_hours: i64,
    /// gaps shorter than this between segments are a camera's file split, not a gap
    pub gap_tolerance_ms: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            handover_hours: 24,
            gap_tolerance_ms: 30_000,
        }
    }
}

/// A finding, with enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// art. 5: an item not linked to any activity
    Unlinked { item: Hash, name: String },
    /// art. 6: an activity of a listed matter with no recording
    NoRecording { activity: String, matter: String },
    /// art. 8/12: an uncovered stretch with no interruption record
    CoverageGap {
        activity: String,
        from: Millis,
        to: Millis,
    },
    /// art. 13: the activity ended more than the window ago and nothing was handed over
    HandoverOverdue { activity: String, deadline: Millis },
    /// art. 13: an item ingested after its hand-over deadline
    HandedOverLate {
        item: Hash,
        deadline: Millis,
        ingested_at: Millis,
    },
    /// art. 7: a device left the office although its pre-use check failed
    CheckOverridden {
        checkout: String,
        device: String,
        officer: String,
        out_at: Millis,
        failures: Vec<String>,
        reason: String,
    },
    /// art. 12: an interruption record waiting for the unit head's decision
    InterruptionPending {
        activity: String,
        interruption: String,
        from: Millis,
        to: Millis,
    },
}

impl Finding {
    pub fn article(&self) -> &'static str {
        match self {
            Finding::Unlinked { .. } => "art. 5",
            Finding::NoRecording { .. } => "art. 6",
            Finding::CoverageGap { .. } => "art. 8/12",
            Finding::HandoverOverdue { .. } | Finding::HandedOverLate { .. } => "art. 13",
            Finding::CheckOverridden { .. } => "art. 7",
            Finding::InterruptionPending { .. } => "art. 12",
        }
    }
}

/// Check-outs whose pre-use check failed and that left with an override reason.
pub fn overridden_checks(checkouts: &[CheckOut]) -> Vec<Finding> {
    checkouts
        .iter()
        .filter_map(|c| {
            let reason = c.override_reason.clone()?;
            Some(Finding::CheckOverridden {
                checkout: c.id.clone(),
                device: c.device.clone(),
                officer: c.officer.clone(),
                out_at: c.out_at,
                failures: c.check_failures.clone(),
                reason,
            })
        })
        .collect()
}

/// Interruption records of `a` that the unit head has not decided yet.
pub fn pending_approvals(a: &Activity) -> Vec<Finding> {
    a.interruptions
        .iter()
        .filter(|i| i.approval.state == ApprovalState::Pending)
        .map(|i| Finding::InterruptionPending {
            activity: a.id.clone(),
            interruption: i.id.clone(),
            from: i.from,
            to: i.to,
        })
        .collect()
}

/// Runs every check. `items` are all items held; `now` is the station clock.
pub fn check(
    activities: &[Activity],
    items: &[Item],
    matters: &[Matter],
    rules: &Rules,
    now: Millis,
) -> Vec<Finding> {
    let window = rules.handover_hours * 3_600_000;
    let mut out = Vec::new();
    for item in items.iter().filter(|i| i.activity.is_none()) {
        out.push(Finding::Unlinked {
            item: item.hash,
            name: item.original_name.clone(),
        });
    }
    for a in activities {
        let linked: Vec<&Item> = items
            .iter()
            .filter(|i| i.activity.as_deref() == Some(a.id.as_str()))
            .collect();
        let must_record = matters.iter().any(|m| m.id == a.matter && m.must_record);
        let finished = a.departure.is_some_and(|d| d <= now);
        if must_record && finished && linked.is_empty() {
            out.push(Finding::NoRecording {
                activity: a.id.clone(),
                matter: a.matter.clone(),
            });
        }
        if let Some(departure) = a.departure.filter(|_| finished) {
            let deadline = departure + window;
            if linked.is_empty() && now > deadline {
                out.push(Finding::HandoverOverdue {
                    activity: a.id.clone(),
                    deadline,
                });
            }
            for item in &linked {
                if item.ingested_at > deadline {
                    out.push(Finding::HandedOverLate {
                        item: item.hash,
                        deadline,
                        ingested_at: item.ingested_at,
                    });
                }
            }
            if !linked.is_empty() {
                for (from, to) in uncovered(a, &linked, rules.gap_tolerance_ms, departure) {
                    out.push(Finding::CoverageGap {
                        activity: a.id.clone(),
                        from,
                        to,
                    });
                }
            }
        }
    }
    for item in items.iter().filter(|i| i.activity.is_none()) {
        let deadline = item.capture_end() + window;
        if item.ingested_at > deadline {
            out.push(Finding::HandedOverLate {
                item: item.hash,
                deadline,
                ingested_at: item.ingested_at,
            });
        }
    }
    out
}

/// Stretches of `[arrival, departure]` longer than `tolerance` that no recording and
/// no (non-rejected) interruption record covers.
fn uncovered(
    a: &Activity,
    linked: &[&Item],
    tolerance: i64,
    departure: Millis,
) -> Vec<(Millis, Millis)> {
    let mut spans: Vec<(Millis, Millis)> = linked
        .iter()
        .filter(|i| i.covers_time())
        .map(|i| (i.capture_start, i.capture_end()))
        .chain(
            a.interruptions
                .iter()
                .filter(|r| r.approval.state != ApprovalState::Rejected)
                .map(|r| (r.from, r.to)),
        )
        .filter(|(s, e)| e > s)
        .collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut cursor = a.arrival;
    for (start, end) in spans {
        if start > cursor {
            let to = start.min(departure);
            if to - cursor > tolerance {
                gaps.push((cursor, to));
            }
        }
        cursor = cursor.max(end);
        if cursor >= departure {
            break;
        }
    }
    if departure - cursor > tolerance {
        gaps.push((cursor, departure));
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{Approval, Interruption, InterruptionReason};
    use crate::matter::annex;
    use crate::media::{MediaKind, TimeSource};

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;

    fn item(
        hash: &str,
        activity: Option<&str>,
        start: Millis,
        dur_ms: u64,
        ingested: Millis,
    ) -> Item {
        Item {
            hash: Hash::of(hash.as_bytes()),
            size: 1,
            chunks: 1,
            kind: MediaKind::Video,
            container: "mp4".into(),
            original_name: format!("{hash}.mp4"),
            capture_start: start,
            duration_ms: Some(dur_ms),
            time_source: TimeSource::Mvhd,
            clock_offset_ms: 0,
            device: "cam-1".into(),
            officer: "1001".into(),
            activity: activity.map(str::to_string),
            ingested_at: ingested,
            period: "2026-11".into(),
            county: "1".into(),
            node: "edge-1".into(),
        }
    }

    fn activity(id: &str, matter: &str, arrival: Millis, departure: Option<Millis>) -> Activity {
        Activity {
            id: id.into(),
            matter: matter.into(),
            place: "site".into(),
            officers: vec!["1001".into()],
            arrival,
            departure,
            remote: false,
            notice: None,
            annotations: vec![],
            interruptions: vec![],
            items: vec![],
            hold: None,
            classification: None,
        }
    }

    fn interruption(from: Millis, to: Millis, state: ApprovalState) -> Interruption {
        Interruption {
            id: "i1".into(),
            reason: InterruptionReason::Battery,
            basis: "battery died".into(),
            from,
            to,
            written_at: to,
            written_by: "1001".into(),
            approval: Approval {
                state,
                by: None,
                at: None,
                note: None,
            },
        }
    }

    fn run(acts: &[Activity], items: &[Item], now: Millis) -> Vec<Finding> {
        check(acts, items, &annex(), &Rules::default(), now)
    }

    #[test]
    fn unlinked_item_is_flagged_and_linked_is_not() {
        let f = run(
            &[activity("a", "1", 0, Some(H))],
            &[
                item("x", None, 0, 1000, 10),
                item("y", Some("a"), 0, H as u64, 10),
            ],
            H,
        );
        assert_eq!(
            f,
            vec![Finding::Unlinked {
                item: Hash::of(b"x"),
                name: "x.mp4".into()
            }]
        );
    }

    #[test]
    fn listed_matter_without_recording_is_flagged() {
        let acts = [
            activity("a", "1", 0, Some(H)),
            activity("b", "unlisted", 0, Some(H)),
            activity("c", "1", 0, None),
        ];
        let f = run(&acts, &[], H + 1);
        assert_eq!(
            f,
            vec![Finding::NoRecording {
                activity: "a".into(),
                matter: "1".into()
            }]
        );
        let f = run(&acts[..1], &[item("y", Some("a"), 0, H as u64, 10)], H + 1);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn gap_without_interruption_is_flagged_and_with_one_is_not() {
        // recorded 0..20 min and 40..60 min of a one-hour activity
        let items = [
            item("p", Some("a"), 0, (20 * M) as u64, H),
            item("q", Some("a"), 40 * M, (20 * M) as u64, H),
        ];
        let mut a = activity("a", "1", 0, Some(H));
        assert_eq!(
            run(&[a.clone()], &items, 2 * H),
            vec![Finding::CoverageGap {
                activity: "a".into(),
                from: 20 * M,
                to: 40 * M
            }]
        );
        a.interruptions
            .push(interruption(20 * M, 40 * M, ApprovalState::Pending));
        assert!(run(&[a.clone()], &items, 2 * H).is_empty());
        a.interruptions[0].approval.state = ApprovalState::Rejected;
        assert_eq!(run(&[a], &items, 2 * H).len(), 1);
    }

    #[test]
    fn late_start_early_stop_and_file_splits() {
        // starts 5 min after arrival, stops 5 min before departure, 10 s split in the middle
        let items = [
            item("p", Some("a"), 5 * M, (25 * M) as u64, H),
            item("q", Some("a"), 30 * M + 10_000, (25 * M - 10_000) as u64, H),
        ];
        let a = activity("a", "1", 0, Some(H));
        assert_eq!(
            run(&[a], &items, 2 * H),
            vec![
                Finding::CoverageGap {
                    activity: "a".into(),
                    from: 0,
                    to: 5 * M
                },
                Finding::CoverageGap {
                    activity: "a".into(),
                    from: 55 * M,
                    to: H
                },
            ]
        );
    }

    #[test]
    fn handover_deadline() {
        let a = activity("a", "unlisted", 0, Some(H));
        // nothing handed over 25 h after departure: overdue; 23 h: not yet
        assert_eq!(
            run(std::slice::from_ref(&a), &[], 26 * H),
            vec![Finding::HandoverOverdue {
                activity: "a".into(),
                deadline: 25 * H
            }]
        );
        assert!(run(std::slice::from_ref(&a), &[], 23 * H).is_empty());
        // handed over 30 h after departure: late; 2 h after: fine
        let late = item("p", Some("a"), 0, H as u64, 31 * H);
        assert_eq!(
            run(std::slice::from_ref(&a), &[late], 40 * H),
            vec![Finding::HandedOverLate {
                item: Hash::of(b"p"),
                deadline: 25 * H,
                ingested_at: 31 * H
            }]
        );
        assert!(run(&[a], &[item("p", Some("a"), 0, H as u64, 3 * H)], 40 * H).is_empty());
    }

    #[test]
    fn overridden_checks_and_pending_approvals() {
        let mut a = activity("a", "unlisted", 0, Some(H));
        a.interruptions = vec![
            interruption(10 * M, 20 * M, ApprovalState::Pending),
            Interruption {
                id: "i2".into(),
                ..interruption(30 * M, 40 * M, ApprovalState::Approved)
            },
            Interruption {
                id: "i3".into(),
                ..interruption(40 * M, 45 * M, ApprovalState::Rejected)
            },
        ];
        assert_eq!(
            pending_approvals(&a),
            vec![Finding::InterruptionPending {
                activity: "a".into(),
                interruption: "i1".into(),
                from: 10 * M,
                to: 20 * M
            }]
        );
        let out = |id: &str, reason: Option<&str>| CheckOut {
            id: id.into(),
            device: "cam-01".into(),
            officer: "1001".into(),
            out_at: 5,
            purpose: "patrol".into(),
            check: crate::ledger::PreUseCheck::new(20, 9000, true, 0, 0),
            check_failures: if reason.is_some() {
                vec!["battery 20% is below 50%".into()]
            } else {
                vec![]
            },
            override_reason: reason.map(String::from),
            in_at: None,
            in_note: None,
        };
        let found = overridden_checks(&[out("c1", None), out("c2", Some("only camera left"))]);
        assert_eq!(
            found,
            vec![Finding::CheckOverridden {
                checkout: "c2".into(),
                device: "cam-01".into(),
                officer: "1001".into(),
                out_at: 5,
                failures: vec!["battery 20% is below 50%".into()],
                reason: "only camera left".into(),
            }]
        );
        assert_eq!(found[0].article(), "art. 7");
    }
}
