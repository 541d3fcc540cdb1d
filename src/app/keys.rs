//! Keys themselves: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, and the
//! KeyMetadata every answer about a key carries.
use super::authz::Facts;
use super::limits::MAX_DESCRIPTION;
use super::operations::Resolve;
use super::request::{
    bool_text, check_grant_tokens, check_length, check_range, epoch_seconds, parse_enum,
    without_nulls, SYMMETRIC_DEFAULT,
};
use super::shapes::*;
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::crypto::asymmetric as asym;
use crate::crypto::secret::random_bytes;
use crate::domain::events::MultiRegionMembership;
use crate::domain::ids::KeyId;
use crate::domain::key::{
    apply, decide, Key, KeyCommand, KeyManager, KeySpec, KeyState, KeyUsage, Origin,
};
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// AWS's KeyMetadata.
pub(crate) fn key_metadata(key: &Key) -> Value {
    let mut m = json!({
        "AWSAccountId": key.account.as_str(),
        "KeyId": key.external_id().to_string(),
        "Arn": key.arn,
        "CreationDate": epoch_seconds(key.created_at),
        "Enabled": key.state == KeyState::Enabled,
        "Description": key.description,
        "KeyUsage": key.usage.as_str(),
        "KeyState": key.state.as_str(),
        "Origin": key.origin.as_str(),
        "KeyManager": key.manager.as_str(),
        "KeySpec": key.spec.as_str(),
        "MultiRegion": key.multi_region.is_some(),
    });
    if let Some(spec) = customer_master_key_spec(key.spec) {
        m["CustomerMasterKeySpec"] = json!(spec);
    }
    match (key.spec, key.usage) {
        (KeySpec::SymmetricDefault, _) => m["EncryptionAlgorithms"] = json!([SYMMETRIC_DEFAULT]),
        (spec, KeyUsage::EncryptDecrypt) => {
            m["EncryptionAlgorithms"] = json!(asym::encryption_algorithms(spec.as_str()))
        }
        (spec, KeyUsage::SignVerify) => {
            m["SigningAlgorithms"] = json!(asym::signing_algorithms(spec.as_str()))
        }
        (spec, KeyUsage::GenerateVerifyMac) => {
            m["MacAlgorithms"] = json!(asym::mac_algorithms(spec.as_str()))
        }
        (spec, KeyUsage::KeyAgreement) => {
            m["KeyAgreementAlgorithms"] = json!(asym::key_agreement_algorithms(spec.as_str()))
        }
        (spec, KeyUsage::EncapsulateDecapsulate) => {
            m["EncapsulationAlgorithms"] = json!(asym::encapsulation_algorithms(spec.as_str()))
        }
    }
    if key.origin == Origin::External {
        // The key's current material: what it expires by (AWS shows the model of material
        // imported now, and the earliest ValidTo of any permanently associated material).
        if let Some(import) = key
            .versions
            .last()
            .and_then(|v| v.import.as_ref())
            .filter(|i| i.imported)
        {
            m["ExpirationModel"] = json!(import.expiration_model.as_str());
        }
        let valid_to = key
            .versions
            .iter()
            .filter_map(|v| v.import.as_ref())
            .filter(|i| i.imported)
            .filter_map(|i| i.valid_to)
            .min();
        if let Some(valid_to) = valid_to {
            m["ValidTo"] = json!(epoch_seconds(valid_to));
        }
    }
    if let Some(id) = current_key_material_id(key) {
        m["CurrentKeyMaterialId"] = json!(id);
    }
    match (key.state, key.deletion) {
        // A multi-Region primary waiting on its replicas: its window, no date yet (the
        // model's only place for `PendingDeletionWindowInDays`).
        (KeyState::PendingReplicaDeletion, Some(deletion)) => {
            m["PendingDeletionWindowInDays"] = json!(deletion.window_days)
        }
        (_, Some(deletion)) => m["DeletionDate"] = json!(epoch_seconds(deletion.deletion_date)),
        (_, None) => {}
    }
    m
}

