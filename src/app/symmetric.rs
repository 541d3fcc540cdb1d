//! The symmetric (and RSA encryption) operations: Encrypt, Decrypt, ReEncrypt,
//! GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom.
use super::authz::{Facts, Found};
use super::operations::Resolve;
use super::request::{
    b64, bool_text, check_encryption_context, check_grant_tokens, check_key_id_param, check_length,
    check_range, without_nulls, wrong_usage, SYMMETRIC_DEFAULT,
};
use super::shapes::*;
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::crypto::asymmetric as asym;
use crate::crypto::secret::SecretBytes;
use crate::crypto::{ciphertext, context::canonical_context, secret::random_bytes};
use crate::domain::ids::KeyId;
use crate::domain::key::{Key, KeySpec, KeyUsage, Operation};
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) const MAX_PLAINTEXT: usize = 4096;

pub(crate) const MAX_CIPHERTEXT: usize = 6144;

pub(crate) const ENCRYPTION_ALGORITHMS: &str =
    "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]";

/// The encryption algorithm of a symmetric call: absent or SYMMETRIC_DEFAULT.
pub(crate) fn check_symmetric_algorithm(
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
pub(crate) fn ignore_ciphertext(
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

/// An EncryptionAlgorithm value must be one AWS knows.
pub(crate) fn check_algorithm_value(member: &str, algorithm: Option<&str>) -> Result<(), ApiError> {
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
pub(crate) fn asymmetric_algorithm(
    key: &Key,
    algorithm: Option<&str>,
) -> Result<&'static str, ApiError> {
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

pub(crate) fn check_encrypt_decrypt(key: &Key, operation: &str) -> Result<(), ApiError> {
    if key.usage != KeyUsage::EncryptDecrypt || key.spec != KeySpec::SymmetricDefault {
        return Err(ApiError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn,
            key.usage.as_str()
        )));
    }
    Ok(())
}

pub(crate) fn check_unsupported_recipient(recipient: &Option<Value>) -> Result<(), ApiError> {
    if recipient.is_some() {
        return Err(ApiError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by keyledger.".into(),
        ));
    }
    Ok(())
}

pub(crate) fn opaque_ciphertext_error() -> ApiError {
    // Opaque on purpose: never say whether the blob, the key or the context was wrong.
    ApiError::InvalidCiphertext(
        "The ciphertext is invalid or does not match this key or encryption context.".into(),
    )
}

pub(crate) fn context_value(context: &Option<EncryptionContext>) -> Value {
    match context {
        Some(c) if !c.is_empty() => json!(c),
        _ => Value::Null,
    }
}

/// Which key of a ReEncrypt.
#[derive(Clone, Copy)]
pub(crate) enum Side {
    Source,
    Destination,
}

impl Service {
    /// Encrypt `plaintext` under `key` with `algorithm` (absent: SYMMETRIC_DEFAULT).
    /// AWS's `KeyMaterialId` of the material a symmetric blob was made under (`None` for
    /// asymmetric keys, whose responses carry none).
    pub(crate) fn blob_material_id(key: &Key, blob: &[u8]) -> Option<String> {
        if key.spec != KeySpec::SymmetricDefault {
            return None;
        }
        let header = ciphertext::parse_header(blob).ok()?;
        key.version(header.version)
            .map(|v| super::keys::key_material_id(key, v))
    }

