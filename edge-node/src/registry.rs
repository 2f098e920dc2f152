//! The office's registry: devices (art. 2), officers, and the matter catalogue
//! (art. 6 and annex), each kept in an Automerge document.

use anyhow::{anyhow, bail, Result};
use jilu_common::audit::Action;
use jilu_common::doc_name::DocName;
use jilu_common::matter::Matter;
use jilu_common::registry::{Device, DeviceStatus, Officer};
use jilu_common::subject::Actor;
use jilu_common::subject::Subject;
use jilu_common::{doc, id};
use serde_json::json;

use crate::edge::Edge;

pub use jilu_common::matter::CATALOGUE;

/// The county's device registry document.
pub fn registry_doc(county: &str) -> Result<DocName> {
    DocName::registry(county).map_err(|e| anyhow!("county {county}: {e}"))
}

/// The catalogue as first issued: the same seed change on every node.
pub fn seed_catalogue() -> Result<automerge::AutoCommit> {
    Ok(jilu_common::matter::seed_catalogue()?)
}

impl Edge {
    pub fn devices(&self) -> Result<Vec<Device>> {
        let Some(d) = self.load_doc(&registry_doc(&self.cfg.county)?)? else {
            return Ok(Vec::new());
        };
        Ok(doc::get_all::<Device>(&d, &["devices"])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    pub fn device(&self, id: &str) -> Result<Device> {
        self.devices()?.into_iter().find(|d| d.id == id).ok_or_else(|| {
            anyhow!("unknown device '{id}': register it with `edge-node device add {id} --kind KIND --serial SERIAL --unit UNIT`")
        })
    }

    pub fn officers(&self) -> Result<Vec<Officer>> {
        let Some(d) = self.load_doc(&registry_doc(&self.cfg.county)?)? else {
            return Ok(Vec::new());
        };
        Ok(doc::get_all::<Officer>(&d, &["officers"])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    pub fn officer(&self, badge: &str) -> Result<Officer> {
        self.officers()?.into_iter().find(|o| o.badge == badge).ok_or_else(|| {
            anyhow!("unknown officer '{badge}': register them with `edge-node officer add {badge} --name NAME --unit UNIT`")
        })
    }

    pub fn add_device(&self, actor: &Actor, device: Device) -> Result<()> {
        id::check("device id", &device.id)?;
        let name = registry_doc(&self.cfg.county)?;
        let mut d = self.load_or_create_doc(&name)?;
        if doc::get::<Device>(&d, &["devices", &device.id])?.is_some() {
            bail!(
                "device '{}' is already registered (see `edge-node device list`)",
                device.id
            );
        }
        doc::put(&mut d, &["devices", &device.id], &device)?;
        let mut tx = self.begin();
        tx.put_doc(&name, &mut d)?;
        tx.audit(
            actor,
            Action::DeviceRegistered,
            Subject::Device(device.id.to_string()),
            serde_json::to_value(&device)?,
            &[],
        )?;
        tx.commit()
    }

    /// Changes a device's status (repair, retired, available); check-out and
    /// check-in change it through the ledger.
    pub fn set_device_status(&self, actor: &Actor, id: &str, status: DeviceStatus) -> Result<()> {
        let mut device = self.device(id)?;
        if device.status == DeviceStatus::CheckedOut || status == DeviceStatus::CheckedOut {
            bail!("device '{id}' changes to or from checked-out only by `edge-node checkout` / `edge-node checkin`");
        }
        let from = device.status;
        device.status = status;
        self.save_device(actor, &device, json!({"from": from, "to": status}), None)
    }

    pub(crate) fn save_device(
        &self,
        actor: &Actor,
        device: &Device,
        detail: serde_json::Value,
        tx: Option<&mut crate::edge::Tx<'_>>,
    ) -> Result<()> {
        let name = registry_doc(&self.cfg.county)?;
        let mut d = self.load_or_create_doc(&name)?;
        doc::put(&mut d, &["devices", &device.id], device)?;
        match tx {
            Some(tx) => tx.put_doc(&name, &mut d),
            None => {
                let mut tx = self.begin();
                tx.put_doc(&name, &mut d)?;
                tx.audit(
                    actor,
                    Action::DeviceChanged,
                    Subject::Device(device.id.to_string()),
                    detail,
                    &[],
                )?;
                tx.commit()
            }
        }
    }

    pub fn add_officer(&self, actor: &Actor, officer: Officer) -> Result<()> {
        id::check("badge", &officer.badge)?;
        let name = registry_doc(&self.cfg.county)?;
        let mut d = self.load_or_create_doc(&name)?;
        if doc::get::<Officer>(&d, &["officers", &officer.badge])?.is_some() {
            bail!(
                "officer '{}' is already registered (see `edge-node officer list`)",
                officer.badge
            );
        }
        doc::put(&mut d, &["officers", &officer.badge], &officer)?;
        let mut tx = self.begin();
        tx.put_doc(&name, &mut d)?;
        tx.audit(
            actor,
            Action::OfficerRegistered,
            Subject::Officer(officer.badge.to_string()),
            serde_json::to_value(&officer)?,
            &[],
        )?;
        tx.commit()
    }

    pub fn matters(&self) -> Result<Vec<Matter>> {
        let Some(d) = self.load_doc(CATALOGUE)? else {
            return Ok(Vec::new());
        };
        Ok(doc::get_all::<Matter>(&d, &["matters"])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    pub fn matter(&self, id: &str) -> Result<Matter> {
        self.matters()?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| anyhow!("unknown matter '{id}': see `edge-node matter list`, or add it with `edge-node matter set {id} ...`"))
    }

    /// Adds or replaces a catalogue row.
    pub fn set_matter(&self, actor: &Actor, matter: Matter) -> Result<()> {
        id::check("matter id", &matter.id)?;
        let mut d = self.load_doc(CATALOGUE)?.ok_or_else(|| anyhow!("the matter catalogue is missing: the store was not initialised by `edge-node init`"))?;
        let before = doc::get::<Matter>(&d, &["matters", &matter.id])?;
        doc::put(&mut d, &["matters", &matter.id], &matter)?;
        let mut tx = self.begin();
        tx.put_doc(CATALOGUE, &mut d)?;
        tx.audit(
            actor,
            Action::MatterEdited,
            Subject::Matter(matter.id.to_string()),
            json!({"before": before, "after": matter}),
            &[],
        )?;
        tx.commit()
    }
}
