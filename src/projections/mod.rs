//! Projections: deterministic folds over the ledger. Live, the writer hands
//! each committed batch to [`Projections`]; at start-up the same folds run over
//! the stored log, so both roads give the same state.

pub mod aliases;
pub mod billing;
pub mod compliance;
pub mod credentials;
pub mod key_state;
pub mod key_usage;
pub mod trail_index;
pub mod trail_keys;

use crate::crypto::keyring::Keyring;
use crate::domain::events::{DomainEvent, Envelope};
use crate::domain::ids::KeyId;
use crate::ledger::sql::ReadModel;
use crate::ledger::{CommitListener, NewEvent, StoreError, StoredEvent};
use std::sync::Arc;
use time::OffsetDateTime;

pub use aliases::Aliases;
pub use credentials::Credentials;
pub use key_state::KeyStates;
pub use trail_keys::TrailKeys;

/// The SQL read models, kept in the append transaction (`docs/read-models.md`).
pub fn read_models() -> Vec<std::sync::Arc<dyn ReadModel>> {
    vec![
        std::sync::Arc::new(key_usage::KeyUsage),
        std::sync::Arc::new(trail_index::TrailIndex),
        std::sync::Arc::new(billing::Billing),
        std::sync::Arc::new(compliance::Compliance),
    ]
}

/// Every in-process read model, fed in log order.
pub struct Projections {
    pub keys: KeyStates,
    pub aliases: Aliases,
    pub credentials: Credentials,
    pub trail_keys: TrailKeys,
    pub keyring: Arc<Keyring>,
}

impl Projections {
    pub fn new(keyring: Arc<Keyring>) -> Projections {
        Projections {
            keys: KeyStates::default(),
            aliases: Aliases::default(),
            credentials: Credentials::default(),
            trail_keys: TrailKeys::default(),
            keyring,
        }
    }

    /// Fold one lifecycle event recorded at `time`.
    pub fn apply(&self, event: &DomainEvent, time: OffsetDateTime) {
        self.keys.apply(event);
        self.aliases.apply(event, time);
        self.credentials.apply(event, time);
        self.trail_keys.apply(event);
    }

    /// Rebuild from stored lifecycle events, in log order.
    pub fn replay(&self, events: &[StoredEvent]) -> Result<(), StoreError> {
        for event in events {
            let envelope = Envelope::decode(&event.data).map_err(|reason| StoreError::Corrupt {
                position: event.position,
                reason,
            })?;
            if let Some(event) = envelope.lifecycle() {
                self.apply(event, envelope.time);
            }
        }
        Ok(())
    }
}

impl Projections {
    /// Every key and alias as canonical JSON: equal projections give equal bytes.
    pub fn snapshot_json(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .snapshot()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id, "account": k.account, "region": k.region, "arn": k.arn,
                    "created_at": k.created_at.unix_timestamp_nanos().to_string(),
                    "description": k.description, "spec": k.spec, "usage": k.usage, "origin": k.origin,
                    "state": k.state, "policy": k.policy, "tags": k.tags, "stream_version": k.stream_version,
                    "rotation": k.rotation.map(|r| serde_json::json!([r.period_days, r.next_rotation_date.unix_timestamp_nanos().to_string()])),
                    "deletion": k.deletion.map(|d| serde_json::json!([d.window_days, d.deletion_date.unix_timestamp_nanos().to_string()])),
                    "versions": k.versions.iter().map(version_snapshot).collect::<Vec<_>>(),
                    "pending_material": k.pending_material.as_ref().map(version_snapshot),
                    "multi_region": k.multi_region.map(|m| serde_json::json!([m.key_id, m.primary])),
                })
            })
            .collect();
        let aliases: Vec<serde_json::Value> = self
            .aliases
            .snapshot()
            .iter()
            .map(|a| {
                serde_json::json!({
                    "name": a.name, "account": a.account, "region": a.region, "key_id": a.key_id,
                    "created_at": a.created_at.unix_timestamp_nanos().to_string(),
                    "updated_at": a.updated_at.unix_timestamp_nanos().to_string(),
                    "stream_version": a.stream_version,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys, "aliases": aliases })
    }
}

fn version_snapshot(v: &crate::domain::key::KeyVersion) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({
        "number": v.number, "sealed": base64::engine::general_purpose::STANDARD.encode(&v.sealed.0),
        "created_at": v.created_at.unix_timestamp_nanos().to_string(),
        "rotation_type": v.rotation_type,
        "import": v.import.as_ref().map(|i| serde_json::json!({
            "material_id": i.material_id, "expiration_model": i.expiration_model.as_str(),
            "valid_to": i.valid_to.map(|t| t.unix_timestamp_nanos().to_string()),
            "description": i.description, "imported": i.imported,
        })),
    })
}

impl CommitListener for Projections {
    fn committed(&self, events: &[(u64, &NewEvent)], shredding_keys: &[(KeyId, Vec<u8>)]) {
        // Shredding keys first: a key must be usable as soon as its creation is visible.
        for (key_id, wrapped) in shredding_keys {
            self.keyring
                .add_wrapped_shredding_key(*key_id, wrapped.clone());
        }
        for (_, event) in events {
            if let Some((lifecycle, time)) = &event.lifecycle {
                match lifecycle {
                    DomainEvent::KeyDeleted(e) => self.keyring.forget(&e.key_id),
                    // Material the key no longer has (or that replaces a deleted pending
                    // one under its number) must not stay cached.
                    DomainEvent::ImportedKeyMaterialDeleted(e) => {
                        self.keyring.forget_version(&e.key_id, e.material_version)
                    }
                    DomainEvent::KeyMaterialImported(e) if e.sealed_material.is_some() => {
                        self.keyring.forget_version(&e.key_id, e.material_version)
                    }
                    _ => {}
                }
                self.apply(lifecycle, *time);
            }
        }
    }
}
