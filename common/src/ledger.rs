//! The body-camera ledger (art. 4): who took which device when, for what, and the
//! pre-use check done before it left the office (art. 7).

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// What the officer checked before use (art. 7), with the clock comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreUseCheck {
    pub battery_pct: u8,
    pub free_storage_mb: u64,
    /// the device powers on and records
    pub works: bool,
    /// the time shown on the device when compared
    pub device_clock: Millis,
    /// the station's time at the same moment
    pub station_clock: Millis,
    /// device minus station: subtract it from device times to get true times
    pub clock_offset_ms: i64,
}

/// Thresholds a pre-use check must meet. Defaults follow common practice for a
/// working day of recording; an office can change them in its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckPolicy {
    pub min_battery_pct: u8,
    pub min_free_storage_mb: u64,
    /// art. 7 asks the clock to be set: a larger offset than this fails the check
    pub max_clock_offset_ms: i64,
}

impl Default for CheckPolicy {
    fn default() -> Self {
        Self {
            min_battery_pct: 50,
            min_free_storage_mb: 4096,
            max_clock_offset_ms: 5_000,
        }
    }
}

impl PreUseCheck {
    pub fn new(
        battery_pct: u8,
        free_storage_mb: u64,
        works: bool,
        device_clock: Millis,
        station_clock: Millis,
    ) -> Self {
        Self {
            battery_pct,
            free_storage_mb,
            works,
            device_clock,
            station_clock,
            clock_offset_ms: device_clock - station_clock,
        }
    }

    /// Every way the check falls short of `policy`, in words for the officer.
    pub fn failures(&self, policy: &CheckPolicy) -> Vec<String> {
        let mut out = Vec::new();
        if !self.works {
            out.push("the device does not work".to_string());
        }
        if self.battery_pct < policy.min_battery_pct {
            out.push(format!(
                "battery {}% is below {}%",
                self.battery_pct, policy.min_battery_pct
            ));
        }
        if self.free_storage_mb < policy.min_free_storage_mb {
            out.push(format!(
                "free storage {} MB is below {} MB",
                self.free_storage_mb, policy.min_free_storage_mb
            ));
        }
        if self.clock_offset_ms.abs() > policy.max_clock_offset_ms {
            out.push(format!(
                "device clock is off by {} ms (more than {} ms): set the device's time",
                self.clock_offset_ms, policy.max_clock_offset_ms
            ));
        }
        out
    }
}

/// One line of the ledger: a check-out and, later, its check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOut {
    pub id: String,
    pub device: String,
    pub officer: String,
    pub out_at: Millis,
    /// what the device is taken for (记录内容)
    pub purpose: String,
    pub check: PreUseCheck,
    /// the check's failures, when it was overridden
    pub check_failures: Vec<String>,
    /// why the device left although the check failed
    pub override_reason: Option<String>,
    pub in_at: Option<Millis>,
    pub in_note: Option<String>,
}
