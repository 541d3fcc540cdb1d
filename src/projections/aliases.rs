//! The alias projection: alias name → key, per account and region.

use crate::domain::alias::{apply, Alias};
use crate::domain::events::{alias_stream, DomainEvent};
use crate::domain::ids::{AccountId, KeyId, Region};
use std::collections::BTreeMap;
use std::sync::RwLock;
use time::OffsetDateTime;

#[derive(Default)]
pub struct Aliases {
    /// By stream (region/account/name): ordered, so listings are stable.
    by_stream: RwLock<BTreeMap<String, Alias>>,
    /// Every alias stream's version, deleted aliases included (a re-created alias continues it).
    versions: RwLock<BTreeMap<String, u64>>,
}

impl Aliases {
    pub fn apply(&self, event: &DomainEvent, time: OffsetDateTime) {
        let (region, account, name) = match event {
            DomainEvent::AliasCreated(e) => (&e.region, &e.account_id, &e.alias_name),
            DomainEvent::AliasUpdated(e) => (&e.region, &e.account_id, &e.alias_name),
            DomainEvent::AliasDeleted(e) => (&e.region, &e.account_id, &e.alias_name),
            _ => return,
        };
        let stream = alias_stream(region, account, name);
        let mut map = self.by_stream.write().unwrap_or_else(|p| p.into_inner());
        let mut versions = self.versions.write().unwrap_or_else(|p| p.into_inner());
        let version = versions.entry(stream.clone()).or_insert(0);
        *version += 1;
        let before = map.remove(&stream);
        if let Some(mut after) = apply(before, event, time) {
            after.stream_version = *version;
            map.insert(stream, after);
        }
    }

    pub fn get(&self, region: &Region, account: &AccountId, name: &str) -> Option<Alias> {
        self.by_stream
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&alias_stream(region, account, name))
            .cloned()
    }

    /// The version the alias stream stands at (0 if it never existed).
    pub fn stream_version(&self, region: &Region, account: &AccountId, name: &str) -> u64 {
        self.versions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&alias_stream(region, account, name))
            .copied()
            .unwrap_or(0)
    }

    /// Aliases of one account in one region, by name; only those naming `key` if given.
    pub fn list(&self, region: &Region, account: &AccountId, key: Option<KeyId>) -> Vec<Alias> {
        let map = self.by_stream.read().unwrap_or_else(|p| p.into_inner());
        let mut aliases: Vec<Alias> = map
            .values()
            .filter(|a| &a.region == region && &a.account == account)
            .filter(|a| key.is_none_or(|k| a.key_id == k))
            .cloned()
            .collect();
        aliases.sort_by(|a, b| a.name.cmp(&b.name));
        aliases
    }

    /// Every alias, for comparing two projections.
    pub fn snapshot(&self) -> Vec<Alias> {
        self.by_stream
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
