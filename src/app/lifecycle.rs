//! Lifecycle operations: aliases, description, tags, key policies, rotation
//! and deletion. Each one decides against the key (or alias) state and leaves
//! lifecycle events in the call record; nothing is changed in place.

use super::authz::Facts;
use super::limits::{MAX_DESCRIPTION, MAX_POLICY, MAX_TAG_KEY, MAX_TAG_VALUE};
use super::operations::Resolve;
use super::request::{check_length, check_range, epoch_seconds, page, paged, parse, without_nulls};
use super::shapes::TagShape;
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::alias::{self, AliasCommand};
use crate::domain::events::{alias_stream, DomainEvent, RotationType, Sealed, Tag};
use crate::domain::key::{
    decide, Key, KeyCommand, KeyState, Operation, Origin, DEFAULT_PENDING_WINDOW_DAYS,
    DEFAULT_POLICY_NAME, DEFAULT_ROTATION_PERIOD_DAYS, MAX_PENDING_WINDOW_DAYS,
    MAX_ROTATION_PERIOD_DAYS, MIN_PENDING_WINDOW_DAYS, MIN_ROTATION_PERIOD_DAYS,
};
use crate::domain::policy::{Policy, PolicyKind};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

/// AWS's default key policy: the account (through IAM) may do anything with the key.
pub fn default_policy(account: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .expect("a JSON literal serializes")
}

/// A key policy as AWS accepts it: 1–32768 characters of IAM policy grammar, parsed.
pub fn check_policy(policy: &str) -> Result<Policy, ApiError> {
    check_length("policy", policy.chars().count(), 1, MAX_POLICY)?;
    Policy::parse(policy, PolicyKind::Key)
        .map_err(|e| ApiError::MalformedPolicyDocument(e.to_string()))
}

pub fn validate_tags(tags: Vec<TagShape>) -> Result<Vec<Tag>, ApiError> {
    if tags.len() > crate::domain::key::MAX_TAGS {
        return Err(ApiError::Tag("Too many tags: a key has at most 50.".into()));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t
            .tag_key
            .ok_or_else(|| ApiError::missing("tags.member.tagKey"))?;
        let value = t
            .tag_value
            .ok_or_else(|| ApiError::missing("tags.member.tagValue"))?;
        check_length("tags.member.tagKey", key.chars().count(), 1, MAX_TAG_KEY)?;
        check_length(
            "tags.member.tagValue",
            value.chars().count(),
            0,
            MAX_TAG_VALUE,
        )?;
        if key.starts_with("aws:") {
            return Err(ApiError::Tag(
                "Tag keys beginning with aws: are reserved.".into(),
            ));
        }
        if out.iter().any(|existing| existing.key == key) {
            return Err(ApiError::Tag(format!("Duplicate tag key {key}.")));
        }
        out.push(Tag { key, value });
    }
    Ok(out)
}

/// The ARN of an alias of the caller's account, as IAM policies name it.
fn alias_arn(caller: &Caller, ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:kms:{}:{}:{name}", ctx.region, caller.account)
}

