//! The body-camera ledger (art. 4) with the pre-use check (art. 7): one Automerge
//! document per county per month, plus small indexes (open and last check-out of
//! each device) kept beside it in the same batch.

use anyhow::{anyhow, bail, Result};
use jilu_common::audit::Action;
use jilu_common::doc;
use jilu_common::doc_name::DocName;
use jilu_common::ledger::{CheckOut, PreUseCheck};
use jilu_common::registry::DeviceStatus;
use jilu_common::subject::Actor;
use jilu_common::subject::Subject;
use jilu_common::time::{self, Millis};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::edge::{now_ms, Edge};
use crate::store;

/// One month (`YYYY-MM`) of the county's check-out ledger.
pub fn ledger_doc(county: &str, month: &str) -> Result<DocName> {
    DocName::ledger(county, month).map_err(|e| anyhow!("ledger month {month}: {e}"))
}

/// Where a check-out lives: its month's document and its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pointer {
    month: String,
    id: String,
}

impl jilu_common::record::Record for Pointer {
    const NAME: &'static str = "check-out pointer";
    const VERSION: u16 = 1;
}

use crate::schema::{checkout_last_key as last_key, checkout_open_key as open_key};

/// What the officer reports at check-out.
#[derive(Debug, Clone)]
pub struct CheckOutRequest {
    pub device: String,
    pub officer: String,
    pub purpose: String,
    pub battery_pct: u8,
    pub free_storage_mb: u64,
    pub works: bool,
    /// the time the device shows, read at the station
    pub device_clock: Millis,
    pub override_reason: Option<String>,
}

impl Edge {
    pub fn check_out(&self, actor: &Actor, req: CheckOutRequest) -> Result<CheckOut> {
        let mut device = self.device(&req.device)?;
        self.officer(&req.officer)?;
        if !device.kind.is_portable() {
            bail!(
                "device '{}' is a {} and is not checked out to officers",
                device.id,
                device.kind.name()
            );
        }
        match device.status {
            DeviceStatus::Available => {}
            DeviceStatus::CheckedOut => {
                let open = self.open_checkout(&device.id)?;
                let who = open
                    .map(|c| format!(" to officer {} since {}", c.officer, time::format(c.out_at)))
                    .unwrap_or_default();
                bail!("device '{}' is already checked out{who}: check it in first (`edge-node checkin {}`)", device.id, device.id);
            }
            other => bail!(
                "device '{}' is {:?} and cannot be checked out (see `edge-node device set-status`)",
                device.id,
                other
            ),
        }
        let station = now_ms();
        let check = PreUseCheck::new(
            req.battery_pct,
            req.free_storage_mb,
            req.works,
            req.device_clock,
            station,
        );
        let failures = check.failures(&self.cfg.check);
        let override_reason = req.override_reason.filter(|r| !r.trim().is_empty());
        if !failures.is_empty() && override_reason.is_none() {
            bail!(
                "pre-use check failed for device '{}': {}. Fix it, or check out anyway with --override \"REASON\" (the reason is recorded)",
                device.id,
                failures.join("; ")
            );
        }
        let month = time::month(station);
        let name = ledger_doc(&self.cfg.county, &month)?;
        let mut d = self.load_or_create_doc(&name)?;
        let mut tx = self.begin();
        let id = format!("C-{}-{}", self.cfg.county, tx.next_counter("checkout")?);
        let record = CheckOut {
            id: id.clone(),
            device: device.id.clone(),
            officer: req.officer,
            out_at: station,
            purpose: req.purpose,
            check,
            check_failures: failures,
            override_reason,
            in_at: None,
            in_note: None,
        };
        doc::put(&mut d, &["checkouts", &id], &record)?;
        tx.put_doc(&name, &mut d)?;
        device.status = DeviceStatus::CheckedOut;
        self.save_device(actor, &device, json!({}), Some(&mut tx))?;
        let ptr = Pointer {
            month,
            id: id.clone(),
        };
        tx.put_record(store::META, &open_key(&device.id), &ptr)?;
        tx.put_record(store::META, &last_key(&device.id), &ptr)?;
        tx.audit(
            actor,
            Action::CheckOut,
            Subject::Device(device.id.to_string()),
            serde_json::to_value(&record)?,
            &[],
        )?;
        tx.commit()?;
        Ok(record)
    }

    pub fn check_in(
        &self,
        actor: &Actor,
        device_id: &str,
        note: Option<String>,
    ) -> Result<CheckOut> {
        let mut device = self.device(device_id)?;
        let ptr = self
            .pointer(&open_key(device_id))?
            .ok_or_else(|| anyhow!("device '{device_id}' is not checked out"))?;
        let name = ledger_doc(&self.cfg.county, &ptr.month)?;
        let mut d = self
            .load_doc(&name)?
            .ok_or_else(|| anyhow!("ledger document {name} is missing"))?;
        let mut record: CheckOut = doc::get(&d, &["checkouts", &ptr.id])?
            .ok_or_else(|| anyhow!("check-out {} is missing from {name}", ptr.id))?;
        record.in_at = Some(now_ms());
        record.in_note = note;
        doc::put(&mut d, &["checkouts", &ptr.id], &record)?;
        let mut tx = self.begin();
        tx.put_doc(&name, &mut d)?;
        device.status = DeviceStatus::Available;
        self.save_device(actor, &device, json!({}), Some(&mut tx))?;
        tx.delete(store::META, &open_key(device_id))?;
        tx.audit(
            actor,
            Action::CheckIn,
            Subject::Device(device_id.to_string()),
            json!({"checkout": record.id, "note": record.in_note}),
            &[],
        )?;
        tx.commit()?;
        Ok(record)
    }

    pub fn open_checkout(&self, device: &str) -> Result<Option<CheckOut>> {
        self.follow(&open_key(device))
    }

    /// The device's latest check-out, open or closed: its clock offset corrects the
    /// times of the footage the device brings back.
    pub fn last_checkout(&self, device: &str) -> Result<Option<CheckOut>> {
        self.follow(&last_key(device))
    }

    /// Every check-out of a month (`YYYY-MM`).
    pub fn ledger(&self, month: &str) -> Result<Vec<CheckOut>> {
        let Some(d) = self.load_doc(&ledger_doc(&self.cfg.county, month)?)? else {
            return Ok(Vec::new());
        };
        Ok(doc::get_all::<CheckOut>(&d, &["checkouts"])?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }

    fn pointer(&self, key: &[u8]) -> Result<Option<Pointer>> {
        Ok(self.store.get_record(store::META, key)?)
    }

    fn follow(&self, key: &[u8]) -> Result<Option<CheckOut>> {
        let Some(ptr) = self.pointer(key)? else {
            return Ok(None);
        };
        let Some(d) = self.load_doc(&ledger_doc(&self.cfg.county, &ptr.month)?)? else {
            return Ok(None);
        };
        Ok(doc::get(&d, &["checkouts", &ptr.id])?)
    }
}
