//! The center's projections of merged documents and items, kept in the `index`
//! family so that a list or a page costs O(page), not O(everything). The rows
//! are written by [`crate::projection`] in the same write batch as the merge
//! that changes them; [`query`] pages through them.

pub mod keys;
pub mod overlay;
pub mod query;

use jilu_common::access::Class;
use jilu_common::activity::Activity;
use jilu_common::compliance::Finding;
use jilu_common::item::Item;
use jilu_common::ledger::CheckOut;
use jilu_common::record::Record;
use jilu_common::registry::Device;
use jilu_common::time::Millis;
use serde::{Deserialize, Serialize};

/// An activity as merged, with what the lists need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    pub county: String,
    pub activity: Activity,
    pub class: Class,
    /// art. 13 deadline (departure + window), when the activity has ended
    pub deadline: Option<Millis>,
    /// items linked to it that the center holds
    pub items: u64,
    /// interruption records waiting for the unit head
    pub pending: u64,
}

impl Record for ActivityRow {
    const NAME: &'static str = "activity row";
    const VERSION: u16 = 1;
}

/// Item state at the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// verified, under the ordinary retention
    Verified,
    /// its activity is on hold (art. 16)
    Held,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Verified => "verified",
            ItemState::Held => "held",
        }
    }
    pub fn parse(s: &str) -> Option<ItemState> {
        match s {
            "verified" => Some(ItemState::Verified),
            "held" => Some(ItemState::Held),
            _ => None,
        }
    }
}

/// An item, with its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRow {
    pub item: Item,
    pub state: ItemState,
}

impl Record for ItemRow {
    const NAME: &'static str = "item row";
    const VERSION: u16 = 1;
}

/// A device as seen in the items it recorded and in its county's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRow {
    pub county: String,
    pub device: String,
    pub items: u64,
    /// the latest capture start of its items (meaningless while `items` is 0)
    pub last_capture: Millis,
    /// its entry in `registry/<county>`, once that document has it
    #[serde(default)]
    pub registered: Option<Device>,
}

impl Record for DeviceRow {
    const NAME: &'static str = "device row";
    const VERSION: u16 = 1;
}

/// A line of a county's check-out ledger (art. 4), with its pre-use check,
/// override and the clock offset measured at check-out (art. 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub county: String,
    /// the ledger document's month, `YYYY-MM`
    pub month: String,
    #[serde(flatten)]
    pub checkout: CheckOut,
}

impl Record for LedgerRow {
    const NAME: &'static str = "ledger row";
    const VERSION: u16 = 1;
}

/// What a county's registry counts for the equipment ratio (art. 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRow {
    pub county: String,
    pub officers: u64,
    /// devices that count ([`jilu_common::equipment::counts`])
    pub devices: u64,
}

impl Record for RegistryRow {
    const NAME: &'static str = "registry row";
    const VERSION: u16 = 1;
}

/// A compliance finding of one county (rules of [`jilu_common::compliance`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRow {
    pub county: String,
    /// what it concerns: an activity id, or `item:HASH` for an unlinked item
    pub owner: String,
    pub article: String,
    #[serde(flatten)]
    pub finding: Finding,
}

impl Record for FindingRow {
    const NAME: &'static str = "finding row";
    const VERSION: u16 = 1;
}
