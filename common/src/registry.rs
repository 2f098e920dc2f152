//! Devices (art. 2) and the officers who use them.

use serde::{Deserialize, Serialize};

/// The recording equipment art. 2 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    BodyCamera,
    Camera,
    AudioRecorder,
    VideoCamera,
    HandheldTerminal,
    Cctv,
    Storage,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 7] = [
        DeviceKind::BodyCamera,
        DeviceKind::Camera,
        DeviceKind::AudioRecorder,
        DeviceKind::VideoCamera,
        DeviceKind::HandheldTerminal,
        DeviceKind::Cctv,
        DeviceKind::Storage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::BodyCamera => "body-camera",
            DeviceKind::Camera => "camera",
            DeviceKind::AudioRecorder => "audio-recorder",
            DeviceKind::VideoCamera => "video-camera",
            DeviceKind::HandheldTerminal => "handheld-terminal",
            DeviceKind::Cctv => "cctv",
            DeviceKind::Storage => "storage",
        }
    }

    /// Only portable recorders are checked out to an officer (art. 4, 7).
    pub fn is_portable(self) -> bool {
        !matches!(self, DeviceKind::Cctv | DeviceKind::Storage)
    }
}

impl std::str::FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = DeviceKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown device kind '{s}': use one of {}", names.join(", "))
            })
    }
}

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceStatus {
    /// in the office, ready to be checked out
    Available,
    /// checked out to an officer (see the ledger)
    CheckedOut,
    /// broken or being repaired: cannot be checked out
    Repair,
    /// no longer used
    Retired,
}

impl std::str::FromStr for DeviceStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "available" => Ok(DeviceStatus::Available),
            "checked-out" => Ok(DeviceStatus::CheckedOut),
            "repair" => Ok(DeviceStatus::Repair),
            "retired" => Ok(DeviceStatus::Retired),
            _ => Err(format!(
                "unknown device status '{s}': use available, checked-out, repair or retired"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// the office's id for the device (what the dock folder is named after)
    pub id: String,
    pub kind: DeviceKind,
    pub serial: String,
    /// the unit (科室/队) the device belongs to
    pub unit: String,
    pub status: DeviceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    /// enforcement certificate / badge number
    pub badge: String,
    pub name: String,
    pub unit: String,
}
