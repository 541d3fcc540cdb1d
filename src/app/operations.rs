//! The AWS KMS operations: validate, resolve the key, decide, do the crypto.
//! Nothing here writes: [`Service::handle`] records the call and only then replies.

use super::authz::{Facts, Found};
use super::shapes::*;
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::crypto::asymmetric as asym;
use crate::crypto::secret::SecretBytes;
use crate::crypto::{ciphertext, context::canonical_context, secret::random_bytes};
use crate::domain::ids::{KeyId, KeyRef};
use crate::domain::key::{
    apply, decide, Key, KeyCommand, KeyManager, KeySpec, KeyState, KeyUsage, Operation, Origin,
};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// Whether a `KeyId` parameter may name an alias (AWS accepts aliases only for some operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolve {
    KeyOnly,
    AliasesToo,
}

const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
const ENCRYPTION_ALGORITHMS: &str =
    "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the offending member and type, never a value.
        ApiError::Serialization(format!("The request body could not be read: {e}"))
    })
}

pub(crate) fn epoch_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// AWS's KeyMetadata.
pub(crate) fn key_metadata(key: &Key) -> Value {
    let mut m = json!({
        "AWSAccountId": key.account.as_str(),
        "KeyId": key.id.to_string(),
        "Arn": key.arn,
        "CreationDate": epoch_seconds(key.created_at),
        "Enabled": key.state == KeyState::Enabled,
        "Description": key.description,
        "KeyUsage": key.usage.as_str(),
        "KeyState": key.state.as_str(),
        "Origin": key.origin.as_str(),
        "KeyManager": key.manager.as_str(),
        "CustomerMasterKeySpec": customer_master_key_spec(key.spec),
        "KeySpec": key.spec.as_str(),
        "MultiRegion": false,
    });
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
    }
    if let Some(deletion) = key.deletion {
        m["DeletionDate"] = json!(epoch_seconds(deletion.deletion_date));
        m["PendingDeletionWindowInDays"] = json!(deletion.window_days);
    }
    m
}