/// AWS's `MultiRegionConfiguration` of a multi-Region key, given its other live members
/// (`members` may include `key` itself).
pub(crate) fn multi_region_configuration(key: &Key, members: &[Arc<Key>]) -> Option<Value> {
    let m = key.multi_region?;
    let mut all: Vec<&Key> = vec![key];
    all.extend(members.iter().map(|k| &**k).filter(|k| k.id != key.id));
    let entry = |k: &Key| json!({ "Arn": k.arn, "Region": k.region.as_str() });
    let primary = all
        .iter()
        .find(|k| k.multi_region.is_some_and(|m| m.primary))
        .map(|k| entry(k));
    let mut replicas: Vec<&Key> = all
        .iter()
        .copied()
        .filter(|k| k.multi_region.is_some_and(|m| !m.primary))
        .collect();
    replicas.sort_by(|a, b| a.region.cmp(&b.region));
    let mut config = json!({
        "MultiRegionKeyType": if m.primary { "PRIMARY" } else { "REPLICA" },
        "ReplicaKeys": replicas.into_iter().map(entry).collect::<Vec<_>>(),
    });
    if let Some(primary) = primary {
        config["PrimaryKey"] = primary;
    }
    Some(config)
}

/// AWS's `KeyMaterialId` of one material version: the imported material's own id, or for
/// generated material the 64 hex digits of the key's shown id and the version number. Nothing
/// secret goes in, so it is a plain encoding (no hashing on the crypto calls that answer it);
/// the members of a multi-Region key share the id because they share the shown id.
pub(crate) fn key_material_id(key: &Key, version: &crate::domain::key::KeyVersion) -> String {
    match &version.import {
        Some(import) => import.material_id.clone(),
        None => format!(
            "{:032x}{:032x}",
            u128::from_be_bytes(*key.external_id().as_bytes()),
            version.number
        ),
    }
}

/// `CurrentKeyMaterialId`: AWS's for symmetric encryption keys (the keys that rotate), once
/// they have material.
pub(crate) fn current_key_material_id(key: &Key) -> Option<String> {
    if key.spec != KeySpec::SymmetricDefault {
        return None;
    }
    key.versions.last().map(|v| key_material_id(key, v))
}

/// The current AWS KMS model's `KeySpec` enum, in its order: what a validation message lists
/// (keyledger's X25519 extension is accepted but not advertised).
pub(crate) const MODEL_KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// The model's `KeyUsageType` enum, in its order.
pub(crate) const MODEL_KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];

/// `[A, B, …]`, as AWS lists an enum's values in a validation message.
pub(crate) fn value_set(values: &[&str]) -> String {
    format!("[{}]", values.join(", "))
}

/// AWS's KeySpec value set.
pub(crate) fn aws_key_specs() -> String {
    value_set(MODEL_KEY_SPECS)
}

fn aws_key_usages() -> String {
    value_set(MODEL_KEY_USAGES)
}

/// The deprecated CustomerMasterKeySpec enum lacks the newer specs: AWS leaves it out for them.
pub(crate) fn customer_master_key_spec(spec: KeySpec) -> Option<&'static str> {
    match spec {
        KeySpec::EccNistEdwards25519
        | KeySpec::MlDsa44
        | KeySpec::MlDsa65
        | KeySpec::MlDsa87
        | KeySpec::MlKem512
        | KeySpec::MlKem768
        | KeySpec::MlKem1024
        | KeySpec::X25519 => None,
        other => Some(other.as_str()),
    }
}

