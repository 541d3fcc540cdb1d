//! The scheduler: what the service does by itself — automatic rotations and
//! deletions whose waiting period is over. Each is recorded like an API call
//! (CloudTrail `AwsServiceEvent`: `RotateKey`, `DeleteKey`, `DeleteExpiredKeyMaterial`). Time comes from the
//! service's injectable clock, so tests move it instead of sleeping.

use super::{ApiError, CallRecord, RequestContext, Service};
use crate::domain::events::RotationType;
use crate::domain::ids::KeyId;
use crate::domain::key::KeyState;
use crate::ledger::AppendError;
use std::time::Duration;

/// How often the background scheduler looks for due work.
pub const TICK: Duration = Duration::from_secs(1);

/// The source and user agent CloudTrail gives service events.
pub const SERVICE_PRINCIPAL: &str = "kms.amazonaws.com";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Due {
    Delete,
    Rotate,
    /// Imported material (this `KeyMaterialId`) whose `ValidTo` has passed.
    ExpireMaterial(String),
    /// A multi-Region primary whose replicas are all deleted: its waiting period starts.
    StartPrimaryDeletion,
}

/// The first imported material of `key` that is imported still but past its `ValidTo`.
fn expired_material(key: &crate::domain::key::Key, now: time::OffsetDateTime) -> Option<String> {
    key.materials()
        .filter_map(|v| v.import.as_ref())
        .find(|i| i.imported && i.valid_to.is_some_and(|t| t <= now))
        .map(|i| i.material_id.clone())
}

impl Service {
    /// Do everything due now; returns how many keys were deleted or rotated.
    pub async fn run_due(&self) -> Result<usize, ApiError> {
        let mut done = 0;
        for key in self.projections.keys.all() {
            let now = self.clock.now();
            let due = match (key.state, key.deletion, key.rotation) {
                (KeyState::PendingDeletion, Some(d), _) if d.deletion_date <= now => Due::Delete,
                (KeyState::PendingReplicaDeletion, Some(_), _)
                    if key
                        .multi_region
                        .is_some_and(|m| self.projections.keys.members(&m.key_id).len() == 1) =>
                {
                    Due::StartPrimaryDeletion
                }
                // AWS rotates enabled keys only; a disabled key rotates when re-enabled and due.
                // A replica rotates with its primary, never by itself.
                (KeyState::Enabled, _, Some(r))
                    if r.next_rotation_date <= now && !key.is_replica() =>
                {
                    Due::Rotate
                }
                _ => match expired_material(&key, now) {
                    Some(material_id) => Due::ExpireMaterial(material_id),
                    None => continue,
                },
            };
            // One key's failure must not stop the others' rotations and deletions.
            match self.service_event(key.id, due.clone()).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(key = %key.id, ?due, error = %e, "scheduled action failed")
                }
            }
        }
        Ok(done)
    }

    /// Record and apply one service action on `key_id`, re-deciding on conflicts.
    async fn service_event(&self, key_id: KeyId, due: Due) -> Result<bool, ApiError> {
        for _ in 0..16 {
            let Some(key) = self.projections.keys.get(&key_id) else {
                return Ok(false);
            };
            let now = self.clock.now();
            let ctx = RequestContext {
                request_id: uuid::Uuid::new_v4().to_string(),
                region: key.region.clone(),
                source_ip: SERVICE_PRINCIPAL.into(),
                user_agent: SERVICE_PRINCIPAL.into(),
                access_key_id: None,
                secure_transport: true,
            };
            let mut record = CallRecord {
                service_account: Some(key.account.clone()),
                ..CallRecord::default()
            };
            let (name, result) = match &due {
                Due::Delete => ("DeleteKey", self.delete_due_key(&key, now, &mut record)),
                Due::StartPrimaryDeletion => {
                    record.resources.push(key.arn.clone());
                    record.request_parameters =
                        serde_json::json!({ "keyId": key.external_id().to_string() });
                    let command = crate::domain::key::KeyCommand::StartPrimaryDeletion;
                    (
                        "ScheduleKeyDeletion",
                        self.change(&key, command, now, &mut record).map(|_| ()),
                    )
                }
                Due::ExpireMaterial(material_id) => {
                    record.resources.push(key.arn.clone());
                    record.request_parameters = serde_json::json!({
                        "keyId": key.external_id().to_string(), "keyMaterialId": material_id,
                    });
                    let command = crate::domain::key::KeyCommand::DeleteImportedMaterial {
                        material_id: Some(material_id.clone()),
                        expired: true,
                    };
                    (
                        "DeleteExpiredKeyMaterial",
                        self.change(&key, command, now, &mut record).map(|_| ()),
                    )
                }
                Due::Rotate => {
                    record.resources.push(key.arn.clone());
                    record.request_parameters =
                        serde_json::json!({ "keyId": key.external_id().to_string() });
                    (
                        "RotateKey",
                        self.rotate(&key, RotationType::Automatic, now, &mut record),
                    )
                }
            };
            match result {
                Ok(()) => {}
                // The state moved on under us (e.g. deletion was cancelled): nothing is due.
                Err(ApiError::InvalidState(_) | ApiError::Disabled(_)) => return Ok(false),
                Err(ApiError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            let batch = self.audit_batch(
                &ctx,
                None,
                name,
                now,
                record,
                &mut Ok(serde_json::Value::Null),
            );
            match self.ledger.append(batch).await {
                Ok(_) => {
                    tracing::info!(key = %key_id, event = name, "scheduled action recorded");
                    return Ok(true);
                }
                Err(AppendError::Conflict { .. }) => continue,
                Err(AppendError::Unavailable(reason)) => return Err(ApiError::Internal(reason)),
            }
        }
        Err(ApiError::Internal(
            "the scheduled action kept conflicting".into(),
        ))
    }
}

/// Run the scheduler until the process ends.
pub async fn run_forever(service: std::sync::Arc<Service>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = service.run_due().await {
            tracing::warn!(error = %e, "scheduler pass failed; retrying next tick");
        }
        // The account quotas are shared among the nodes on one database (decision 0018).
        match service.reader.node_count().await {
            Ok(nodes) => service.quotas.set_nodes(nodes),
            Err(e) => tracing::warn!(error = %e, "cannot count the nodes; quotas keep their share"),
        }
    }
}