pub(crate) fn check_length(
    member: &str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    if len < min {
        return Err(ApiError::constraint(
            member,
            None,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(ApiError::constraint(
            member,
            None,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// AWS's KeySpec value set (keyledger's X25519 extension is accepted but not advertised).
fn aws_key_specs() -> String {
    let names: Vec<&str> = KeySpec::ALL
        .iter()
        .filter(|s| **s != KeySpec::X25519)
        .map(|s| s.as_str())
        .collect();
    format!("[{}]", names.join(", "))
}

/// The deprecated CustomerMasterKeySpec enum lacks the newer specs: AWS leaves it out for them.
pub(crate) fn customer_master_key_spec(spec: KeySpec) -> Option<&'static str> {
    match spec {
        KeySpec::EccNistEdwards25519
        | KeySpec::MlDsa44
        | KeySpec::MlDsa65
        | KeySpec::MlDsa87
        | KeySpec::X25519 => None,
        other => Some(other.as_str()),
    }
}

/// An enum member: absent → `default`; unknown → AWS's enum-constraint ValidationException.
fn parse_enum<T>(
    member: &str,
    value: Option<&str>,
    default: T,
    parse: fn(&str) -> Option<T>,
    value_set: fn() -> String,
) -> Result<T, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => parse(v).ok_or_else(|| {
            ApiError::constraint(
                member,
                Some(v),
                &format!("Member must satisfy enum value set: {}", value_set()),
            )
        }),
    }
}

pub(crate) fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if value < min {
        return Err(ApiError::constraint(
            member,
            Some(&value.to_string()),
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(ApiError::constraint(
            member,
            Some(&value.to_string()),
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_key_id_param(member: &str, key_id: Option<&str>) -> Result<(), ApiError> {
    match key_id {
        None => Err(ApiError::missing(member)),
        Some(k) => check_length(member, k.len(), 1, 2048),
    }
}

pub(crate) fn check_grant_tokens(tokens: &Option<Vec<String>>) -> Result<(), ApiError> {
    if let Some(tokens) = tokens {
        if tokens.len() > 10 {
            return Err(ApiError::constraint(
                "grantTokens",
                None,
                "Member must have length less than or equal to 10",
            ));
        }
        for t in tokens {
            check_length("grantTokens.member", t.len(), 1, 8192)?;
        }
    }
    Ok(())
}

/// The encryption algorithm of a symmetric call: absent or SYMMETRIC_DEFAULT.
fn check_symmetric_algorithm(
    member: &str,
    algorithm: Option<&str>,
    key_arn: Option<&str>,
) -> Result<(), ApiError> {
    match algorithm {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => {
            Err(ApiError::InvalidKeyUsage(format!(
                "{a} is not a valid encryption algorithm for {}.",
                key_arn.unwrap_or("this key")
            )))
        }
        Some(other) => Err(ApiError::constraint(
            member,
            Some(other),
            &format!("Member must satisfy enum value set: {ENCRYPTION_ALGORITHMS}"),
        )),
    }
}

/// Whether a dry run asks to skip the ciphertext (`DryRunModifiers: [IGNORE_CIPHERTEXT]`).
fn ignore_ciphertext(
    dry_run: Option<bool>,
    modifiers: &Option<Vec<String>>,
) -> Result<bool, ApiError> {
    let mut ignore = false;
    for m in modifiers.iter().flatten() {
        if m != "IGNORE_CIPHERTEXT" {
            return Err(ApiError::constraint(
                "dryRunModifiers.member",
                Some(m),
                "Member must satisfy enum value set: [IGNORE_CIPHERTEXT]",
            ));
        }
        ignore = true;
    }
    Ok(ignore && dry_run == Some(true))
}

fn alias_not_found(caller: &Caller, ctx: &RequestContext, alias: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Alias arn:aws:kms:{}:{}:{alias} is not found.",
        ctx.region, caller.account
    ))
}

/// An EncryptionAlgorithm value must be one AWS knows.
fn check_algorithm_value(member: &str, algorithm: Option<&str>) -> Result<(), ApiError> {
    match algorithm {
        None | Some(SYMMETRIC_DEFAULT | "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE") => {
            Ok(())
        }
        Some(other) => Err(ApiError::constraint(
            member,
            Some(other),
            &format!("Member must satisfy enum value set: {ENCRYPTION_ALGORITHMS}"),
        )),
    }
}

/// The OAEP algorithm an RSA call names; RSA keys have no default.
fn asymmetric_algorithm(key: &Key, algorithm: Option<&str>) -> Result<&'static str, ApiError> {
    let offered = asym::encryption_algorithms(key.spec.as_str());
    match algorithm.and_then(|a| offered.iter().find(|o| **o == a)) {
        Some(a) => Ok(a),
        None => Err(ApiError::InvalidKeyUsage(format!(
            "{} requires one of the encryption algorithms {offered:?}, not {}.",
            key.arn,
            algorithm.unwrap_or(SYMMETRIC_DEFAULT)
        ))),
    }
}

pub(crate) fn wrong_usage(key: &Key, operation: &str) -> ApiError {
    ApiError::InvalidKeyUsage(format!(
        "{} key usage is {} which is not valid for {operation}.",
        key.arn,
        key.usage.as_str()
    ))
}

fn check_encrypt_decrypt(key: &Key, operation: &str) -> Result<(), ApiError> {
    if key.usage != KeyUsage::EncryptDecrypt || key.spec != KeySpec::SymmetricDefault {
        return Err(ApiError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn,
            key.usage.as_str()
        )));
    }
    Ok(())
}

fn check_unsupported_recipient(recipient: &Option<Value>) -> Result<(), ApiError> {
    if recipient.is_some() {
        return Err(ApiError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by keyledger.".into(),
        ));
    }
    Ok(())
}

fn opaque_ciphertext_error() -> ApiError {
    // Opaque on purpose: never say whether the blob, the key or the context was wrong.
    ApiError::InvalidCiphertext(
        "The ciphertext is invalid or does not match this key or encryption context.".into(),
    )
}

fn context_value(context: &Option<EncryptionContext>) -> Value {
    match context {
        Some(c) if !c.is_empty() => json!(c),
        _ => Value::Null,
    }
}

/// Which key of a ReEncrypt.
#[derive(Clone, Copy)]
enum Side {
    Source,
    Destination,
}

/// A boolean condition value as IAM writes it.
pub(crate) fn bool_text(value: Option<bool>) -> &'static str {
    if value == Some(true) {
        "true"
    } else {
        "false"
    }
}

pub(crate) fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, value| !value.is_null());
    }
    v
}

