//! Multi-Region keys (decision 0023): ReplicateKey and UpdatePrimaryRegion. Each member —
//! the primary and every replica — is a key of its own (own stream, policy, tags,
//! description, state, shredding key) that shows the shared `mrk-` id and holds the same
//! material versions, sealed under its own shredding key. Ciphertext names the shared id,
//! so any member decrypts what another encrypted.
use super::authz::Facts;
use super::keys::{key_metadata, multi_region_configuration};
use super::limits::MAX_DESCRIPTION;
use super::operations::Resolve;
use super::request::{check_key_id_param, check_length, parse, without_nulls};
use super::shapes::TagShape;
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::events::{MultiRegionMembership, SealedVersion};
use crate::domain::ids::{KeyId, Region};
use crate::domain::key::{apply, decide, Key, KeyCommand, KeyManager, KeyState};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ReplicateKeyRequest {
    key_id: Option<String>,
    replica_region: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    description: Option<String>,
    tags: Option<Vec<TagShape>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct UpdatePrimaryRegionRequest {
    key_id: Option<String>,
    primary_region: Option<String>,
}

/// A Region parameter: the model's 1–32 characters and pattern `^([a-z]+-){2,3}\d+$`.
fn region_member(member: &str, value: Option<&str>) -> Result<Region, ApiError> {
    let value = value.ok_or_else(|| ApiError::missing(member))?;
    check_length(member, value.chars().count(), 1, 32)?;
    let parts: Vec<&str> = value.split('-').collect();
    let shaped = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match Region::parse(value).filter(|_| shaped) {
        Some(region) => Ok(region),
        None => Err(ApiError::constraint(
            member,
            Some(value),
            "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
        )),
    }
}

/// The multi-Region membership of a key, or AWS's refusal for a single-Region key.
fn multi_region_of(key: &Key) -> Result<MultiRegionMembership, ApiError> {
    key.multi_region.ok_or_else(|| {
        ApiError::UnsupportedOperation(format!("{} is not a multi-Region key.", key.arn))
    })
}

/// ReplicateKey and UpdatePrimaryRegion are not cross-account operations (AWS).
fn not_cross_account(caller: &Caller, key: &Key) -> Result<(), ApiError> {
    if key.account == caller.account {
        Ok(())
    } else {
        Err(ApiError::AccessDenied(format!(
            "{} is in another account: {} cannot replicate it or move its primary.",
            key.arn, caller.account
        )))
    }
}

impl Service {
    pub(crate) fn replicate_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ReplicateKeyRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "replicaRegion": req.replica_region,
            "description": req.description,
            "bypassPolicyLockoutSafetyCheck": req.bypass_policy_lockout_safety_check,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let region = region_member("replicaRegion", req.replica_region.as_deref())?;
        let description = req.description.unwrap_or_default();
        check_length(
            "description",
            description.chars().count(),
            0,
            MAX_DESCRIPTION,
        )?;
        let tags = super::lifecycle::validate_tags(req.tags.unwrap_or_default())?;
        let primary = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new().with("kms:ReplicaRegion", Some(region.as_str())),
            rec,
        )?;
        let membership = multi_region_of(&primary)?;
        not_cross_account(caller, &primary)?;
        if !membership.primary {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} is a replica key: replicate its primary key.",
                primary.arn
            )));
        }
        let members = self.projections.keys.members(&membership.key_id);
        if region == primary.region {
            return Err(ApiError::Validation(format!(
                "{} is the Region of the primary key {}.",
                region, primary.arn
            )));
        }
        if let Some(existing) = members.iter().find(|k| k.region == region) {
            return Err(ApiError::AlreadyExists(format!(
                "{} already has a replica key in {region}: {}.",
                primary.arn, existing.arn
            )));
        }
        // The replica is a new key in its Region: the caller needs kms:CreateKey there.
        let in_replica_region = RequestContext {
            region: region.clone(),
            ..ctx.clone()
        };
        let kind = super::authz::KeyKind {
            spec: primary.spec.as_str(),
            usage: primary.usage.as_str(),
            origin: primary.origin.as_str(),
            manager: primary.manager.as_str(),
            multi_region: Some(false),
        };
        self.authorize_account(
            caller,
            &in_replica_region,
            "kms:CreateKey",
            "*",
            Facts::new()
                .of_new_key(&kind)
                .with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect())
                .with_tags(&tags),
        )?;
        self.authorize_tags_on_create(caller, &in_replica_region, &tags)?;
        let arn = crate::domain::ids::key_arn(&region, &caller.account, &membership.key_id);
        let policy = match req.policy {
            Some(policy) => {
                let rules = super::lifecycle::check_policy(&policy)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    let key = super::authz::KeyResource {
                        account: caller.account.as_str(),
                        kind,
                        tags: &tags,
                    };
                    self.check_lockout(caller, &in_replica_region, &arn, &key, &rules)?;
                }
                policy
            }
            None => super::lifecycle::default_policy(caller.account.as_str()),
        };

        // The primary's material, every version, sealed again for the replica.
        let replica_id = KeyId::from_uuid(Uuid::new_v4());
        let mut opened = Vec::with_capacity(primary.versions.len());
        for version in &primary.versions {
            opened.push((version.number, self.material(&primary, version.number)?));
        }
        let plain: Vec<(u32, &[u8])> = opened.iter().map(|(n, m)| (*n, &m[..])).collect();
        let (wrapped_shredding_key, sealed) =
            self.keyring.new_key_with_versions(&replica_id, &plain);
        drop(opened);
        let mut sealed = primary.versions.iter().zip(sealed);
        let first = sealed
            .next()
            .map(|(_, s)| s)
            .ok_or_else(|| ApiError::Internal("the primary key has no material".into()))?;
        let later_versions = sealed
            .map(|(version, sealed_material)| SealedVersion {
                material_version: version.number,
                rotation_type: version
                    .rotation_type
                    .unwrap_or(crate::domain::events::RotationType::Automatic),
                rotation_date: version.created_at,
                sealed_material,
            })
            .collect();
        let command = KeyCommand::Create {
            key_id: replica_id,
            account: caller.account.clone(),
            region: region.clone(),
            description,
            spec: primary.spec,
            usage: primary.usage,
            origin: primary.origin,
            tags,
            policy: policy.clone(),
            sealed_material: Some(first),
            manager: KeyManager::Customer,
            multi_region: Some(MultiRegionMembership {
                key_id: membership.key_id,
                primary: false,
            }),
            later_versions,
        };
        let events = decide(None, command, now)?;
        let replica = events
            .iter()
            .fold(None, apply)
            .ok_or_else(|| ApiError::Internal("replication produced no key".into()))?;
        // Recorded on the primary's stream too: a concurrent rotation or replication of the
        // primary conflicts with this one, which is then decided again.
        self.change(
            &primary,
            KeyCommand::AddReplica {
                replica_region: region.clone(),
                replica_key_id: replica_id,
            },
            now,
            rec,
        )?;
        rec.resources.push(replica.arn.clone());
        rec.lifecycle.extend(events.into_iter().zip(1..));
        rec.shredding_keys.push((replica_id, wrapped_shredding_key));

        let mut all: Vec<Arc<Key>> = members;
        all.push(Arc::new(replica.clone()));
        let mut metadata = key_metadata(&replica);
        if let Some(config) = multi_region_configuration(&replica, &all) {
            metadata["MultiRegionConfiguration"] = config;
        }
        rec.response_elements = json!({ "replicaKeyMetadata": metadata });
        Ok(json!({
            "ReplicaKeyMetadata": metadata,
            "ReplicaPolicy": policy,
            "ReplicaTags": replica
                .tags
                .iter()
                .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
                .collect::<Vec<_>>(),
        }))
    }

    pub(crate) fn update_primary_region(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: UpdatePrimaryRegionRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "primaryRegion": req.primary_region }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let region = region_member("primaryRegion", req.primary_region.as_deref())?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new().with("kms:PrimaryRegion", Some(region.as_str())),
            rec,
        )?;
        let membership = multi_region_of(&key)?;
        not_cross_account(caller, &key)?;
        if !membership.primary {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} is a replica key: update the primary Region through its primary key.",
                key.arn
            )));
        }
        if region == key.region {
            return Ok(json!({}));
        }
        let members = self.projections.keys.members(&membership.key_id);
        let new_primary = members.iter().find(|k| k.region == region).ok_or_else(|| {
            ApiError::NotFound(format!("{} has no replica key in {region}.", key.arn))
        })?;
        // The new primary must be usable as one (AWS: not pending deletion).
        if matches!(
            new_primary.state,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        ) {
            return Err(ApiError::InvalidState(format!(
                "{} is pending deletion.",
                new_primary.arn
            )));
        }
        // It becomes the primary in its Region: the caller needs kms:UpdatePrimaryRegion on it.
        let in_new_region = RequestContext {
            region: region.clone(),
            ..ctx.clone()
        };
        let new_primary = self.authorize(
            caller,
            &in_new_region,
            super::authz::Found::new(new_primary.clone(), None),
            "kms:UpdatePrimaryRegion",
            Facts::new().with("kms:PrimaryRegion", Some(region.as_str())),
        )?;
        rec.resources.push(new_primary.arn.clone());
        for (member, primary) in [(&key, false), (&new_primary, true)] {
            self.change(
                member,
                KeyCommand::UpdatePrimary {
                    primary,
                    primary_region: region.clone(),
                    rotation: key.rotation.filter(|_| primary),
                },
                now,
                rec,
            )?;
        }
        Ok(json!({}))
    }
}
