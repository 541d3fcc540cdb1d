//! The AWS KMS operations' dispatcher, and what every operation shares: resolving a
//! `KeyId` (then [`Service::authorize`]), and unsealing the key's material. Each operation
//! lives with its kind (`keys`, `symmetric`, `asymmetric`, `lifecycle`, `grants`, …).
//! Nothing here writes: [`Service::handle`] records the call and only then replies.
use super::authz::{Facts, Found};
use super::quotas::{self, Charge, Class};
use super::request::{check_key_id_param, parse};
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::ids::{KeyId, KeyRef};
use crate::domain::key::{Key, KeyCommand};
use serde_json::Value;
use std::sync::Arc;
use time::OffsetDateTime;

/// Whether a `KeyId` parameter may name an alias (AWS accepts aliases only for some operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolve {
    KeyOnly,
    AliasesToo,
}

/// AWS's answer to a `KeyId` that is no id, ARN or alias: it quotes the value (short, escaped).
fn invalid_key_id(key_id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid keyId '{}'", super::limits::echo(key_id)))
}

pub(crate) fn alias_not_found(caller: &Caller, ctx: &RequestContext, alias: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Alias arn:aws:kms:{}:{}:{alias} is not found.",
        ctx.region, caller.account
    ))
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
        rec.state = spec.state;
        if spec.support == super::catalog::Support::NotYet {
            return Err(ApiError::UnsupportedOperation(format!(
                "keyledger does not support {operation} yet."
            )));
        }
        // Request quotas: an operation's own now; a shared cryptographic one once the key
        // (its type) is found, before any work is done with it.
        match quotas::charge_of(operation) {
            _ if rec.quota_charged => {}
            Charge::Now(class) => self.charge(caller, ctx, class)?,
            later @ (Charge::ByKey | Charge::ByKeyPair) => rec.quota = Some(later),
            Charge::Free => {}
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
            "Encapsulate" => self.encapsulate(caller, ctx, body, rec),
            "Decapsulate" => self.decapsulate(caller, ctx, body, rec),
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
            "GetParametersForImport" => self.get_parameters_for_import(caller, ctx, body, now, rec),
            "ImportKeyMaterial" => self.import_key_material(caller, ctx, body, now, rec),
            "ReplicateKey" => self.replicate_key(caller, ctx, body, now, rec),
            "UpdatePrimaryRegion" => self.update_primary_region(caller, ctx, body, now, rec),
            "DeleteImportedKeyMaterial" => {
                self.delete_imported_key_material(caller, ctx, body, now, rec)
            }
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
    /// declared action, checked against its declared key-state rule), recorded as a
    /// resource of the call.
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
        self.charge_key(caller, ctx, found.spec(), rec)?;
        rec.resources.push(found.arn().to_owned());
        let key = self.authorize(caller, ctx, found, rec.action, facts)?;
        // The key-state table's rule the operation is declared with (`catalog`).
        if let Some(state) = rec.state {
            key.check(state)?;
        }
        Ok(key)
    }

    /// Take one request of `class` from the caller's account in the request's Region, or
    /// answer `ThrottlingException`.
    pub(crate) fn charge(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        class: Class,
    ) -> Result<(), ApiError> {
        if self.quotas.take(
            &caller.account,
            &ctx.region,
            class,
            std::time::Instant::now(),
        ) {
            Ok(())
        } else {
            Err(ApiError::Throttling(quotas::THROTTLED.into()))
        }
    }

    /// Charge a cryptographic operation to its key type's shared quota, once per call (the
    /// first key it finds; ReEncrypt's destination is not charged again).
    pub(crate) fn charge_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        spec: crate::domain::key::KeySpec,
        rec: &mut CallRecord,
    ) -> Result<(), ApiError> {
        if rec.quota != Some(Charge::ByKey) {
            return Ok(());
        }
        rec.quota = None;
        self.charge(caller, ctx, Class::of_key(spec))
    }

    /// Charge GenerateDataKeyPair to its `KeyPairSpec`'s quota.
    pub(crate) fn charge_key_pair(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        key_pair_spec: &str,
        rec: &mut CallRecord,
    ) -> Result<(), ApiError> {
        if rec.quota != Some(Charge::ByKeyPair) {
            return Ok(());
        }
        rec.quota = None;
        match Class::of_key_pair(key_pair_spec) {
            Some(class) => self.charge(caller, ctx, class),
            None => Ok(()),
        }
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
            None => return Err(invalid_key_id(key_id)),
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
                return Err(invalid_key_id(key_id))
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
        match self.projections.keys.get_in(&id, &ctx.region) {
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
        // Imported material that was deleted or expired is not used, though the ledger holds
        // it sealed, until the same material is imported again.
        if let Some(import) = key
            .version(version)
            .and_then(|v| v.import.as_ref())
            .filter(|i| !i.imported)
        {
            return Err(ApiError::InvalidState(format!(
                "{} key material {} is pending import.",
                key.arn, import.material_id
            )));
        }
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
}