impl Service {
    pub(crate) async fn execute(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        operation: &str,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let Some(spec) = super::catalog::find(operation) else {
            return Err(if operation.is_empty() {
                ApiError::UnknownOperation("Missing X-Amz-Target: no operation was named.".into())
            } else {
                ApiError::UnknownOperation(format!(
                    "Operation {} is not an operation of TrentService.",
                    super::trail::event_name(operation)
                ))
            });
        };
        rec.read_only = spec.read_only;
        rec.action = spec.action;
        if spec.support == super::catalog::Support::NotYet {
            return Err(ApiError::UnsupportedOperation(format!(
                "keyledger does not support {operation} yet."
            )));
        }
        match operation {
            "CreateAlias" => self.create_alias(caller, ctx, body, rec),
            "CreateGrant" => self.create_grant(caller, ctx, body, now, rec),
            "ListGrants" => self.list_grants(caller, ctx, body, rec),
            "ListRetirableGrants" => self.list_retirable_grants(caller, ctx, body, rec),
            "RetireGrant" => self.retire_grant(caller, ctx, body, now, rec),
            "RevokeGrant" => self.revoke_grant(caller, ctx, body, now, rec),
            "GetPublicKey" => self.get_public_key(caller, ctx, body, rec),
            "Sign" => self.sign(caller, ctx, body, rec),
            "Verify" => self.verify(caller, ctx, body, rec),
            "GenerateMac" => self.generate_mac(caller, ctx, body, false, rec),
            "VerifyMac" => self.generate_mac(caller, ctx, body, true, rec),
            "DeriveSharedSecret" => self.derive_shared_secret(caller, ctx, body, rec),
            "GenerateDataKeyPair" => self.generate_data_key_pair(caller, ctx, body, true, rec),
            "GenerateDataKeyPairWithoutPlaintext" => {
                self.generate_data_key_pair(caller, ctx, body, false, rec)
            }
            "UpdateAlias" => self.update_alias(caller, ctx, body, rec),
            "DeleteAlias" => self.delete_alias(caller, ctx, body, rec),
            "ListAliases" => self.list_aliases(caller, ctx, body, rec),
            "UpdateKeyDescription" => self.update_key_description(caller, ctx, body, now, rec),
            "TagResource" => self.tag_resource(caller, ctx, body, now, rec),
            "UntagResource" => self.untag_resource(caller, ctx, body, now, rec),
            "ListResourceTags" => self.list_resource_tags(caller, ctx, body, rec),
            "PutKeyPolicy" => self.put_key_policy(caller, ctx, body, now, rec),
            "GetKeyPolicy" => self.get_key_policy(caller, ctx, body, rec),
            "ListKeyPolicies" => self.list_key_policies(caller, ctx, body, rec),
            "EnableKeyRotation" => self.enable_key_rotation(caller, ctx, body, now, rec),
            "DisableKeyRotation" => self.disable_key_rotation(caller, ctx, body, now, rec),
            "GetKeyRotationStatus" => self.get_key_rotation_status(caller, ctx, body, rec),
            "RotateKeyOnDemand" => self.rotate_key_on_demand(caller, ctx, body, now, rec),
            "ListKeyRotations" => self.list_key_rotations(caller, ctx, body, rec),
            "ScheduleKeyDeletion" => self.schedule_key_deletion(caller, ctx, body, now, rec),
            "CancelKeyDeletion" => self.cancel_key_deletion(caller, ctx, body, now, rec),
            super::history::KEY_AS_OF => self.key_as_of(caller, ctx, body, rec).await,
            super::history::KEY_HISTORY => self.key_history(caller, ctx, body, rec).await,
            super::trail_query::GET_KEY_LAST_USAGE => {
                self.get_key_last_usage(caller, ctx, body, rec).await
            }
            super::trail_query::LIST_TRAIL_EVENTS => {
                self.list_trail_events(caller, ctx, body, rec).await
            }
            super::trail_query::LOOKUP_EVENTS => self.lookup_events(caller, ctx, body, rec).await,
            "CreateKey" => self.create_key(caller, ctx, parse(body)?, now, rec),
            "DescribeKey" => self.describe_key(caller, ctx, parse(body)?, rec),
            "ListKeys" => self.list_keys(caller, ctx, parse(body)?, rec),
            "EnableKey" => {
                self.enable_disable(caller, ctx, parse(body)?, KeyCommand::Enable, now, rec)
            }
            "DisableKey" => {
                self.enable_disable(caller, ctx, parse(body)?, KeyCommand::Disable, now, rec)
            }
            "Encrypt" => self.encrypt(caller, ctx, parse(body)?, rec),
            "Decrypt" => self.decrypt(caller, ctx, parse(body)?, rec),
            "ReEncrypt" => self.re_encrypt(caller, ctx, parse(body)?, rec),
            "GenerateDataKey" => self.generate_data_key(caller, ctx, parse(body)?, true, rec),
            "GenerateDataKeyWithoutPlaintext" => {
                self.generate_data_key(caller, ctx, parse(body)?, false, rec)
            }
            "GenerateRandom" => self.generate_random(caller, ctx, parse(body)?, rec),
            _ => Err(ApiError::Internal(format!(
                "{} is declared but has no handler.",
                super::trail::event_name(operation)
            ))),
        }
    }

    /// The key a `KeyId` member names (validated, resolved, authorized for the operation's
    /// declared action), recorded as a resource of the call.
    pub(crate) fn key_param(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        key_id: Option<&str>,
        aliases: Resolve,
        facts: Facts<'_>,
        rec: &mut CallRecord,
    ) -> Result<Arc<Key>, ApiError> {
        check_key_id_param("keyId", key_id)?;
        let found = self.resolve(caller, ctx, key_id.unwrap_or_default(), aliases)?;
        rec.resources.push(found.arn().to_owned());
        self.authorize(caller, ctx, found, rec.action, facts)
    }

