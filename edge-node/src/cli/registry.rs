//! `device`, `officer` and `matter`: the office's registry (art. 2) and the
//! catalogue of matters that must be recorded (art. 6 and annex).

use anyhow::Result;
use clap::{Args, Subcommand};
use jilu_common::matter::{Matter, DEFAULT_RETENTION_DAYS};
use jilu_common::registry::{Device, DeviceKind, DeviceStatus, Officer};
use serde::{Deserialize, Serialize};

use super::context::Ctx;

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum DeviceCmd {
    /// Register a device.
    Add {
        /// The office's id for it; a docked device's folder is named after it.
        id: String,
        /// body-camera, camera, audio-recorder, video-camera, handheld-terminal, cctv or storage.
        #[arg(long)]
        kind: DeviceKind,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        unit: String,
    },
    /// List devices.
    List,
    /// Mark a device available, under repair or retired.
    SetStatus {
        id: String,
        /// available, repair or retired.
        status: DeviceStatus,
    },
}

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum OfficerCmd {
    /// Register an officer.
    Add {
        badge: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        unit: String,
    },
    /// List officers.
    List,
}

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum MatterCmd {
    /// List the catalogue.
    List,
    /// Add or change a row of the catalogue.
    Set(Box<MatterArgs>),
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct MatterArgs {
    pub id: String,
    /// 执法类别
    #[arg(long)]
    pub category: String,
    /// 执法事项
    #[arg(long)]
    pub matter: String,
    /// 记录环节
    #[arg(long, default_value = "")]
    pub stage: String,
    /// 执法场所
    #[arg(long, default_value = "")]
    pub venue: String,
    /// 记录人
    #[arg(long, default_value = "")]
    pub recorder: String,
    /// 记录开始时间
    #[arg(long, default_value = "")]
    pub start_trigger: String,
    /// 记录内容
    #[arg(long, default_value = "")]
    pub content: String,
    /// 记录结束时间
    #[arg(long, default_value = "")]
    pub end_trigger: String,
    /// 记录存储时间
    #[arg(long, default_value = "")]
    pub storage: String,
    /// 执法记录类别
    #[arg(long, default_value = "")]
    pub record_category: String,
    /// Recording is not mandatory for this matter.
    #[arg(long)]
    pub optional: bool,
    /// Days to keep footage (art. 15: three months).
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
}

pub fn device(ctx: &mut Ctx<'_>, cmd: &DeviceCmd) -> Result<()> {
    match cmd {
        DeviceCmd::Add {
            id,
            kind,
            serial,
            unit,
        } => {
            let edge = ctx.rw()?;
            let d = Device {
                id: id.clone(),
                kind: *kind,
                serial: serial.clone(),
                unit: unit.clone(),
                status: DeviceStatus::Available,
            };
            edge.add_device(&ctx.actor, d.clone())?;
            ctx.out.show(&serde_json::to_value(&d)?, || {
                format!(
                    "registered {} {} (serial {serial}, unit {unit})",
                    kind.name(),
                    id
                )
            });
        }
        DeviceCmd::List => {
            let edge = ctx.ro()?;
            for d in edge.devices()? {
                ctx.out.show(&serde_json::to_value(&d)?, || {
                    format!(
                        "{:<16} {:<18} serial {:<14} unit {:<12} {:?}",
                        d.id,
                        d.kind.name(),
                        d.serial,
                        d.unit,
                        d.status
                    )
                });
            }
        }
        DeviceCmd::SetStatus { id, status } => {
            let edge = ctx.rw()?;
            edge.set_device_status(&ctx.actor, id, *status)?;
            ctx.out.say(|| format!("device {id} is now {status:?}"));
        }
    }
    Ok(())
}

pub fn officer(ctx: &mut Ctx<'_>, cmd: &OfficerCmd) -> Result<()> {
    match cmd {
        OfficerCmd::Add { badge, name, unit } => {
            let edge = ctx.rw()?;
            let o = Officer {
                badge: badge.clone(),
                name: name.clone(),
                unit: unit.clone(),
            };
            edge.add_officer(&ctx.actor, o.clone())?;
            ctx.out.show(&serde_json::to_value(&o)?, || {
                format!("registered officer {badge} {name} ({unit})")
            });
        }
        OfficerCmd::List => {
            let edge = ctx.ro()?;
            for o in edge.officers()? {
                ctx.out.show(&serde_json::to_value(&o)?, || {
                    format!("{:<10} {:<12} {}", o.badge, o.name, o.unit)
                });
            }
        }
    }
    Ok(())
}

pub fn matter(ctx: &mut Ctx<'_>, cmd: &MatterCmd) -> Result<()> {
    match cmd {
        MatterCmd::List => {
            let edge = ctx.ro()?;
            for m in edge.matters()? {
                ctx.out.show(&serde_json::to_value(&m)?, || {
                    format!(
                        "{}  {} / {}  环节:{} 场所:{} 记录人:{} 开始:{} 结束:{} 类别:{} 保存:{} ({} days){}",
                        m.id,
                        m.category,
                        m.matter,
                        m.stage,
                        m.venue,
                        m.recorder,
                        m.start_trigger,
                        m.end_trigger,
                        m.record_category,
                        m.storage,
                        m.retention_days,
                        if m.must_record { "" } else { " (optional)" }
                    )
                });
            }
        }
        MatterCmd::Set(a) => {
            let edge = ctx.rw()?;
            let m = Matter {
                id: a.id.clone(),
                category: a.category.clone(),
                matter: a.matter.clone(),
                stage: a.stage.clone(),
                venue: a.venue.clone(),
                recorder: a.recorder.clone(),
                start_trigger: a.start_trigger.clone(),
                content: a.content.clone(),
                end_trigger: a.end_trigger.clone(),
                storage: a.storage.clone(),
                record_category: a.record_category.clone(),
                must_record: !a.optional,
                retention_days: a.retention_days,
            };
            edge.set_matter(&ctx.actor, m)?;
            ctx.out.say(|| format!("matter {} saved", a.id));
        }
    }
    Ok(())
}
