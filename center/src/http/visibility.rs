//! Asks [`jilu_common::access::decide`] about one record: an activity (its
//! class, county, officers) or an item (its activity's class, its officer), with
//! the user's grants looked up only when the class needs one.

use std::collections::HashMap;

use anyhow::Result;
use jilu_common::access::{decide, effective, Class, Op, Principal, Target, Verdict};
use jilu_common::item::Item;

use crate::center::Center;
use crate::grants::{activity_target, item_target, Grants};
use crate::index::keys;
use crate::index::{ActivityRow, ItemRow, ItemState};
use jilu_common::time::Millis;

/// Decisions for one request, with the activity rows it read.
pub struct Seer<'a> {
    pub center: &'a Center,
    pub who: &'a Principal,
    rows: HashMap<(String, String), Option<ActivityRow>>,
}

impl<'a> Seer<'a> {
    pub fn new(center: &'a Center, who: &'a Principal) -> Seer<'a> {
        Seer {
            center,
            who,
            rows: HashMap::new(),
        }
    }

    pub fn activity_row(&mut self, county: &str, id: &str) -> Result<Option<ActivityRow>> {
        let key = (county.to_string(), id.to_string());
        if let Some(r) = self.rows.get(&key) {
            return Ok(r.clone());
        }
        let row: Option<ActivityRow> = self
            .center
            .journal
            .store
            .get_record(crate::schema::INDEX, &keys::activity_row(county, id))?;
        self.rows.insert(key, row.clone());
        Ok(row)
    }

    fn granted(&self, targets: &[&str]) -> Result<bool> {
        Grants(self.center).holds(&self.who.name, targets)
    }

    pub fn activity(&mut self, op: Op, row: &ActivityRow) -> Result<Verdict> {
        let granted = row.class > Class::Ordinary
            && self.granted(&[&activity_target(&row.county, &row.activity.id)])?;
        Ok(decide(
            self.who,
            op,
            Some(&Target {
                county: &row.county,
                officers: &row.activity.officers,
                class: row.class,
                granted,
            }),
        ))
    }

    /// The class that governs an item: the stricter of its own (from its
    /// county's registry document) and its activity's (ordinary when unlinked).
    pub fn item_class(&mut self, item: &Item) -> Result<Class> {
        let activity = match &item.activity {
            Some(a) => self
                .activity_row(&item.county, a)?
                .map(|r| r.class)
                .unwrap_or_default(),
            None => Class::Ordinary,
        };
        let own = self
            .center
            .journal
            .store
            .get(
                crate::schema::INDEX,
                &keys::item_class(&item.county, item.hash.as_bytes()),
            )?
            .map(|v| std::str::from_utf8(&v).map_or(Class::StateSecret, |t| Class::of_doc(Some(t))))
            .unwrap_or_default();
        Ok(effective(own, activity))
    }

    /// An ordinary record of a county that no classification covers (a ledger
    /// line): the county and officer scope decide.
    pub fn plain(&self, op: Op, county: &str, officers: &[String]) -> Verdict {
        decide(
            self.who,
            op,
            Some(&Target {
                county,
                officers,
                class: Class::Ordinary,
                granted: false,
            }),
        )
    }

    /// When the item may be cleared under its matter's retention; `None` when held.
    pub fn item_expiry(&mut self, row: &ItemRow) -> Result<Option<Millis>> {
        if row.state != ItemState::Verified {
            return Ok(None);
        }
        let activity = match &row.item.activity {
            Some(a) => self.activity_row(&row.item.county, a)?,
            None => None,
        };
        Ok(Some(crate::projection::item_expiry(
            Some(self.center),
            &row.item,
            activity.as_ref().map(|r| &r.activity),
        )))
    }

    pub fn item(&mut self, op: Op, item: &Item) -> Result<Verdict> {
        let class = self.item_class(item)?;
        let granted = if class > Class::Ordinary
            || (op == Op::ReadContent && self.who.role == jilu_common::access::Role::Auditor)
        {
            let mut targets = vec![item_target(&item.hash.to_hex())];
            if let Some(a) = &item.activity {
                targets.push(activity_target(&item.county, a));
            }
            let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
            self.granted(&refs)?
        } else {
            false
        };
        let officers = [item.officer.clone()];
        Ok(decide(
            self.who,
            op,
            Some(&Target {
                county: &item.county,
                officers: &officers,
                class,
                granted,
            }),
        ))
    }
}