    /// An alias of the caller's account and region, or AWS's NotFoundException for it.
    pub(crate) fn alias(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<crate::domain::alias::Alias, ApiError> {
        self.projections
            .aliases
            .get(&ctx.region, &caller.account, name)
            .ok_or_else(|| alias_not_found(caller, ctx, name))
    }

    /// Resolve a `KeyId` parameter to a key in the request's region: the caller's own by
    /// id, alias name or ARN, another account's by key or alias ARN. Found is not allowed:
    /// [`Service::authorize`] decides that.
    pub(crate) fn resolve(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        key_id: &str,
        aliases: Resolve,
    ) -> Result<Found, ApiError> {
        let not_found = |account: &crate::domain::ids::AccountId, id: &KeyId| {
            ApiError::NotFound(format!(
                "Key '{}' does not exist",
                crate::domain::ids::key_arn(&ctx.region, account, id)
            ))
        };
        let alias_target = |account: &crate::domain::ids::AccountId, alias: &str| {
            if account == &caller.account
                && super::aws_managed::is_aws_managed_alias(alias)
                && self
                    .projections
                    .aliases
                    .get(&ctx.region, account, alias)
                    .is_none()
            {
                return Err(ApiError::AwsManagedKeyNeeded(alias.to_owned()));
            }
            self.projections
                .aliases
                .get(&ctx.region, account, alias)
                .map(|a| a.key_id)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "Alias arn:aws:kms:{}:{account}:{alias} is not found.",
                        ctx.region
                    ))
                })
        };
        let (account, id, alias) = match KeyRef::parse(key_id) {
            None => return Err(ApiError::NotFound(format!("Invalid keyId '{key_id}'"))),
            Some(KeyRef::Id(id)) => (caller.account.clone(), id, None),
            Some(KeyRef::Arn {
                region,
                account,
                key_id: id,
            }) => {
                if region != ctx.region {
                    return Err(ApiError::NotFound(format!("Key '{key_id}' does not exist")));
                }
                (account, id, None)
            }
            Some(KeyRef::AliasName(_) | KeyRef::AliasArn { .. }) if aliases == Resolve::KeyOnly => {
                return Err(ApiError::NotFound(format!("Invalid keyId '{key_id}'")))
            }
            Some(KeyRef::AliasName(alias)) => {
                let id = alias_target(&caller.account, &alias)?;
                (caller.account.clone(), id, Some(alias))
            }
            Some(KeyRef::AliasArn {
                region,
                account,
                alias,
            }) => {
                if region != ctx.region {
                    return Err(ApiError::NotFound(format!("Alias {key_id} is not found.")));
                }
                let id = alias_target(&account, &alias)?;
                (account, id, Some(alias))
            }
        };
        match self.projections.keys.get(&id) {
            Some(key) if key.account == account && key.region == ctx.region => {
                Ok(Found::new(key, alias))
            }
            _ => Err(not_found(&account, &id)),
        }
    }

    /// The unsealed material of a key version (cached after the first unwrap).
    pub(crate) fn material(
        &self,
        key: &Key,
        version: u32,
    ) -> Result<Arc<crate::crypto::secret::SecretBytes>, ApiError> {
        self.keyring.material(key, version).map_err(|_| {
            tracing::error!(key = %key.id, version, "key material cannot be unsealed");
            ApiError::Internal("The key material is unavailable.".into())
        })
    }

    /// The AEAD key of a symmetric key version, for the hot path.
    pub(crate) fn symmetric_material(
        &self,
        key: &Key,
        version: u32,
    ) -> Result<crate::crypto::secret::SecretKey, ApiError> {
        crate::crypto::secret::SecretKey::from_slice(&self.material(key, version)?)
            .ok_or_else(|| ApiError::Internal("The key material is not a symmetric key.".into()))
    }

    fn create_key(
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
        check_length("description", description.chars().count(), 0, 8192)?;
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
            KeyUsage::value_set,
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
        if matches!(spec, KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87) {
            return Err(ApiError::UnsupportedOperation(format!(
                "KeySpec {} (ML-DSA) is not supported by keyledger yet.",
                spec.as_str()
            )));
        }
        if !crate::domain::key::spec_allows_usage(spec, usage) {
            return Err(ApiError::Validation(format!(
                "KeyUsage {} is not compatible with KeySpec {}",
                usage.as_str(),
                spec.as_str()
            )));
        }
        if origin != Origin::AwsKms {
            return Err(ApiError::UnsupportedOperation(format!(
                "Origin {} is not supported by keyledger yet.",
                origin.as_str()
            )));
        }
        if req.custom_key_store_id.is_some() || req.xks_key_id.is_some() {
            return Err(ApiError::UnsupportedOperation(
                "Custom key stores are not supported by keyledger yet.".into(),
            ));
        }
        if req.multi_region == Some(true) {
            return Err(ApiError::UnsupportedOperation(
                "Multi-Region keys are not supported by keyledger yet.".into(),
            ));
        }

        self.authorize_account(
            caller,
            ctx,
            rec.action,
            "*",
            Facts::new()
                .with("kms:KeySpec", Some(spec.as_str()))
                .with("kms:KeyUsage", Some(usage.as_str()))
                .with("kms:KeyOrigin", Some(origin.as_str()))
                .with("kms:MultiRegion", Some("false"))
                .with(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    Some(bool_text(req.bypass_policy_lockout_safety_check)),
                )
                .with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect())
                .with_tags(&tags),
        )?;
        let key_id = KeyId::from_uuid(Uuid::new_v4());
        let policy = match req.policy {
            Some(policy) => {
                let rules = super::lifecycle::check_policy(&policy)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    let arn = crate::domain::ids::key_arn(&ctx.region, &caller.account, &key_id);
                    self.check_lockout(caller, ctx, &arn, caller.account.as_str(), &rules)?;
                }
                policy
            }
            None => super::lifecycle::default_policy(caller.account.as_str()),
        };
        let material = match spec {
            KeySpec::SymmetricDefault => random_bytes(32),
            other => crate::crypto::asymmetric::generate_private_key(other.as_str())
                .map_err(|_| ApiError::Internal("Key generation failed.".into()))?,
        };
        let secrets = self.keyring.new_key_secrets(&key_id, &material);
        drop(material);
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
            sealed_material: secrets.sealed_material,
            manager: KeyManager::Customer,
        };
        let events = decide(None, command, now)?;
        let key = events
            .iter()
            .fold(None, apply)
            .ok_or_else(|| ApiError::Internal("key creation produced no key".into()))?;
        let metadata = key_metadata(&key);
        rec.resources.push(key.arn.clone());
        rec.lifecycle = events.into_iter().zip(1..).collect();
        rec.shredding_keys
            .push((key_id, secrets.wrapped_shredding_key));
        rec.response_elements = json!({ "keyMetadata": metadata });
        Ok(json!({ "KeyMetadata": metadata }))
    }

    fn describe_key(
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
        Ok(json!({ "KeyMetadata": key_metadata(&key) }))
    }

    fn list_keys(
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
                    .position(|k| k.id == after)
                    .map(|i| i + 1)
                    .ok_or_else(|| ApiError::InvalidMarker("Invalid marker.".into()))?
            }
        };
        let page: Vec<&Arc<Key>> = keys.iter().skip(start).take(limit as usize).collect();
        let truncated = start + page.len() < keys.len();
        let mut response = json!({
            "Keys": page.iter().map(|k| json!({"KeyId": k.id.to_string(), "KeyArn": k.arn})).collect::<Vec<_>>(),
            "Truncated": truncated,
        });
        if truncated {
            if let Some(last) = page.last() {
                response["NextMarker"] = json!(last.id.to_string());
            }
        }
        Ok(response)
    }

    fn enable_disable(
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

    /// Encrypt `plaintext` under `key` with `algorithm` (absent: SYMMETRIC_DEFAULT).
    fn seal_for(
        &self,
        key: &Key,
        algorithm: Option<&str>,
        context: &Option<EncryptionContext>,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, &'static str), ApiError> {
        if key.usage != KeyUsage::EncryptDecrypt {
            return Err(wrong_usage(key, "Encrypt"));
        }
        if key.spec == KeySpec::SymmetricDefault {
            check_symmetric_algorithm("encryptionAlgorithm", algorithm, Some(&key.arn))?;
            let version = key.current_version().number;
            let material = self.symmetric_material(key, version)?;
            let canonical = canonical_context(&context.clone().unwrap_or_default());
            let blob = ciphertext::encrypt(&material, &key.id, version, &canonical, plaintext);
            return Ok((blob, SYMMETRIC_DEFAULT));
        }
        let algorithm = asymmetric_algorithm(key, algorithm)?;
        if context.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(ApiError::Validation(
                "EncryptionContext is not supported with asymmetric KMS keys.".into(),
            ));
        }
        let max = asym::rsa_max_plaintext(key.spec.as_str(), algorithm).unwrap_or(0);
        if plaintext.len() > max {
            return Err(ApiError::Validation(format!(
                "Plaintext is {} bytes; {} with {algorithm} encrypts at most {max}.",
                plaintext.len(),
                key.spec.as_str()
            )));
        }
        let material = self.material(key, key.current_version().number)?;
        let ciphertext = asym::rsa_encrypt(key.spec.as_str(), &material, algorithm, plaintext)
            .map_err(|_| ApiError::Internal("RSA encryption failed.".into()))?;
        Ok((ciphertext, algorithm))
    }

    /// Decrypt `blob`: under the key it names (symmetric), or under `requested_key` (RSA,
    /// where AWS requires the KeyId).
    #[allow(clippy::too_many_arguments)]
    fn open_for(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        blob: &[u8],
        requested_key: Option<&str>,
        algorithm: Option<&str>,
        context: &Option<EncryptionContext>,
        (action, grant_tokens): (&str, Option<&Vec<String>>),
        rec: &mut CallRecord,
    ) -> Result<(Arc<Key>, SecretBytes, &'static str), ApiError> {
        let facts = || {
            Facts::new()
                .encryption_context(context.as_ref())
                .with(
                    "kms:EncryptionAlgorithm",
                    Some(algorithm.unwrap_or(SYMMETRIC_DEFAULT)),
                )
                .grant_tokens(grant_tokens)
        };
        let requested = requested_key
            .map(|k| self.resolve(caller, ctx, k, Resolve::AliasesToo))
            .transpose()?;
        let requested = match requested {
            Some(found) if found.spec() != KeySpec::SymmetricDefault => {
                rec.resources.push(found.arn().to_owned());
                let key = self.authorize(caller, ctx, found, action, facts())?;
                return self.open_asymmetric(&key, algorithm, blob);
            }
            other => other,
        };
        check_symmetric_algorithm(
            "encryptionAlgorithm",
            algorithm,
            requested.as_ref().map(Found::arn),
        )?;
        let header = ciphertext::parse_header(blob).map_err(|_| opaque_ciphertext_error())?;
        // The blob names its key, in any account of this region; the policies say who may use it.
        let key = match self.projections.keys.get(&header.key_id) {
            Some(k) if k.region == ctx.region => k,
            // A deleted key is gone for every API, as at AWS.
            _ if self.projections.keys.was_deleted(&header.key_id) => {
                return Err(ApiError::NotFound(format!(
                    "Key '{}' does not exist",
                    crate::domain::ids::key_arn(&ctx.region, &caller.account, &header.key_id)
                )))
            }
            _ => return Err(opaque_ciphertext_error()),
        };
        if let Some(requested) = &requested {
            if requested.id() != key.id {
                return Err(ApiError::IncorrectKey(
                    "The key ID in the request does not identify a KMS key that can perform this operation.".into(),
                ));
            }
        }
        rec.resources.push(key.arn.clone());
        let alias = requested.and_then(Found::into_alias);
        let key = self.authorize(caller, ctx, Found::new(key, alias), action, facts())?;
        key.check(Operation::Decrypt)?;
        check_encrypt_decrypt(&key, "Decrypt")?;
        let version = key
            .version(header.version)
            .ok_or_else(opaque_ciphertext_error)?
            .number;
        let material = self.symmetric_material(&key, version)?;
        let canonical = canonical_context(&context.clone().unwrap_or_default());
        let plaintext = ciphertext::decrypt(&material, blob, &canonical)
            .map_err(|_| opaque_ciphertext_error())?;
        Ok((key, plaintext, SYMMETRIC_DEFAULT))
    }

    /// Decrypt with an RSA key the caller was allowed to use.
    fn open_asymmetric(
        &self,
        key: &Arc<Key>,
        algorithm: Option<&str>,
        blob: &[u8],
    ) -> Result<(Arc<Key>, SecretBytes, &'static str), ApiError> {
        key.check(Operation::Decrypt)?;
        if key.usage != KeyUsage::EncryptDecrypt {
            return Err(wrong_usage(key, "Decrypt"));
        }
        let algorithm = asymmetric_algorithm(key, algorithm)?;
        let material = self.material(key, key.current_version().number)?;
        let plaintext = asym::rsa_decrypt(key.spec.as_str(), &material, algorithm, blob)
            .map_err(|_| opaque_ciphertext_error())?;
        Ok((key.clone(), plaintext, algorithm))
    }

    fn encrypt(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: EncryptRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "encryptionAlgorithm": req.encryption_algorithm.as_deref().unwrap_or(SYMMETRIC_DEFAULT),
            "encryptionContext": context_value(&req.encryption_context),
            "dryRun": req.dry_run,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let plaintext = req
            .plaintext
            .ok_or_else(|| ApiError::missing("plaintext"))?;
        check_length("plaintext", plaintext.0.len(), 1, MAX_PLAINTEXT)?;
        check_grant_tokens(&req.grant_tokens)?;
        check_algorithm_value("encryptionAlgorithm", req.encryption_algorithm.as_deref())?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::AliasesToo,
            Facts::new()
                .encryption_context(req.encryption_context.as_ref())
                .with(
                    "kms:EncryptionAlgorithm",
                    Some(
                        req.encryption_algorithm
                            .as_deref()
                            .unwrap_or(SYMMETRIC_DEFAULT),
                    ),
                )
                .grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        key.check(Operation::Encrypt)?;
        if req.dry_run == Some(true) {
            if key.usage != KeyUsage::EncryptDecrypt {
                return Err(wrong_usage(&key, "Encrypt"));
            }
            return Err(ApiError::DryRun);
        }
        let (blob, algorithm) = self.seal_for(
            &key,
            req.encryption_algorithm.as_deref(),
            &req.encryption_context,
            &plaintext.0,
        )?;
        Ok(json!({
            "CiphertextBlob": b64(&blob),
            "KeyId": key.arn,
            "EncryptionAlgorithm": algorithm,
        }))
    }

    fn decrypt(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: DecryptRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "encryptionAlgorithm": req.encryption_algorithm.as_deref().unwrap_or(SYMMETRIC_DEFAULT),
            "encryptionContext": context_value(&req.encryption_context),
            "dryRun": req.dry_run,
        }));
        if ignore_ciphertext(req.dry_run, &req.dry_run_modifiers)? {
            // A dry run that skips the ciphertext: check the key and its state only.
            let key_id = req
                .key_id
                .as_deref()
                .ok_or_else(|| ApiError::missing("keyId"))?;
            let key = self.key_param(
                caller,
                ctx,
                Some(key_id),
                Resolve::AliasesToo,
                Facts::new()
                    .encryption_context(req.encryption_context.as_ref())
                    .with(
                        "kms:EncryptionAlgorithm",
                        Some(
                            req.encryption_algorithm
                                .as_deref()
                                .unwrap_or(SYMMETRIC_DEFAULT),
                        ),
                    )
                    .grant_tokens(req.grant_tokens.as_ref()),
                rec,
            )?;
            key.check(Operation::Decrypt)?;
            if key.usage != KeyUsage::EncryptDecrypt {
                return Err(wrong_usage(&key, "Decrypt"));
            }
            return Err(ApiError::DryRun);
        }
        let blob = req
            .ciphertext_blob
            .ok_or_else(|| ApiError::missing("ciphertextBlob"))?;
        check_length("ciphertextBlob", blob.0.len(), 1, MAX_CIPHERTEXT)?;
        if let Some(k) = req.key_id.as_deref() {
            check_length("keyId", k.len(), 1, 2048)?;
        }
        check_grant_tokens(&req.grant_tokens)?;
        check_unsupported_recipient(&req.recipient)?;
        check_algorithm_value("encryptionAlgorithm", req.encryption_algorithm.as_deref())?;
        let (key, plaintext, algorithm) = self.open_for(
            caller,
            ctx,
            &blob.0,
            req.key_id.as_deref(),
            req.encryption_algorithm.as_deref(),
            &req.encryption_context,
            (rec.action, req.grant_tokens.as_ref()),
            rec,
        )?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        Ok(json!({
            "KeyId": key.arn,
            "Plaintext": b64(&plaintext),
            "EncryptionAlgorithm": algorithm,
        }))
    }

    fn re_encrypt(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut req: ReEncryptRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({
            "sourceKeyId": req.source_key_id,
            "destinationKeyId": req.destination_key_id,
            "sourceEncryptionAlgorithm": req.source_encryption_algorithm.as_deref().unwrap_or(SYMMETRIC_DEFAULT),
            "destinationEncryptionAlgorithm": req.destination_encryption_algorithm.as_deref().unwrap_or(SYMMETRIC_DEFAULT),
            "sourceEncryptionContext": context_value(&req.source_encryption_context),
            "destinationEncryptionContext": context_value(&req.destination_encryption_context),
            "dryRun": req.dry_run,
        }));
        if ignore_ciphertext(req.dry_run, &req.dry_run_modifiers)? {
            // A dry run that skips the ciphertext: check both keys and their states only.
            check_key_id_param("destinationKeyId", req.destination_key_id.as_deref())?;
            let source_id = req
                .source_key_id
                .as_deref()
                .ok_or_else(|| ApiError::missing("sourceKeyId"))?;
            let source = self.resolve(caller, ctx, source_id, Resolve::AliasesToo)?;
            let destination = self.resolve(
                caller,
                ctx,
                req.destination_key_id.as_deref().unwrap_or_default(),
                Resolve::AliasesToo,
            )?;
            rec.resources.push(source.arn().to_owned());
            if destination.arn() != source.arn() {
                rec.resources.push(destination.arn().to_owned());
            }
            let source = self.authorize(
                caller,
                ctx,
                source,
                "kms:ReEncryptFrom",
                self.re_encrypt_facts(&req, Side::Source),
            )?;
            let destination = self.authorize(
                caller,
                ctx,
                destination,
                "kms:ReEncryptTo",
                self.re_encrypt_facts(&req, Side::Destination),
            )?;
            source.check(Operation::Decrypt)?;
            destination.check(Operation::ReEncrypt)?;
            return Err(ApiError::DryRun);
        }
        let blob = req
            .ciphertext_blob
            .take()
            .ok_or_else(|| ApiError::missing("ciphertextBlob"))?;
        check_length("ciphertextBlob", blob.0.len(), 1, MAX_CIPHERTEXT)?;
        check_key_id_param("destinationKeyId", req.destination_key_id.as_deref())?;
        if let Some(k) = req.source_key_id.as_deref() {
            check_length("sourceKeyId", k.len(), 1, 2048)?;
        }
        check_grant_tokens(&req.grant_tokens)?;
        check_algorithm_value(
            "sourceEncryptionAlgorithm",
            req.source_encryption_algorithm.as_deref(),
        )?;
        check_algorithm_value(
            "destinationEncryptionAlgorithm",
            req.destination_encryption_algorithm.as_deref(),
        )?;
        let destination = self.resolve(
            caller,
            ctx,
            req.destination_key_id.as_deref().unwrap_or_default(),
            Resolve::AliasesToo,
        )?;
        let (source, plaintext, source_algorithm) = self.open_for(
            caller,
            ctx,
            &blob.0,
            req.source_key_id.as_deref(),
            req.source_encryption_algorithm.as_deref(),
            &req.source_encryption_context,
            ("kms:ReEncryptFrom", req.grant_tokens.as_ref()),
            rec,
        )?;
        if !rec.resources.iter().any(|r| r == destination.arn()) {
            rec.resources.push(destination.arn().to_owned());
        }
        let destination = self.authorize(
            caller,
            ctx,
            destination,
            "kms:ReEncryptTo",
            self.re_encrypt_facts(&req, Side::Destination),
        )?;
        destination.check(Operation::ReEncrypt)?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let (new_blob, destination_algorithm) = self.seal_for(
            &destination,
            req.destination_encryption_algorithm.as_deref(),
            &req.destination_encryption_context,
            &plaintext,
        )?;
        Ok(json!({
            "CiphertextBlob": b64(&new_blob),
            "SourceKeyId": source.arn,
            "KeyId": destination.arn,
            "SourceEncryptionAlgorithm": source_algorithm,
            "DestinationEncryptionAlgorithm": destination_algorithm,
        }))
    }

    /// The condition keys of one side of a ReEncrypt.
    fn re_encrypt_facts<'a>(&self, req: &'a ReEncryptRequest, side: Side) -> Facts<'a> {
        let (context, algorithm) = match side {
            Side::Source => (
                req.source_encryption_context.as_ref(),
                req.source_encryption_algorithm.as_deref(),
            ),
            Side::Destination => (
                req.destination_encryption_context.as_ref(),
                req.destination_encryption_algorithm.as_deref(),
            ),
        };
        Facts::new()
            .encryption_context(context)
            .with(
                "kms:EncryptionAlgorithm",
                Some(algorithm.unwrap_or(SYMMETRIC_DEFAULT)),
            )
            .with(
                "kms:ReEncryptOnSameKey",
                Some(bool_text(Some(req.source_key_id == req.destination_key_id))),
            )
            .grant_tokens(req.grant_tokens.as_ref())
    }

    fn generate_data_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: GenerateDataKeyRequest,
        with_plaintext: bool,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "keySpec": req.key_spec,
            "numberOfBytes": req.number_of_bytes,
            "encryptionContext": context_value(&req.encryption_context),
            "dryRun": req.dry_run,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let length = match (req.key_spec.as_deref(), req.number_of_bytes) {
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(other), None) => {
                return Err(ApiError::constraint(
                    "keySpec",
                    Some(other),
                    "Member must satisfy enum value set: [AES_256, AES_128]",
                ))
            }
            (None, Some(n)) => {
                check_range("numberOfBytes", n, 1, 1024)?;
                n as usize
            }
            _ => {
                return Err(ApiError::Validation(
                    "Please specify either number of bytes or key spec.".into(),
                ))
            }
        };
        check_grant_tokens(&req.grant_tokens)?;
        if with_plaintext {
            check_unsupported_recipient(&req.recipient)?;
        }
        let operation = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::AliasesToo,
            Facts::new()
                .encryption_context(req.encryption_context.as_ref())
                .with("kms:EncryptionAlgorithm", Some(SYMMETRIC_DEFAULT))
                .grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        key.check(Operation::GenerateDataKey)?;
        check_encrypt_decrypt(&key, operation)?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let data_key = random_bytes(length);
        let version = key.current_version().number;
        let material = self.symmetric_material(&key, version)?;
        let context = canonical_context(&req.encryption_context.unwrap_or_default());
        let blob = ciphertext::encrypt(&material, &key.id, version, &context, &data_key);
        let mut response = json!({ "CiphertextBlob": b64(&blob), "KeyId": key.arn });
        if with_plaintext {
            response["Plaintext"] = json!(b64(&data_key));
        }
        Ok(response)
    }

    fn generate_random(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: GenerateRandomRequest,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.request_parameters = without_nulls(json!({ "numberOfBytes": req.number_of_bytes }));
        let n = req
            .number_of_bytes
            .ok_or_else(|| ApiError::missing("numberOfBytes"))?;
        check_range("numberOfBytes", n, 1, 1024)?;
        if req.custom_key_store_id.is_some() {
            return Err(ApiError::UnsupportedOperation(
                "Custom key stores are not supported by keyledger yet.".into(),
            ));
        }
        check_unsupported_recipient(&req.recipient)?;
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        Ok(json!({ "Plaintext": b64(&random_bytes(n as usize)) }))
    }
}
