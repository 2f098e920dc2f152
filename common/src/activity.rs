//! Enforcement activities (art. 8–12): where and when officers acted, the notice
//! given to the party, what the record shows, and the written record of any
//! interruption, which the unit head approves later (at the center).

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::time::Millis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    /// id in the matter catalogue
    pub matter: String,
    pub place: String,
    /// badges of the officers present
    pub officers: Vec<String>,
    /// arrival on site: recording must start here (art. 8)
    pub arrival: Millis,
    /// departure from site: recording may end here (art. 8)
    pub departure: Option<Millis>,
    /// "remote" work (边远/水上/异地/连续执法) gets 24 h after return to hand over (art. 13)
    pub remote: bool,
    pub notice: Option<Notice>,
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    #[serde(default)]
    pub interruptions: Vec<Interruption>,
    /// hashes of the items recorded during this activity
    #[serde(default)]
    pub items: Vec<Hash>,
    /// long-term preservation (art. 16), set at the city bureau
    #[serde(default)]
    pub hold: Option<Hold>,
    /// secrecy classification (art. 14), set at the city bureau
    #[serde(default)]
    pub classification: Option<String>,
}

/// Art. 16: a record kept long-term (dispute, obstruction or assault, major matter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub reason: String,
    pub by: String,
    pub at: Millis,
}

/// Art. 9: the party was told that recording is under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub at: Millis,
    pub by: String,
    /// the words used, as the provincial phrasebook gives them
    pub words: String,
}

/// Art. 10: what the record shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnnotationKind {
    Place,
    Time,
    Scene,
    Participants,
    OfficerConduct,
    PartyConduct,
    Violation,
    Evidence,
}

impl std::str::FromStr for AnnotationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "place" => Self::Place,
            "time" => Self::Time,
            "scene" => Self::Scene,
            "participants" => Self::Participants,
            "officer-conduct" => Self::OfficerConduct,
            "party-conduct" => Self::PartyConduct,
            "violation" => Self::Violation,
            "evidence" => Self::Evidence,
            _ => {
                return Err(format!(
                    "unknown annotation kind '{s}': use place, time, scene, participants, officer-conduct, party-conduct, violation or evidence"
                ))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub kind: AnnotationKind,
    pub text: String,
    /// the item the annotation refers to, if any
    pub item: Option<Hash>,
    pub at: Option<Millis>,
    pub by: String,
}

/// Art. 12's grounds for stopping a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterruptionReason {
    /// (一) device fault or damage, low battery, full storage
    DeviceFault,
    Battery,
    Storage,
    /// (二) bad weather or other natural causes
    Weather,
    /// (三) the party or others obstructed the recording
    Obstruction,
    /// (四) other force majeure
    ForceMajeure,
    Other,
}

impl std::str::FromStr for InterruptionReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "device-fault" => Self::DeviceFault,
            "battery" => Self::Battery,
            "storage" => Self::Storage,
            "weather" => Self::Weather,
            "obstruction" => Self::Obstruction,
            "force-majeure" => Self::ForceMajeure,
            "other" => Self::Other,
            _ => {
                return Err(format!(
                    "unknown interruption reason '{s}': use device-fault, battery, storage, weather, obstruction, force-majeure or other"
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    /// written at the county office, waiting for the unit head
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub state: ApprovalState,
    pub by: Option<String>,
    pub at: Option<Millis>,
    pub note: Option<String>,
}

/// The written record of an interruption (art. 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interruption {
    pub id: String,
    pub reason: InterruptionReason,
    /// 原因和依据: what happened and on what basis recording stopped
    pub basis: String,
    /// the period without recording
    pub from: Millis,
    pub to: Millis,
    pub written_at: Millis,
    pub written_by: String,
    pub approval: Approval,
}
