//! The equipment ratio of art. 3: recording devices per enforcement officer of a
//! unit, against the target the bureau configures (the provincial rules set it).
//! A retired device no longer counts; a device in repair still does (the unit
//! owns it).

use serde::{Deserialize, Serialize};

use crate::registry::{Device, DeviceStatus};

/// A unit's figures and how they compare with the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub officers: u64,
    pub devices: u64,
    /// devices per officer; `None` with no officer registered
    pub ratio: Option<f64>,
    pub target: f64,
    /// below the target (a unit with devices but no officer is not below)
    pub below: bool,
}

/// Whether a device counts towards the unit's equipment.
pub fn counts(d: &Device) -> bool {
    d.status != DeviceStatus::Retired
}

/// The ratio of a unit with `officers` officers and `devices` counted devices.
pub fn ratio(officers: u64, devices: u64, target: f64) -> Ratio {
    let ratio = (officers > 0).then(|| devices as f64 / officers as f64);
    Ratio {
        officers,
        devices,
        ratio,
        target,
        below: ratio.is_some_and(|r| r < target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DeviceKind;

    #[test]
    fn ratios_against_the_target() {
        let r = ratio(2, 3, 1.0);
        assert_eq!(r.ratio, Some(1.5));
        assert!(!r.below);
        assert!(ratio(2, 3, 2.0).below);
        assert!(!ratio(2, 4, 2.0).below, "exactly the target is not below");
        assert_eq!(ratio(0, 3, 1.0).ratio, None);
        assert!(!ratio(0, 3, 1.0).below);
        let mut d = Device {
            id: "cam".into(),
            kind: DeviceKind::BodyCamera,
            serial: "S".into(),
            unit: "一队".into(),
            status: DeviceStatus::Repair,
        };
        assert!(counts(&d));
        d.status = DeviceStatus::Retired;
        assert!(!counts(&d));
    }
}
