//! Writes to the `index` family not yet committed, over what is stored: the
//! projection reads its own writes within one merge, and a rebuild (which starts
//! from nothing) is the same code over an empty base.

use std::collections::BTreeMap;

use anyhow::Result;
use jilu_common::record::{self, Record};
use jilu_store::db::Store;
use jilu_store::journal::Tx;

use crate::schema::INDEX;

pub struct Overlay<'a> {
    /// `None`: start from an empty index (a rebuild)
    base: Option<&'a Store>,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    pub fn over(store: &'a Store) -> Overlay<'a> {
        Overlay {
            base: Some(store),
            pending: BTreeMap::new(),
        }
    }

    pub fn empty() -> Overlay<'a> {
        Overlay {
            base: None,
            pending: BTreeMap::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.pending.get(key) {
            return Ok(v.clone());
        }
        match self.base {
            Some(s) => Ok(s.get(INDEX, key)?),
            None => Ok(None),
        }
    }

    pub fn get_record<R: Record>(&self, key: &[u8]) -> Result<Option<R>> {
        Ok(self.get(key)?.map(|v| record::decode(&v)).transpose()?)
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    pub fn put_record<R: Record>(&mut self, key: Vec<u8>, r: &R) {
        self.put(key, record::encode(r));
    }

    pub fn mark(&mut self, key: Vec<u8>) {
        self.put(key, Vec::new());
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// Keys under `prefix`, stored and pending, in order.
    pub fn keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        if let Some(s) = self.base {
            for (k, _) in s.scan_prefix(INDEX, prefix)? {
                out.insert(k, true);
            }
        }
        for (k, v) in self.pending.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            out.insert(k.clone(), v.is_some());
        }
        Ok(out
            .into_iter()
            .filter(|(_, l)| *l)
            .map(|(k, _)| k)
            .collect())
    }

    /// Adds the pending writes to a change.
    pub fn flush(self, tx: &mut Tx<'_>) -> Result<()> {
        for (k, v) in self.pending {
            match v {
                Some(v) => tx.put(INDEX, &k, &v)?,
                None => tx.delete(INDEX, &k)?,
            }
        }
        Ok(())
    }

    /// The whole index this overlay describes (a rebuild's result).
    pub fn into_entries(self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.pending
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }
}