impl Service {
    pub(crate) fn create_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: CreateKeyRequest,
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({
            "description": req.description,
            "keyUsage": req.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT"),
            "keySpec": req.key_spec.as_deref().or(req.customer_master_key_spec.as_deref()).unwrap_or(SYMMETRIC_DEFAULT),
            "origin": req.origin.as_deref().unwrap_or("AWS_KMS"),
            "bypassPolicyLockoutSafetyCheck": req.bypass_policy_lockout_safety_check.unwrap_or(false),
            "multiRegion": req.multi_region.unwrap_or(false),
        }));
        let description = req.description.unwrap_or_default();
        check_length(
            "description",
            description.chars().count(),
            0,
            MAX_DESCRIPTION,
        )?;
        if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
            return Err(ApiError::Validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.".into(),
            ));
        }
        let spec = parse_enum(
            "keySpec",
            req.key_spec
                .as_deref()
                .or(req.customer_master_key_spec.as_deref()),
            KeySpec::SymmetricDefault,
            KeySpec::parse,
            aws_key_specs,
        )?;
        let usage = parse_enum(
            "keyUsage",
            req.key_usage.as_deref(),
            KeyUsage::EncryptDecrypt,
            KeyUsage::parse,
            aws_key_usages,
        )?;
        let origin = parse_enum(
            "origin",
            req.origin.as_deref(),
            Origin::AwsKms,
            Origin::parse,
            Origin::value_set,
        )?;
        let tags = super::lifecycle::validate_tags(req.tags.unwrap_or_default())?;
        if spec == KeySpec::Sm2 {
            return Err(ApiError::UnsupportedOperation(
                "KeySpec SM2 is only offered in the AWS China Regions; keyledger does not support it.".into(),
            ));
        }
        if let Some(refusal) = asym::fips_refusal_for_spec(spec.as_str()) {
            return Err(ApiError::UnsupportedOperation(refusal));
        }
        if !crate::domain::key::spec_allows_usage(spec, usage) {
            return Err(ApiError::Validation(format!(
                "KeyUsage {} is not compatible with KeySpec {}",
                usage.as_str(),
                spec.as_str()
            )));
        }
        match origin {
            Origin::AwsKms => {}
            // Imported material: every spec whose private material has a standard form
            // (raw bytes, PKCS#8); ML-KEM and keyledger's X25519 have none AWS takes.
            Origin::External => {
                if matches!(
                    spec,
                    KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 | KeySpec::X25519
                ) {
                    return Err(ApiError::UnsupportedOperation(format!(
                        "KeySpec {} does not support Origin EXTERNAL (imported key material).",
                        spec.as_str()
                    )));
                }
            }
            Origin::AwsCloudhsm | Origin::ExternalKeyStore => {
                return Err(ApiError::UnsupportedOperation(format!(
                    "Origin {}: custom key stores are not supported by keyledger yet.",
                    origin.as_str()
                )))
            }
        }
        if req.custom_key_store_id.is_some() || req.xks_key_id.is_some() {
            return Err(ApiError::UnsupportedOperation(
                "Custom key stores are not supported by keyledger yet.".into(),
            ));
        }
        let multi_region = req.multi_region == Some(true);
        if multi_region && origin == Origin::External {
            return Err(ApiError::UnsupportedOperation(
                "Multi-Region keys with imported key material are not supported by keyledger yet."
                    .into(),
            ));
        }

        let kind = super::authz::KeyKind {
            spec: spec.as_str(),
            usage: usage.as_str(),
            origin: origin.as_str(),
            manager: KeyManager::Customer.as_str(),
            multi_region: multi_region.then_some(true),
        };
        self.authorize_account(
            caller,
            ctx,
            rec.action,
            "*",
            Facts::new()
                .of_new_key(&kind)
                // Present only when the request gives it (AWS's policies test `Null`).
                .with(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    req.bypass_policy_lockout_safety_check
                        .map(|b| bool_text(Some(b))),
                )
                .with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect())
                .with_tags(&tags),
        )?;
        self.authorize_tags_on_create(caller, ctx, &tags)?;
        let key_id = KeyId::from_uuid(Uuid::new_v4());
        // A multi-Region key shows the `mrk-` id its replicas will share.
        let multi_region = multi_region.then(|| MultiRegionMembership {
            key_id: KeyId::new_multi_region(),
            primary: true,
        });
        let shown_id = multi_region.map_or(key_id, |m| m.key_id);
        let policy = match req.policy {
            Some(policy) => {
                let rules = super::lifecycle::check_policy(&policy)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    let arn = crate::domain::ids::key_arn(&ctx.region, &caller.account, &shown_id);
                    let key = super::authz::KeyResource {
                        account: caller.account.as_str(),
                        kind,
                        tags: &tags,
                    };
                    self.check_lockout(caller, ctx, &arn, &key, &rules)?;
                }
                policy
            }
            None => super::lifecycle::default_policy(caller.account.as_str()),
        };
        // A key for imported material gets its shredding key now, its material later.
        let (sealed_material, wrapped_shredding_key) = if origin == Origin::External {
            (None, self.keyring.new_shredding_key(&key_id))
        } else {
            let material = match spec {
                KeySpec::SymmetricDefault => random_bytes(32),
                other => crate::crypto::asymmetric::generate_private_key(other.as_str())
                    .map_err(|_| ApiError::Internal("Key generation failed.".into()))?,
            };
            let secrets = self.keyring.new_key_secrets(&key_id, &material);
            (Some(secrets.sealed_material), secrets.wrapped_shredding_key)
        };
        let command = KeyCommand::Create {
            key_id,
            account: caller.account.clone(),
            region: ctx.region.clone(),
            description,
            spec,
            usage,
            origin,
            tags,
            policy,
            sealed_material,
            manager: KeyManager::Customer,
            multi_region,
            later_versions: vec![],
        };
        let events = decide(None, command, now)?;
        let key = events
            .iter()
            .fold(None, apply)
            .ok_or_else(|| ApiError::Internal("key creation produced no key".into()))?;
        let mut metadata = key_metadata(&key);
        if let Some(config) = multi_region_configuration(&key, &[]) {
            metadata["MultiRegionConfiguration"] = config;
        }
        rec.resources.push(key.arn.clone());
        rec.lifecycle = events.into_iter().zip(1..).collect();
        rec.shredding_keys.push((key_id, wrapped_shredding_key));
        rec.response_elements = json!({ "keyMetadata": metadata });
        Ok(json!({ "KeyMetadata": metadata }))
    }

    pub(crate) fn describe_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: KeyIdRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = json!({ "keyId": req.key_id });
        check_grant_tokens(&req.grant_tokens)?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::AliasesToo,
            Facts::new().grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    /// KeyMetadata, with a multi-Region key's configuration as its members are now.
    pub(crate) fn metadata(&self, key: &Key) -> Value {
        let mut metadata = key_metadata(key);
        if let Some(m) = key.multi_region {
            let members = self.projections.keys.members(&m.key_id);
            if let Some(config) = multi_region_configuration(key, &members) {
                metadata["MultiRegionConfiguration"] = config;
            }
        }
        metadata
    }

    pub(crate) fn list_keys(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: ListKeysRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({ "limit": req.limit, "marker": req.marker }));
        let limit = req.limit.unwrap_or(100);
        check_range("limit", limit, 1, 1000)?;
        if let Some(marker) = &req.marker {
            check_length("marker", marker.len(), 1, 1024)?;
        }
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        let keys = self.projections.keys.list(&caller.account, &ctx.region);
        let start = match &req.marker {
            None => 0,
            Some(marker) => {
                let after = KeyId::parse(marker)
                    .ok_or_else(|| ApiError::InvalidMarker("Invalid marker.".into()))?;
                keys.iter()
                    .position(|k| k.external_id() == after)
                    .map(|i| i + 1)
                    .ok_or_else(|| ApiError::InvalidMarker("Invalid marker.".into()))?
            }
        };
        let page: Vec<&Arc<Key>> = keys.iter().skip(start).take(limit as usize).collect();
        let truncated = start + page.len() < keys.len();
        let mut response = json!({
            "Keys": page.iter().map(|k| json!({"KeyId": k.external_id().to_string(), "KeyArn": k.arn})).collect::<Vec<_>>(),
            "Truncated": truncated,
        });
        if truncated {
            if let Some(last) = page.last() {
                response["NextMarker"] = json!(last.external_id().to_string());
            }
        }
        Ok(response)
    }

    pub(crate) fn enable_disable(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: KeyIdRequest,
        command: KeyCommand,
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = json!({ "keyId": req.key_id });
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        self.change(&key, command, now, rec)?;
        Ok(json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn set<'a>(values: &[&'a str]) -> BTreeSet<&'a str> {
        values.iter().copied().collect()
    }

    #[test]
    fn validation_messages_list_the_current_models_enums() {
        // The aws-sdk-kms crate is generated from the current model.
        assert_eq!(
            set(MODEL_KEY_SPECS),
            set(aws_sdk_kms::types::KeySpec::values())
        );
        assert_eq!(
            set(MODEL_KEY_USAGES),
            set(aws_sdk_kms::types::KeyUsageType::values())
        );
        assert!(aws_key_specs().contains("ML_KEM_512, ML_KEM_768, ML_KEM_1024]"));
        // Every spec keyledger parses is the model's, but its own X25519.
        for spec in KeySpec::ALL.iter().filter(|s| **s != KeySpec::X25519) {
            assert!(MODEL_KEY_SPECS.contains(&spec.as_str()), "{spec:?}");
        }
    }
}
