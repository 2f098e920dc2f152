//! Projections of a county's registry and ledger documents for the device pages
//! and the equipment ratio report (art. 3, 4, 7): each device's registry entry
//! (into its [`DeviceRow`]), each check-out as a [`LedgerRow`] under its device,
//! and the county's officer and device counts ([`RegistryRow`]). Written by
//! [`crate::projection`] in the merge's own batch, from the documents alone, so a
//! rebuild gives the same rows.

use anyhow::Result;
use automerge::AutoCommit;
use jilu_common::doc;
use jilu_common::equipment;
use jilu_common::ledger::CheckOut;
use jilu_common::registry::{Device, Officer};

use crate::index::keys::{self, Key};
use crate::index::overlay::Overlay;
use crate::index::{DeviceRow, LedgerRow, RegistryRow};

/// `registry/<county>` now reads as `d`.
pub fn put_registry(ov: &mut Overlay<'_>, county: &str, d: &AutoCommit) -> Result<()> {
    let devices: Vec<Device> = doc::get_all::<Device>(d, &["devices"])?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let officers = doc::get_all::<Officer>(d, &["officers"])?.len() as u64;
    // a device gone from the registry loses its entry (and its row, with no items)
    for k in ov.keys(&Key::new("dv").text(county).done())? {
        let Some(mut row) = ov.get_record::<DeviceRow>(&k)? else {
            continue;
        };
        if row.registered.is_some() && !devices.iter().any(|x| x.id == row.device) {
            row.registered = None;
            if row.items == 0 {
                ov.delete(k);
            } else {
                ov.put_record(k, &row);
            }
        }
    }
    for dev in &devices {
        let k = keys::device_row(county, &dev.id);
        let mut row = ov.get_record::<DeviceRow>(&k)?.unwrap_or(DeviceRow {
            county: county.to_string(),
            device: dev.id.clone(),
            items: 0,
            last_capture: 0,
            registered: None,
        });
        row.registered = Some(dev.clone());
        ov.put_record(k, &row);
    }
    ov.put_record(
        keys::registry_row(county),
        &RegistryRow {
            county: county.to_string(),
            officers,
            devices: devices.iter().filter(|d| equipment::counts(d)).count() as u64,
        },
    );
    Ok(())
}

/// `ledger/<county>/<month>` now holds `checkouts`.
pub fn put_ledger(
    ov: &mut Overlay<'_>,
    county: &str,
    month: &str,
    checkouts: &[CheckOut],
) -> Result<()> {
    let written = keys::ledger_month(county, month);
    // what this document wrote before: drop it, then write what it holds now
    for at in ov.keys(&written)? {
        if let Some(old) = ov.get(&at)? {
            ov.delete(old);
        }
        ov.delete(at);
    }
    for c in checkouts {
        let k = keys::ledger_row(county, &c.device, c.out_at, &c.id);
        let mut at = written.clone();
        at.extend_from_slice(c.id.as_bytes());
        ov.put(at, k.clone());
        ov.put_record(
            k,
            &LedgerRow {
                county: county.to_string(),
                month: month.to_string(),
                checkout: c.clone(),
            },
        );
    }
    Ok(())
}