fn iso(t: OffsetDateTime) -> f64 {
    epoch_seconds(t)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AliasRequest {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RotationsRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    include_key_material: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DescriptionRequest {
    key_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    key_id: Option<String>,
    tags: Option<Vec<TagShape>>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PolicyRequest {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RotationRequest {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DeletionRequest {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

impl Service {
    /// Decide `command` on `key` and leave its events in the record.
    pub(crate) fn change(
        &self,
        key: &Key,
        command: KeyCommand,
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Vec<DomainEvent>, ApiError> {
        let events = decide(Some(key), command, now)?;
        let first = key.stream_version
            + 1
            + rec
                .lifecycle
                .iter()
                .filter(|(e, _)| e.key_id() == Some(key.id))
                .count() as u64;
        rec.lifecycle.extend(events.iter().cloned().zip(first..));
        Ok(events)
    }

    /// Parse an alias request naming a target key: (alias name, target key).
    /// The alias must be allowed to the caller (identity policies, on the alias's ARN) and
    /// the target key (its key policy), both for `action`; the key must be the caller's.
    fn alias_and_target(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<(String, Arc<Key>), ApiError> {
        let action = rec.action;
        let req: AliasRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "aliasName": req.alias_name, "targetKeyId": req.target_key_id }));
        let name = req
            .alias_name
            .ok_or_else(|| ApiError::missing("aliasName"))?;
        super::request::check_key_id_param("targetKeyId", req.target_key_id.as_deref())?;
        alias::validate_name(&name)?;
        let target_key_id = req.target_key_id.as_deref().unwrap_or_default();
        if target_key_id.starts_with(alias::ALIAS_PREFIX) || target_key_id.contains(":alias/") {
            // As AWS refuses an alias of an alias (by name or alias ARN).
            return Err(ApiError::Validation(
                "Aliases must refer to keys. Not aliases".into(),
            ));
        }
        let target = self.resolve(
            caller,
            ctx,
            req.target_key_id.as_deref().unwrap_or_default(),
            Resolve::KeyOnly,
        )?;
        rec.resources.push(target.arn().to_owned());
        if target.account() != &caller.account {
            // An alias and its key are in one account: another's key is not looked at.
            return Err(ApiError::NotFound(format!(
                "Key '{}' does not exist",
                target.arn()
            )));
        }
        self.authorize_account(
            caller,
            ctx,
            action,
            &alias_arn(caller, ctx, &name),
            Facts::new(),
        )?;
        let target = self.authorize(caller, ctx, target, action, Facts::new())?;
        Ok((name, target))
    }

    pub(crate) fn create_alias(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let (name, target) = self.alias_and_target(caller, ctx, body, rec)?;
        let aliases = &self.projections.aliases;
        let existing = aliases.get(&ctx.region, &caller.account, &name);
        let version = aliases.stream_version(&ctx.region, &caller.account, &name) + 1;
        let events = alias::decide(
            existing.as_ref(),
            AliasCommand::Create {
                name,
                account: caller.account.clone(),
                region: ctx.region.clone(),
                target: &target,
            },
        )?;
        rec.lifecycle.extend(events.into_iter().zip(version..));
        Ok(json!({}))
    }

    pub(crate) fn update_alias(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let (name, target) = self.alias_and_target(caller, ctx, body, rec)?;
        let existing = self.alias(caller, ctx, &name)?;
        // The key the alias leaves must allow it too.
        let current = match self.projections.keys.get(&existing.key_id) {
            Some(current) => {
                rec.resources.push(current.arn.clone());
                let found = super::authz::Found::new(current, None);
                Some(self.authorize(caller, ctx, found, rec.action, Facts::new())?)
            }
            None => None,
        };
        let events = alias::decide(
            Some(&existing),
            AliasCommand::Update {
                target: &target,
                current_target: current.as_deref(),
            },
        )?;
        rec.lifecycle
            .extend(events.into_iter().zip(existing.stream_version + 1..));
        Ok(json!({}))
    }

    pub(crate) fn delete_alias(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: AliasRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({ "aliasName": req.alias_name }));
        let name = req
            .alias_name
            .ok_or_else(|| ApiError::missing("aliasName"))?;
        alias::check_model_constraints(&name)?;
        if !name.starts_with(alias::ALIAS_PREFIX) {
            return Err(ApiError::Validation(alias::MISSING_PREFIX.into()));
        }
        if name.starts_with(alias::RESERVED_PREFIX) {
            // AWS managed aliases are the service's: validate_name words the refusal.
            alias::validate_name(&name)?;
        }
        let existing = self.alias(caller, ctx, &name)?;
        self.authorize_account(caller, ctx, rec.action, &existing.arn(), Facts::new())?;
        if let Some(key) = self.projections.keys.get(&existing.key_id) {
            rec.resources.push(key.arn.clone());
            let found = super::authz::Found::new(key, None);
            self.authorize(caller, ctx, found, rec.action, Facts::new())?;
        }
        let events = alias::decide(Some(&existing), AliasCommand::Delete)?;
        rec.lifecycle
            .extend(events.into_iter().zip(existing.stream_version + 1..));
        Ok(json!({}))
    }

    pub(crate) fn list_aliases(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ListRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "limit": req.limit, "marker": req.marker }));
        let key = match req.key_id.as_deref() {
            None => None,
            Some(k) => {
                let key = self.resolve(caller, ctx, k, Resolve::KeyOnly)?;
                rec.resources.push(key.arn().to_owned());
                Some(key.id())
            }
        };
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        let aliases = self
            .projections
            .aliases
            .list(&ctx.region, &caller.account, key);
        let mut entries: Vec<Value> = aliases
            .iter()
            .map(|a| {
                json!({
                    "AliasName": a.name,
                    "AliasArn": a.arn(),
                    // The id the key shows (a multi-Region key's `mrk-` id).
                    "TargetKeyId": self.projections.keys.shown_id(&a.key_id).to_string(),
                    "CreationDate": iso(a.created_at),
                    "LastUpdatedDate": iso(a.updated_at),
                })
            })
            .collect();
        if key.is_none() {
            // The AWS managed aliases whose keys do not exist yet are listed without a target.
            for name in super::aws_managed::AWS_MANAGED_ALIASES {
                if !aliases.iter().any(|a| a.name == *name) {
                    entries.push(json!({
                        "AliasName": name,
                        "AliasArn": alias_arn(caller, ctx, name),
                    }));
                }
            }
        }
        let (items, next) = page(&entries, req.limit, (50, 100), req.marker.as_deref())?;
        let listed: Vec<&Value> = items.into_iter().collect();
        Ok(paged(json!({ "Aliases": listed }), next))
    }

    pub(crate) fn update_key_description(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DescriptionRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "description": req.description }));
        let description = req
            .description
            .clone()
            .ok_or_else(|| ApiError::missing("description"))?;
        check_length(
            "description",
            description.chars().count(),
            0,
            MAX_DESCRIPTION,
        )?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        self.change(&key, KeyCommand::UpdateDescription(description), now, rec)?;
        Ok(json!({}))
    }

    pub(crate) fn tag_resource(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: TagRequest = parse(body)?;
        let tag_keys: Vec<&str> = req
            .tags
            .iter()
            .flatten()
            .filter_map(|t| t.tag_key.as_deref())
            .collect();
        rec.request_parameters = without_nulls(json!({ "keyId": req.key_id, "tagKeys": tag_keys }));
        let tags = validate_tags(req.tags.ok_or_else(|| ApiError::missing("tags"))?)?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new()
                .with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect())
                .with_tags(&tags),
            rec,
        )?;
        self.change(&key, KeyCommand::Tag(tags), now, rec)?;
        Ok(json!({}))
    }

    pub(crate) fn untag_resource(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: TagRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "tagKeys": req.tag_keys }));
        let tag_keys = req.tag_keys.ok_or_else(|| ApiError::missing("tagKeys"))?;
        for k in &tag_keys {
            check_length("tagKeys.member", k.chars().count(), 1, MAX_TAG_KEY)?;
        }
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new().with_all("aws:TagKeys", tag_keys.clone()),
            rec,
        )?;
        self.change(&key, KeyCommand::Untag(tag_keys), now, rec)?;
        Ok(json!({}))
    }

    pub(crate) fn list_resource_tags(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ListRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "limit": req.limit, "marker": req.marker }));
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        let (items, next) = page(&key.tags, req.limit, (50, 50), req.marker.as_deref())?;
        let tags: Vec<Value> = items
            .iter()
            .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
            .collect();
        Ok(paged(json!({ "Tags": tags }), next))
    }

    pub(crate) fn put_key_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: PolicyRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "policyName": req.policy_name.as_deref().unwrap_or(DEFAULT_POLICY_NAME),
            "policy": req.policy,
            "bypassPolicyLockoutSafetyCheck": req.bypass_policy_lockout_safety_check,
        }));
        check_policy_name(req.policy_name.as_deref())?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            // Present only when the request gives it (AWS's policies test `Null`).
            Facts::new().with(
                "kms:BypassPolicyLockoutSafetyCheck",
                req.bypass_policy_lockout_safety_check
                    .map(|b| super::request::bool_text(Some(b))),
            ),
            rec,
        )?;
        // The document is looked at once the key is found, as AWS orders it: a key that does
        // not exist is NotFoundException whatever the document.
        let policy_name = default_policy_only(req.policy_name.as_deref())?;
        let policy = req.policy.ok_or_else(|| ApiError::missing("policy"))?;
        check_length("policy", policy.chars().count(), 1, MAX_POLICY)?;
        let rules = check_policy(&policy)?;
        if req.bypass_policy_lockout_safety_check != Some(true) {
            let resource = super::authz::KeyResource::of(&key);
            self.check_lockout(caller, ctx, &key.arn, &resource, &rules)?;
        }
        self.change(
            &key,
            KeyCommand::PutPolicy {
                policy_name,
                policy,
            },
            now,
            rec,
        )?;
        Ok(json!({}))
    }

    pub(crate) fn get_key_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: PolicyRequest = parse(body)?;
        rec.request_parameters = without_nulls(
            json!({ "keyId": req.key_id, "policyName": req.policy_name.as_deref().unwrap_or(DEFAULT_POLICY_NAME) }),
        );
        check_policy_name(req.policy_name.as_deref())?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        let policy_name = default_policy_only(req.policy_name.as_deref())?;
        Ok(json!({ "Policy": key.policy, "PolicyName": policy_name }))
    }

    pub(crate) fn list_key_policies(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ListRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "limit": req.limit, "marker": req.marker }));
        self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        let names = [DEFAULT_POLICY_NAME];
        let (items, next) = page(&names, req.limit, (100, 1000), req.marker.as_deref())?;
        Ok(paged(json!({ "PolicyNames": items }), next))
    }

    pub(crate) fn enable_key_rotation(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RotationRequest = parse(body)?;
        rec.request_parameters = without_nulls(
            json!({ "keyId": req.key_id, "rotationPeriodInDays": req.rotation_period_in_days }),
        );
        let period = req
            .rotation_period_in_days
            .unwrap_or(i64::from(DEFAULT_ROTATION_PERIOD_DAYS));
        check_range(
            "rotationPeriodInDays",
            period,
            i64::from(MIN_ROTATION_PERIOD_DAYS),
            i64::from(MAX_ROTATION_PERIOD_DAYS),
        )?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new().with("kms:RotationPeriodInDays", Some(&period.to_string())),
            rec,
        )?;
        self.change(
            &key,
            KeyCommand::EnableRotation {
                period_days: period as u32,
            },
            now,
            rec,
        )?;
        Ok(json!({}))
    }

    pub(crate) fn disable_key_rotation(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RotationRequest = parse(body)?;
        rec.request_parameters = json!({ "keyId": req.key_id });
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        if key.spec != crate::domain::key::KeySpec::SymmetricDefault {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} does not support automatic key rotation.",
                key.arn
            )));
        }
        self.change(&key, KeyCommand::DisableRotation, now, rec)?;
        Ok(json!({}))
    }

    pub(crate) fn get_key_rotation_status(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RotationRequest = parse(body)?;
        rec.request_parameters = json!({ "keyId": req.key_id });
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        // As AWS answers today: asymmetric and HMAC keys, and keys pending deletion, report
        // rotation as disabled rather than failing (tools such as Terraform read it for every key).
        // A replica's rotation is its primary's (they rotate together).
        let schedule = match key.multi_region.filter(|m| !m.primary) {
            Some(m) => self
                .projections
                .keys
                .members(&m.key_id)
                .iter()
                .find(|k| k.multi_region.is_some_and(|m| m.primary))
                .and_then(|primary| primary.rotation),
            None => key.rotation,
        };
        let rotation = schedule.filter(|_| {
            key.spec == crate::domain::key::KeySpec::SymmetricDefault
                && !matches!(
                    key.state,
                    KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
                )
        });
        let mut response = json!({ "KeyRotationEnabled": rotation.is_some(), "KeyId": key.arn });
        if let Some(r) = rotation {
            response["RotationPeriodInDays"] = json!(r.period_days);
            response["NextRotationDate"] = json!(iso(r.next_rotation_date));
        }
        Ok(response)
    }

    pub(crate) fn rotate_key_on_demand(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RotationRequest = parse(body)?;
        rec.request_parameters = json!({ "keyId": req.key_id });
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        self.rotate(&key, RotationType::OnDemand, now, rec)?;
        Ok(json!({ "KeyId": key.arn }))
    }

    /// Add a material version: sealed under the key's shredding key for the next version number.
    pub(crate) fn rotate(
        &self,
        key: &Key,
        rotation_type: RotationType,
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<(), ApiError> {
        if key.spec != crate::domain::key::KeySpec::SymmetricDefault {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} does not support rotation.",
                key.arn
            )));
        }
        // The key-state rule first (the scheduler rotates only keys it may).
        if rotation_type == RotationType::OnDemand {
            key.check(Operation::RotateKeyOnDemand)?;
        }
        let (version, sealed_material) = match &key.pending_material {
            // An imported key rotates into the material imported for it (the domain refuses
            // a rotation without one).
            Some(pending) if key.origin == Origin::External => {
                (pending.number, pending.sealed.clone())
            }
            _ if key.origin == Origin::External => (key.next_version(), Sealed(Vec::new())),
            _ => {
                let version = key.next_version();
                let material = crate::crypto::secret::SecretKey::generate();
                let sealed = self.seal_for_key(&key.id, version, material.expose())?;
                // A multi-Region primary's replicas get the same material in the same call:
                // every member decrypts what any member encrypts.
                if let Some(m) = key.multi_region.filter(|m| m.primary) {
                    for replica in self.projections.keys.members(&m.key_id) {
                        if replica.id == key.id {
                            continue;
                        }
                        let sealed = self.seal_for_key(&replica.id, version, material.expose())?;
                        self.change(
                            &replica,
                            KeyCommand::Rotate {
                                version,
                                rotation_type,
                                sealed_material: sealed,
                                replica: true,
                            },
                            now,
                            rec,
                        )?;
                    }
                }
                (version, sealed)
            }
        };
        self.change(
            key,
            KeyCommand::Rotate {
                version,
                rotation_type,
                sealed_material,
                replica: false,
            },
            now,
            rec,
        )?;
        Ok(())
    }

    /// `material` sealed for `version` of the key `key_id` (its shredding key must be known).
    pub(crate) fn seal_for_key(
        &self,
        key_id: &crate::domain::ids::KeyId,
        version: u32,
        material: &[u8],
    ) -> Result<Sealed, ApiError> {
        self.keyring
            .seal_material(key_id, version, material)
            .map_err(|_| ApiError::Internal("The key's shredding key is unavailable.".into()))
    }

    pub(crate) fn list_key_rotations(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RotationsRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id, "limit": req.limit, "marker": req.marker,
            "includeKeyMaterial": req.include_key_material,
        }));
        let all_material = match req.include_key_material.as_deref() {
            None | Some("ROTATIONS_ONLY") => false,
            Some("ALL_KEY_MATERIAL") => true,
            Some(other) => {
                return Err(ApiError::constraint(
                    "includeKeyMaterial",
                    Some(other),
                    "Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
                ))
            }
        };
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        if key.spec != crate::domain::key::KeySpec::SymmetricDefault {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} does not support rotation.",
                key.arn
            )));
        }
        let current = key.versions.last().map(|v| v.number);
        let pending = key.pending_material.as_ref().map(|v| v.number);
        let rotations: Vec<_> = key
            .materials()
            .filter(|v| all_material || v.rotation_type.is_some())
            .collect();
        let (items, next) = page(&rotations, req.limit, (100, 1000), req.marker.as_deref())?;
        let listed: Vec<Value> = items
            .iter()
            .map(|v| {
                let state = if Some(v.number) == pending {
                    "PENDING_ROTATION"
                } else if Some(v.number) == current {
                    "CURRENT"
                } else {
                    "NON_CURRENT"
                };
                let mut entry = json!({
                    "KeyId": key.arn,
                    "KeyMaterialId": super::keys::key_material_id(&key, v),
                    "KeyMaterialState": state,
                });
                if let Some(rotation_type) = v.rotation_type {
                    entry["RotationDate"] = json!(iso(v.created_at));
                    entry["RotationType"] = json!(rotation_type.as_str());
                }
                if let Some(import) = &v.import {
                    entry["ImportState"] = json!(if import.imported {
                        "IMPORTED"
                    } else {
                        "PENDING_IMPORT"
                    });
                    if import.imported {
                        entry["ExpirationModel"] = json!(import.expiration_model.as_str());
                        if let Some(valid_to) = import.valid_to {
                            entry["ValidTo"] = json!(epoch_seconds(valid_to));
                        }
                    }
                    if let Some(description) = &import.description {
                        entry["KeyMaterialDescription"] = json!(description);
                    }
                }
                entry
            })
            .collect();
        Ok(paged(json!({ "Rotations": listed }), next))
    }

    pub(crate) fn schedule_key_deletion(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DeletionRequest = parse(body)?;
        rec.request_parameters = without_nulls(
            json!({ "keyId": req.key_id, "pendingWindowInDays": req.pending_window_in_days }),
        );
        let window = req
            .pending_window_in_days
            .unwrap_or(i64::from(DEFAULT_PENDING_WINDOW_DAYS));
        check_range(
            "pendingWindowInDays",
            window,
            i64::from(MIN_PENDING_WINDOW_DAYS),
            i64::from(MAX_PENDING_WINDOW_DAYS),
        )?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new().with(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                Some(&window.to_string()),
            ),
            rec,
        )?;
        // A multi-Region primary with replicas waits for them (AWS's deletion order).
        let waiting_for_replicas = key
            .multi_region
            .is_some_and(|m| m.primary && self.projections.keys.members(&m.key_id).len() > 1);
        let events = self.change(
            &key,
            KeyCommand::ScheduleDeletion {
                window_days: window as u32,
                waiting_for_replicas,
            },
            now,
            rec,
        )?;
        let deletion_date = match events.first() {
            Some(DomainEvent::KeyDeletionScheduled(e)) => e.deletion_date,
            _ => return Err(ApiError::Internal("deletion was not scheduled".into())),
        };
        if waiting_for_replicas {
            // Its deletion date is not known until its last replica is deleted.
            let state = KeyState::PendingReplicaDeletion.as_str();
            rec.response_elements =
                json!({ "keyId": key.arn, "keyState": state, "pendingWindowInDays": window });
            return Ok(json!({
                "KeyId": key.arn,
                "KeyState": state,
                "PendingWindowInDays": window,
            }));
        }
        let response = json!({
            "KeyId": key.arn,
            "DeletionDate": iso(deletion_date),
            "KeyState": KeyState::PendingDeletion.as_str(),
            "PendingWindowInDays": window,
        });
        rec.response_elements = json!({ "keyId": key.arn, "deletionDate": super::trail::event_time(deletion_date), "keyState": "PendingDeletion", "pendingWindowInDays": window });
        Ok(response)
    }

    pub(crate) fn cancel_key_deletion(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DeletionRequest = parse(body)?;
        rec.request_parameters = json!({ "keyId": req.key_id });
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        self.change(&key, KeyCommand::CancelDeletion, now, rec)?;
        Ok(json!({ "KeyId": key.arn }))
    }

    /// The scheduler's deletion: the key's aliases go with it, and its shredding key is destroyed
    /// in the same transaction.
    pub(crate) fn delete_due_key(
        &self,
        key: &Key,
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<(), ApiError> {
        rec.resources.push(key.arn.clone());
        rec.request_parameters = json!({ "keyId": key.external_id().to_string() });
        for a in self
            .projections
            .aliases
            .list(&key.region, &key.account, Some(key.id))
        {
            let events = alias::decide(Some(&a), AliasCommand::Delete)?;
            debug_assert_eq!(
                alias_stream(&a.region, &a.account, &a.name),
                events[0].stream()
            );
            rec.lifecycle
                .extend(events.into_iter().zip(a.stream_version + 1..));
        }
        self.change(key, KeyCommand::Delete, now, rec)?;
        rec.shredded.push(key.id);
        Ok(())
    }
}

/// The longest `PolicyName` the AWS KMS model allows.
const MAX_POLICY_NAME: usize = 128;

/// The AWS KMS model's constraint on `PolicyName`: 1–128 word characters (`[\w]+`).
fn check_policy_name(name: Option<&str>) -> Result<(), ApiError> {
    let Some(name) = name else {
        return Ok(());
    };
    check_length("policyName", name.chars().count(), 1, MAX_POLICY_NAME)?;
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(ApiError::constraint(
            "policyName",
            Some(name),
            "Member must satisfy regular expression pattern: [\\w]+",
        ));
    }
    Ok(())
}

/// A key has one policy, `default`: any other name is not found, as AWS answers it.
fn default_policy_only(name: Option<&str>) -> Result<String, ApiError> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(DEFAULT_POLICY_NAME.to_owned()),
        Some(_) => Err(ApiError::NotFound("No such policy exists".into())),
    }
}