    pub(crate) fn seal_for(
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
            let blob = ciphertext::encrypt(
                &material,
                &key.external_id(),
                version,
                &canonical,
                plaintext,
            );
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
    pub(crate) fn open_for(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        blob: &[u8],
        requested_key: Option<&str>,
        algorithm: Option<&str>,
        context: &Option<EncryptionContext>,
        (action, grant_tokens, re_encrypt_to): (&str, Option<&Vec<String>>, Option<KeyId>),
        rec: &mut CallRecord,
    ) -> Result<(Arc<Key>, SecretBytes, &'static str), ApiError> {
        // `re_encrypt_to`: ReEncrypt's destination, for `kms:ReEncryptOnSameKey`.
        let facts = |key_id: KeyId| {
            Facts::new()
                .encryption_context(context.as_ref())
                .with(
                    "kms:EncryptionAlgorithm",
                    Some(algorithm.unwrap_or(SYMMETRIC_DEFAULT)),
                )
                .with(
                    "kms:ReEncryptOnSameKey",
                    re_encrypt_to.map(|to| bool_text(Some(to == key_id))),
                )
                .grant_tokens(grant_tokens)
        };
        let requested = requested_key
            .map(|k| self.resolve(caller, ctx, k, Resolve::AliasesToo))
            .transpose()?;
        let requested = match requested {
            Some(found) if found.spec() != KeySpec::SymmetricDefault => {
                self.charge_key(caller, ctx, found.spec(), rec)?;
                rec.resources.push(found.arn().to_owned());
                let id = found.id();
                let key = self.authorize(caller, ctx, found, action, facts(id))?;
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
        let key = match self.projections.keys.get_in(&header.key_id, &ctx.region) {
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
        self.charge_key(caller, ctx, key.spec, rec)?;
        rec.resources.push(key.arn.clone());
        let alias = requested.and_then(Found::into_alias);
        let id = key.id;
        let key = self.authorize(caller, ctx, Found::new(key, alias), action, facts(id))?;
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
    pub(crate) fn open_asymmetric(
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

    pub(crate) fn encrypt(
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
        check_encryption_context("encryptionContext", req.encryption_context.as_ref())?;
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

    pub(crate) fn decrypt(
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
        check_encryption_context("encryptionContext", req.encryption_context.as_ref())?;
        check_unsupported_recipient(&req.recipient)?;
        check_algorithm_value("encryptionAlgorithm", req.encryption_algorithm.as_deref())?;
        let (key, plaintext, algorithm) = self.open_for(
            caller,
            ctx,
            &blob.0,
            req.key_id.as_deref(),
            req.encryption_algorithm.as_deref(),
            &req.encryption_context,
            (rec.action, req.grant_tokens.as_ref(), None),
            rec,
        )?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let mut response = json!({
            "KeyId": key.arn,
            "Plaintext": b64(&plaintext),
            "EncryptionAlgorithm": algorithm,
        });
        if let Some(id) = Self::blob_material_id(&key, &blob.0) {
            response["KeyMaterialId"] = json!(id);
        }
        Ok(response)
    }

    pub(crate) fn re_encrypt(
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
            self.charge_key(caller, ctx, source.spec(), rec)?;
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
            let same = source.id() == destination.id();
            let source = self.authorize(
                caller,
                ctx,
                source,
                "kms:ReEncryptFrom",
                self.re_encrypt_facts(&req, Side::Source, same),
            )?;
            let destination = self.authorize(
                caller,
                ctx,
                destination,
                "kms:ReEncryptTo",
                self.re_encrypt_facts(&req, Side::Destination, same),
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
        check_encryption_context(
            "sourceEncryptionContext",
            req.source_encryption_context.as_ref(),
        )?;
        check_encryption_context(
            "destinationEncryptionContext",
            req.destination_encryption_context.as_ref(),
        )?;
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
            (
                "kms:ReEncryptFrom",
                req.grant_tokens.as_ref(),
                Some(destination.id()),
            ),
            rec,
        )?;
        if !rec.resources.iter().any(|r| r == destination.arn()) {
            rec.resources.push(destination.arn().to_owned());
        }
        let same = source.id == destination.id();
        let destination = self.authorize(
            caller,
            ctx,
            destination,
            "kms:ReEncryptTo",
            self.re_encrypt_facts(&req, Side::Destination, same),
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
        let mut response = json!({
            "CiphertextBlob": b64(&new_blob),
            "SourceKeyId": source.arn,
            "KeyId": destination.arn,
            "SourceEncryptionAlgorithm": source_algorithm,
            "DestinationEncryptionAlgorithm": destination_algorithm,
        });
        if let Some(id) = Self::blob_material_id(&source, &blob.0) {
            response["SourceKeyMaterialId"] = json!(id);
        }
        if let Some(id) = Self::blob_material_id(&destination, &new_blob) {
            response["DestinationKeyMaterialId"] = json!(id);
        }
        Ok(response)
    }

    /// The condition keys of one side of a ReEncrypt.
    /// `same`: whether the source and destination are one key (`kms:ReEncryptOnSameKey`).
    pub(crate) fn re_encrypt_facts<'a>(
        &self,
        req: &'a ReEncryptRequest,
        side: Side,
        same: bool,
    ) -> Facts<'a> {
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
            .with("kms:ReEncryptOnSameKey", Some(bool_text(Some(same))))
            .grant_tokens(req.grant_tokens.as_ref())
    }

    pub(crate) fn generate_data_key(
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
        check_encryption_context("encryptionContext", req.encryption_context.as_ref())?;
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
        check_encrypt_decrypt(&key, operation)?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let data_key = random_bytes(length);
        let version = key.current_version().number;
        let material = self.symmetric_material(&key, version)?;
        let context = canonical_context(&req.encryption_context.unwrap_or_default());
        let blob = ciphertext::encrypt(&material, &key.external_id(), version, &context, &data_key);
        let mut response = json!({
            "CiphertextBlob": b64(&blob),
            "KeyId": key.arn,
            "KeyMaterialId": super::keys::key_material_id(&key, key.current_version()),
        });
        if with_plaintext {
            response["Plaintext"] = json!(b64(&data_key));
        }
        Ok(response)
    }

    pub(crate) fn generate_random(
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
