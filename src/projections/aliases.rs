//! The alias projection: alias name → key, per account and region.

use crate::domain::alias::{apply, Alias};
use crate::domain::events::{alias_stream, DomainEvent};
use crate::domain::ids::{AccountId, KeyId, Region};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use time::OffsetDateTime;

#[derive(Default)]
pub struct Aliases {
    /// By stream (region/account/name): ordered, so listings are stable.
    by_stream: RwLock<BTreeMap<String, Alias>>,
    /// Every alias stream's version, deleted aliases included (a re-created alias continues it).
    versions: RwLock<BTreeMap<String, u64>>,
    /// Alias names by the key they name: `kms:ResourceAliases` on every authorized call,
    /// without a scan of every alias.
    by_key: RwLock<HashMap<KeyId, Vec<String>>>,
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
        let mut by_key = self.by_key.write().unwrap_or_else(|p| p.into_inner());
        if let Some(before) = &before {
            if let Some(names) = by_key.get_mut(&before.key_id) {
                names.retain(|n| n != &before.name);
            }
        }
        if let Some(mut after) = apply(before, event, time) {
            after.stream_version = *version;
            let names = by_key.entry(after.key_id).or_default();
            names.push(after.name.clone());
            names.sort();
            map.insert(stream, after);
        }
    }

    /// The names of the aliases that name `key` (aliases and keys share one account and
    /// region, and key ids are unique), sorted.
    pub fn names_of(&self, key: KeyId) -> Vec<String> {
        self.by_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
            .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{AliasCreated, AliasDeleted, AliasUpdated};

    #[test]
    fn the_index_by_key_agrees_with_the_aliases_through_create_update_and_delete() {
        let aliases = Aliases::default();
        let region = Region::parse("us-east-1").unwrap();
        let account = AccountId::parse("111122223333").unwrap();
        let a = KeyId::parse("11111111-1111-1111-1111-111111111111").unwrap();
        let b = KeyId::parse("22222222-2222-2222-2222-222222222222").unwrap();
        let t = OffsetDateTime::UNIX_EPOCH;
        let created = |name: &str, key_id| {
            DomainEvent::AliasCreated(AliasCreated {
                alias_name: name.into(),
                account_id: account.clone(),
                region: region.clone(),
                key_id,
            })
        };
        aliases.apply(&created("alias/x", a), t);
        aliases.apply(&created("alias/y", a), t);
        aliases.apply(
            &DomainEvent::AliasUpdated(AliasUpdated {
                alias_name: "alias/x".into(),
                account_id: account.clone(),
                region: region.clone(),
                key_id: b,
            }),
            t,
        );
        let listed = |key| -> Vec<String> {
            aliases
                .list(&region, &account, Some(key))
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(aliases.names_of(a), ["alias/y"]);
        assert_eq!(aliases.names_of(a), listed(a));
        assert_eq!(aliases.names_of(b), listed(b));
        aliases.apply(
            &DomainEvent::AliasDeleted(AliasDeleted {
                alias_name: "alias/x".into(),
                account_id: account.clone(),
                region: region.clone(),
            }),
            t,
        );
        assert!(aliases.names_of(b).is_empty());
        assert_eq!(aliases.names_of(a), listed(a));
    }
}
