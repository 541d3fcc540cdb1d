//! The key-state projection: what the command handler reads.

use crate::domain::events::DomainEvent;
use crate::domain::ids::{AccountId, KeyId, Region};
use crate::domain::key::{apply, Key};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
struct Index {
    keys: HashMap<KeyId, Arc<Key>>,
    /// Keys deleted for good: gone for every API.
    deleted: std::collections::HashSet<KeyId>,
    /// Creation order, for ListKeys.
    order: Vec<KeyId>,
    /// The members of each multi-Region key (by its shared `mrk-` id), in creation order.
    members: HashMap<KeyId, Vec<KeyId>>,
}

#[derive(Default)]
pub struct KeyStates {
    index: RwLock<Index>,
}

impl KeyStates {
    pub fn apply(&self, event: &DomainEvent) {
        let Some(key_id) = event.key_id() else { return };
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let before = index.keys.get(&key_id).map(|k| (**k).clone());
        let existed = before.is_some();
        match apply(before, event) {
            Some(key) => {
                if !existed {
                    index.order.push(key_id);
                    if let Some(m) = key.multi_region {
                        index.members.entry(m.key_id).or_default().push(key_id);
                    }
                }
                index.keys.insert(key_id, Arc::new(key));
            }
            None => {
                if existed {
                    index.deleted.insert(key_id);
                }
                index.keys.remove(&key_id);
                index.order.retain(|id| *id != key_id);
            }
        }
    }

    pub fn was_deleted(&self, key_id: &KeyId) -> bool {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .deleted
            .contains(key_id)
    }

    /// Every key of every account, in creation order (the scheduler's worklist).
    pub fn all(&self) -> Vec<Arc<Key>> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index
            .order
            .iter()
            .filter_map(|id| index.keys.get(id))
            .cloned()
            .collect()
    }

    /// The key an id names in `region`: a multi-Region key's member there, or the key itself.
    pub fn get_in(&self, key_id: &KeyId, region: &Region) -> Option<Arc<Key>> {
        if !key_id.is_multi_region() {
            return self.get(key_id);
        }
        self.members(key_id)
            .into_iter()
            .find(|k| &k.region == region)
    }

    /// The id the key `key_id` shows (a multi-Region member's shared `mrk-` id); `key_id`
    /// itself for a key that is gone.
    pub fn shown_id(&self, key_id: &KeyId) -> KeyId {
        self.get(key_id).map_or(*key_id, |k| k.external_id())
    }

    /// The live members (primary and replicas) of the multi-Region key `mrk_id`.
    pub fn members(&self, mrk_id: &KeyId) -> Vec<Arc<Key>> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index
            .members
            .get(mrk_id)
            .into_iter()
            .flatten()
            .filter_map(|id| index.keys.get(id))
            .cloned()
            .collect()
    }

    pub fn get(&self, key_id: &KeyId) -> Option<Arc<Key>> {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .get(key_id)
            .cloned()
    }

    /// The keys of one account in one region, in creation order.
    pub fn list(&self, account: &AccountId, region: &Region) -> Vec<Arc<Key>> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index
            .order
            .iter()
            .filter_map(|id| index.keys.get(id))
            .filter(|k| &k.account == account && &k.region == region)
            .cloned()
            .collect()
    }

    /// Every key, ordered by id: a stable form for comparing two projections.
    pub fn snapshot(&self) -> Vec<Key> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<Key> = index.keys.values().map(|k| (**k).clone()).collect();
        keys.sort_by_key(|k| k.id);
        keys
    }
}
