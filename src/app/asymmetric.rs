//! Asymmetric, HMAC and key-agreement operations, and data key pairs. The
//! cryptography is `crypto::asymmetric`; here are AWS's shapes, validation,
//! key-state and key-usage rules. Messages, signatures, MACs and secrets never
//! reach the trail: only key ids and algorithm names do.

use super::authz::Facts;
use super::operations::Resolve;
use super::request::{check_length, parse, without_nulls, wrong_usage};
use super::shapes::{Blob, EncryptionContext, SecretBlob};
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::crypto::asymmetric::{self as asym, InputError, MessageType};
use crate::crypto::{ciphertext, context::canonical_context};
use crate::domain::key::{Key, KeySpec, KeyUsage, Operation};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

const MAX_MESSAGE: usize = 4096;
const SIGNING_ALGORITHMS: &str = "[RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512, ECDSA_SHA_256, ECDSA_SHA_384, ECDSA_SHA_512, SM2DSA, ML_DSA_SHAKE_256, ED25519_SHA_512, ED25519_PH_SHA_512]";
const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];
/// The data key pairs keyledger makes.
const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
/// The current AWS KMS model's `DataKeyPairSpec` enum, in its order (for validation messages).
const MODEL_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignRequest {
    key_id: Option<String>,
    message: Option<SecretBlob>,
    message_type: Option<String>,
    signing_algorithm: Option<String>,
    signature: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MacRequest {
    key_id: Option<String>,
    message: Option<SecretBlob>,
    mac_algorithm: Option<String>,
    mac: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeriveRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyPairRequest {
    key_id: Option<String>,
    key_pair_spec: Option<String>,
    encryption_context: Option<EncryptionContext>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncapsulateRequest {
    key_id: Option<String>,
    encapsulation_algorithm: Option<String>,
    shared_secret_ciphertext_blob: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// The model's `EncapsulationAlgorithmSpec` enum.
const ENCAPSULATION_ALGORITHMS: &str = "[ML_KEM]";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicKeyRequest {
    key_id: Option<String>,
    grant_tokens: Option<Vec<String>>,
}

fn input_error(e: InputError, key: &Key, operation: &str) -> ApiError {
    match e {
        InputError::AlgorithmNotForKey => ApiError::InvalidKeyUsage(format!(
            "The algorithm is not valid for {} ({}) in {operation}.",
            key.arn,
            key.spec.as_str()
        )),
        InputError::DigestLengthMismatch { expected, actual } => ApiError::Validation(format!(
            "Digest is {actual} bytes, but the signing algorithm's digest is {expected} bytes."
        )),
        InputError::MessageTooLong => {
            ApiError::Validation("The message is too long for this key.".into())
        }
        InputError::CiphertextLengthMismatch { expected, actual } => {
            ApiError::InvalidCiphertext(format!(
                "SharedSecretCiphertextBlob is {actual} bytes; {} ({}) takes {expected}.",
                key.arn,
                key.spec.as_str()
            ))
        }
        InputError::Crypto => ApiError::Internal(format!("{operation} failed.")),
    }
}

fn message_type(text: Option<&str>) -> Result<MessageType, ApiError> {
    match text {
        None | Some("RAW") => Ok(MessageType::Raw),
        Some("DIGEST") => Ok(MessageType::Digest),
        Some("EXTERNAL_MU") => Ok(MessageType::ExternalMu),
        Some(other) => Err(ApiError::constraint(
            "messageType",
            Some(other),
            "Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]",
        )),
    }
}

/// The Ed25519 algorithms' message types, as the API Reference gives them: ED25519_SHA_512
/// takes only RAW, ED25519_PH_SHA_512 only DIGEST (a 64-byte SHA-512 digest). For DIGEST, KMS
/// "still performs the SHA-512 prehash" of Ed25519ph (FIPS 186-5 §7.8.1 step 1): the digest
/// is the message HashEdDSA hashes, so it goes to the crypto as RAW input, hashed once more.
fn ed25519_message_type(
    key: &Key,
    algorithm: &str,
    message_type: MessageType,
    message: &[u8],
) -> Result<MessageType, ApiError> {
    if key.spec != KeySpec::EccNistEdwards25519 {
        return Ok(message_type);
    }
    match (algorithm, message_type) {
        ("ED25519_SHA_512", MessageType::Digest) => Err(ApiError::Validation(
            "ED25519_SHA_512 signing algorithm requires MessageType RAW.".into(),
        )),
        ("ED25519_PH_SHA_512", MessageType::Raw) => Err(ApiError::Validation(
            "ED25519_PH_SHA_512 signing algorithm requires MessageType DIGEST.".into(),
        )),
        ("ED25519_PH_SHA_512", MessageType::Digest) if message.len() != ED25519_PH_DIGEST => {
            Err(invalid_digest_length(algorithm))
        }
        ("ED25519_PH_SHA_512", MessageType::Digest) => Ok(MessageType::Raw),
        _ => Ok(message_type),
    }
}

/// The message types by key family: EXTERNAL_MU is ML-DSA's alone, and ML-DSA takes RAW
/// or EXTERNAL_MU (a 64-byte μ), never DIGEST.
fn ml_dsa_message_type(
    key: &Key,
    algorithm: &str,
    message_type: MessageType,
    message: &[u8],
) -> Result<(), ApiError> {
    let ml_dsa = matches!(
        key.spec,
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87
    );
    match message_type {
        MessageType::ExternalMu if !ml_dsa => Err(ApiError::InvalidKeyUsage(
            "MessageType EXTERNAL_MU is only valid with ML-DSA keys.".into(),
        )),
        MessageType::ExternalMu if message.len() != ML_DSA_MU => {
            Err(invalid_digest_length(algorithm))
        }
        MessageType::Digest if ml_dsa => Err(ApiError::Validation(format!(
            "{algorithm} signing algorithm requires MessageType RAW or EXTERNAL_MU."
        ))),
        _ => Ok(()),
    }
}

/// The length of the μ an ML-DSA EXTERNAL_MU message is (FIPS 204 §6.2).
const ML_DSA_MU: usize = 64;

/// A Sign or Verify input the crypto refused, worded as AWS words it.
fn signing_error(e: InputError, key: &Key, algorithm: &str, operation: &str) -> ApiError {
    match e {
        InputError::DigestLengthMismatch { .. } => invalid_digest_length(algorithm),
        other => input_error(other, key, operation),
    }
}

/// The length of the SHA-512 digest ED25519_PH_SHA_512 signs.
const ED25519_PH_DIGEST: usize = 64;

/// AWS's refusal of a DIGEST message whose length is not the algorithm's digest length.
fn invalid_digest_length(algorithm: &str) -> ApiError {
    ApiError::Validation(format!(
        "Digest is invalid length for algorithm {algorithm}."
    ))
}

fn check_known(member: &str, value: &str, set: &str) -> Result<(), ApiError> {
    if set
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .any(|v| v == value)
    {
        Ok(())
    } else {
        Err(ApiError::constraint(
            member,
            Some(value),
            &format!("Member must satisfy enum value set: {set}"),
        ))
    }
}

fn public_key_metadata(key: &Key) -> Value {
    let mut m = json!({
        "KeyId": key.arn,
        "KeySpec": key.spec.as_str(),
        "KeyUsage": key.usage.as_str(),
    });
    if let Some(spec) = super::keys::customer_master_key_spec(key.spec) {
        m["CustomerMasterKeySpec"] = json!(spec);
    }
    match key.usage {
        KeyUsage::EncryptDecrypt => {
            m["EncryptionAlgorithms"] = json!(asym::encryption_algorithms(key.spec.as_str()))
        }
        KeyUsage::SignVerify => {
            m["SigningAlgorithms"] = json!(asym::signing_algorithms(key.spec.as_str()))
        }
        KeyUsage::KeyAgreement => {
            m["KeyAgreementAlgorithms"] = json!(asym::key_agreement_algorithms(key.spec.as_str()))
        }
        KeyUsage::EncapsulateDecapsulate => {
            m["EncapsulationAlgorithms"] = json!(asym::encapsulation_algorithms(key.spec.as_str()))
        }
        KeyUsage::GenerateVerifyMac => {}
    }
    m
}

impl Service {
    /// Resolve a key for an asymmetric/HMAC operation and check its state.
    #[allow(clippy::too_many_arguments)]
    fn usable(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        key_id: Option<&str>,
        operation: Operation,
        facts: Facts<'_>,
        rec: &mut CallRecord,
    ) -> Result<Arc<Key>, ApiError> {
        let key = self.key_param(caller, ctx, key_id, Resolve::AliasesToo, facts, rec)?;
        debug_assert_eq!(rec.state, Some(operation), "declared in catalog");
        Ok(key)
    }

    pub(crate) fn get_public_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: PublicKeyRequest = parse(body)?;
        rec.request_parameters = json!({ "keyId": req.key_id });
        super::request::check_grant_tokens(&req.grant_tokens)?;
        let key = self.usable(
            caller,
            ctx,
            req.key_id.as_deref(),
            Operation::GetPublicKey,
            Facts::new().grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        if matches!(
            key.spec,
            KeySpec::SymmetricDefault
                | KeySpec::Hmac224
                | KeySpec::Hmac256
                | KeySpec::Hmac384
                | KeySpec::Hmac512
        ) {
            return Err(ApiError::UnsupportedOperation(format!(
                "{} is not an asymmetric key; it has no public key.",
                key.arn
            )));
        }
        let material = self.material(&key, key.current_version().number)?;
        let public = asym::public_key_der(key.spec.as_str(), &material)
            .map_err(|_| ApiError::Internal("The public key cannot be derived.".into()))?;
        let mut response = public_key_metadata(&key);
        response["PublicKey"] = json!(b64(&public));
        Ok(response)
    }

    /// What Sign and Verify share: validation, key resolution, state and usage checks.
    fn signing_inputs(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: &SignRequest,
        operation: Operation,
        rec: &mut CallRecord,
    ) -> Result<(Arc<Key>, MessageType, String), ApiError> {
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "messageType": req.message_type.as_deref().unwrap_or("RAW"),
            "signingAlgorithm": req.signing_algorithm,
            "dryRun": req.dry_run,
        }));
        let message = req
            .message
            .as_ref()
            .ok_or_else(|| ApiError::missing("message"))?;
        check_length("message", message.0.len(), 1, MAX_MESSAGE)?;
        let message_type = message_type(req.message_type.as_deref())?;
        let algorithm = req
            .signing_algorithm
            .clone()
            .ok_or_else(|| ApiError::missing("signingAlgorithm"))?;
        check_known("signingAlgorithm", &algorithm, SIGNING_ALGORITHMS)?;
        if let Some(refusal) = asym::fips_refusal_for_signing(&algorithm)
            .or_else(|| asym::fips_refusal_for_message_type(message_type))
        {
            return Err(ApiError::UnsupportedOperation(refusal));
        }
        super::request::check_grant_tokens(&req.grant_tokens)?;
        let facts = Facts::new()
            .with("kms:SigningAlgorithm", Some(&algorithm))
            .with(
                "kms:MessageType",
                Some(req.message_type.as_deref().unwrap_or("RAW")),
            )
            .grant_tokens(req.grant_tokens.as_ref());
        let key = self.usable(caller, ctx, req.key_id.as_deref(), operation, facts, rec)?;
        if key.usage != KeyUsage::SignVerify {
            return Err(wrong_usage(
                &key,
                if operation == Operation::Sign {
                    "Sign"
                } else {
                    "Verify"
                },
            ));
        }
        ml_dsa_message_type(&key, &algorithm, message_type, &message.0)?;
        let message_type = ed25519_message_type(&key, &algorithm, message_type, &message.0)?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        Ok((key, message_type, algorithm))
    }

    pub(crate) fn sign(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: SignRequest = parse(body)?;
        let (key, message_type, algorithm) =
            self.signing_inputs(caller, ctx, &req, Operation::Sign, rec)?;
        let message = req.message.as_ref().map(|m| &m.0[..]).unwrap_or_default();
        let material = self.material(&key, key.current_version().number)?;
        let signature = asym::sign(
            key.spec.as_str(),
            &material,
            &algorithm,
            message,
            message_type,
        )
        .map_err(|e| signing_error(e, &key, &algorithm, "Sign"))?;
        Ok(json!({ "KeyId": key.arn, "Signature": b64(&signature), "SigningAlgorithm": algorithm }))
    }

    pub(crate) fn verify(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: SignRequest = parse(body)?;
        if let Some(signature) = &req.signature {
            check_length("signature", signature.0.len(), 1, 6144)?;
        }
        let (key, message_type, algorithm) =
            self.signing_inputs(caller, ctx, &req, Operation::Verify, rec)?;
        let signature = req
            .signature
            .as_ref()
            .ok_or_else(|| ApiError::missing("signature"))?;
        let message = req.message.as_ref().map(|m| &m.0[..]).unwrap_or_default();
        let material = self.material(&key, key.current_version().number)?;
        let valid = asym::verify(
            key.spec.as_str(),
            &material,
            &algorithm,
            message,
            message_type,
            &signature.0,
        )
        .map_err(|e| signing_error(e, &key, &algorithm, "Verify"))?;
        if !valid {
            return Err(ApiError::KmsInvalidSignature(
                "The signature does not verify with this key, message and algorithm.".into(),
            ));
        }
        Ok(json!({ "KeyId": key.arn, "SignatureValid": true, "SigningAlgorithm": algorithm }))
    }

    pub(crate) fn generate_mac(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        verify: bool,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: MacRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "macAlgorithm": req.mac_algorithm,
            "dryRun": req.dry_run,
        }));
        let message = req.message.ok_or_else(|| ApiError::missing("message"))?;
        check_length("message", message.0.len(), 1, MAX_MESSAGE)?;
        let algorithm = req
            .mac_algorithm
            .ok_or_else(|| ApiError::missing("macAlgorithm"))?;
        if !MAC_ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(ApiError::constraint(
                "macAlgorithm",
                Some(&algorithm),
                "Member must satisfy enum value set: [HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512]",
            ));
        }
        let mac = if verify {
            let mac = req.mac.ok_or_else(|| ApiError::missing("mac"))?;
            check_length("mac", mac.0.len(), 1, 6144)?;
            Some(mac)
        } else {
            None
        };
        super::request::check_grant_tokens(&req.grant_tokens)?;
        let operation = if verify {
            Operation::VerifyMac
        } else {
            Operation::GenerateMac
        };
        let name = if verify { "VerifyMac" } else { "GenerateMac" };
        let facts = Facts::new()
            .with("kms:MacAlgorithm", Some(&algorithm))
            .grant_tokens(req.grant_tokens.as_ref());
        let key = self.usable(caller, ctx, req.key_id.as_deref(), operation, facts, rec)?;
        if key.usage != KeyUsage::GenerateVerifyMac {
            return Err(wrong_usage(&key, name));
        }
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let material = self.material(&key, key.current_version().number)?;
        match mac {
            None => {
                let mac = asym::generate_mac(key.spec.as_str(), &material, &algorithm, &message.0)
                    .map_err(|e| input_error(e, &key, name))?;
                Ok(json!({ "Mac": b64(&mac), "MacAlgorithm": algorithm, "KeyId": key.arn }))
            }
            Some(mac) => {
                let valid =
                    asym::verify_mac(key.spec.as_str(), &material, &algorithm, &message.0, &mac.0)
                        .map_err(|e| input_error(e, &key, name))?;
                if !valid {
                    return Err(ApiError::InvalidMac(
                        "The MAC does not verify with this key, message and algorithm.".into(),
                    ));
                }
                Ok(json!({ "KeyId": key.arn, "MacValid": true, "MacAlgorithm": algorithm }))
            }
        }
    }

    pub(crate) fn derive_shared_secret(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DeriveRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "keyAgreementAlgorithm": req.key_agreement_algorithm,
            "dryRun": req.dry_run,
        }));
        let algorithm = req
            .key_agreement_algorithm
            .ok_or_else(|| ApiError::missing("keyAgreementAlgorithm"))?;
        if algorithm != "ECDH" {
            return Err(ApiError::constraint(
                "keyAgreementAlgorithm",
                Some(&algorithm),
                "Member must satisfy enum value set: [ECDH]",
            ));
        }
        let public_key = req
            .public_key
            .ok_or_else(|| ApiError::missing("publicKey"))?;
        check_length("publicKey", public_key.0.len(), 1, 8192)?;
        super::request::check_grant_tokens(&req.grant_tokens)?;
        if req.recipient.is_some() {
            return Err(ApiError::UnsupportedOperation(
                "Recipient (Nitro Enclaves attestation) is not supported by keyledger.".into(),
            ));
        }
        let key = self.usable(
            caller,
            ctx,
            req.key_id.as_deref(),
            Operation::DeriveSharedSecret,
            Facts::new()
                .with("kms:KeyAgreementAlgorithm", Some(&algorithm))
                .grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        if key.usage != KeyUsage::KeyAgreement {
            return Err(wrong_usage(&key, "DeriveSharedSecret"));
        }
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let material = self.material(&key, key.current_version().number)?;
        let secret = asym::derive_shared_secret(key.spec.as_str(), &material, &public_key.0)
            .map_err(|e| match e {
                InputError::Crypto => ApiError::Validation(
                    "PublicKey must be a DER-encoded SubjectPublicKeyInfo on the key's curve."
                        .into(),
                ),
                other => input_error(other, &key, "DeriveSharedSecret"),
            })?;
        Ok(json!({
            "KeyId": key.arn,
            "SharedSecret": b64(&secret),
            "KeyAgreementAlgorithm": algorithm,
            "KeyOrigin": key.origin.as_str(),
        }))
    }

    /// What Encapsulate and Decapsulate share: validation, key resolution, state and usage.
    fn kem_inputs(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: &EncapsulateRequest,
        operation: Operation,
        rec: &mut CallRecord,
    ) -> Result<(Arc<Key>, String), ApiError> {
        let name = if operation == Operation::Encapsulate {
            "Encapsulate"
        } else {
            "Decapsulate"
        };
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "encapsulationAlgorithm": req.encapsulation_algorithm,
            "dryRun": req.dry_run,
        }));
        if operation == Operation::Decapsulate {
            let blob = req
                .shared_secret_ciphertext_blob
                .as_ref()
                .ok_or_else(|| ApiError::missing("sharedSecretCiphertextBlob"))?;
            check_length("sharedSecretCiphertextBlob", blob.0.len(), 1, 6144)?;
        }
        let algorithm = req
            .encapsulation_algorithm
            .clone()
            .ok_or_else(|| ApiError::missing("encapsulationAlgorithm"))?;
        check_known(
            "encapsulationAlgorithm",
            &algorithm,
            ENCAPSULATION_ALGORITHMS,
        )?;
        super::request::check_grant_tokens(&req.grant_tokens)?;
        let key = self.usable(
            caller,
            ctx,
            req.key_id.as_deref(),
            operation,
            // The Developer Guide names no condition key for the encapsulation algorithm
            // (there is only one, ML_KEM).
            Facts::new().grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        if key.usage != KeyUsage::EncapsulateDecapsulate {
            return Err(wrong_usage(&key, name));
        }
        if !asym::encapsulation_algorithms(key.spec.as_str()).contains(&algorithm.as_str()) {
            return Err(input_error(InputError::AlgorithmNotForKey, &key, name));
        }
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        Ok((key, algorithm))
    }

    /// Encapsulate: a fresh 32-byte shared secret and its ML-KEM ciphertext under the key's
    /// encapsulation key. Neither reaches the trail.
    pub(crate) fn encapsulate(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: EncapsulateRequest = parse(body)?;
        let (key, algorithm) = self.kem_inputs(caller, ctx, &req, Operation::Encapsulate, rec)?;
        let material = self.material(&key, key.current_version().number)?;
        let (ciphertext, secret) = asym::encapsulate(key.spec.as_str(), &material)
            .map_err(|e| input_error(e, &key, "Encapsulate"))?;
        Ok(json!({
            "KeyId": key.arn,
            "SharedSecret": b64(&secret),
            "SharedSecretCiphertextBlob": b64(&ciphertext),
            "EncapsulationAlgorithm": algorithm,
        }))
    }

    /// Decapsulate: the shared secret of an ML-KEM ciphertext. A ciphertext of the wrong
    /// length is `InvalidCiphertextException`; any other decapsulates (implicit rejection).
    pub(crate) fn decapsulate(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: EncapsulateRequest = parse(body)?;
        let (key, algorithm) = self.kem_inputs(caller, ctx, &req, Operation::Decapsulate, rec)?;
        let ciphertext = req
            .shared_secret_ciphertext_blob
            .as_ref()
            .map(|b| &b.0[..])
            .unwrap_or_default();
        let material = self.material(&key, key.current_version().number)?;
        let secret = asym::decapsulate(key.spec.as_str(), &material, ciphertext)
            .map_err(|e| input_error(e, &key, "Decapsulate"))?;
        Ok(json!({
            "KeyId": key.arn,
            "SharedSecret": b64(&secret),
            "EncapsulationAlgorithm": algorithm,
        }))
    }

    pub(crate) fn generate_data_key_pair(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        with_plaintext: bool,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DataKeyPairRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "keyPairSpec": req.key_pair_spec,
            "encryptionContext": req.encryption_context.as_ref().filter(|c| !c.is_empty()),
            "dryRun": req.dry_run,
        }));
        let spec = req
            .key_pair_spec
            .ok_or_else(|| ApiError::missing("keyPairSpec"))?;
        if spec == "SM2" {
            return Err(ApiError::UnsupportedOperation(
                "KeyPairSpec SM2 is only offered in the AWS China Regions.".into(),
            ));
        }
        if !MODEL_KEY_PAIR_SPECS.contains(&spec.as_str()) {
            return Err(ApiError::constraint(
                "keyPairSpec",
                Some(&spec),
                &format!(
                    "Member must satisfy enum value set: {}",
                    super::keys::value_set(MODEL_KEY_PAIR_SPECS)
                ),
            ));
        }
        if !KEY_PAIR_SPECS.contains(&spec.as_str()) {
            return Err(ApiError::UnsupportedOperation(format!(
                "KeyPairSpec {spec} is not supported by keyledger."
            )));
        }
        if let Some(refusal) = asym::fips_refusal_for_spec(&spec) {
            return Err(ApiError::UnsupportedOperation(refusal));
        }
        // ML-KEM data key pairs come from RustCrypto's ml-kem (the PKCS#8 seed form), not
        // from the FIPS module.
        if spec.starts_with("ML_KEM_") && crate::crypto::mode::fips() {
            return Err(ApiError::UnsupportedOperation(
                crate::crypto::mode::not_in_fips_mode(&format!("KeyPairSpec {spec}")),
            ));
        }
        // Before the key pair is generated: RSA 4096 is the costliest thing keyledger does.
        self.charge_key_pair(caller, ctx, &spec, rec)?;
        super::request::check_grant_tokens(&req.grant_tokens)?;
        super::request::check_encryption_context(
            "encryptionContext",
            req.encryption_context.as_ref(),
        )?;
        if req.recipient.is_some() {
            return Err(ApiError::UnsupportedOperation(
                "Recipient (Nitro Enclaves attestation) is not supported by keyledger.".into(),
            ));
        }
        let key = self.usable(
            caller,
            ctx,
            req.key_id.as_deref(),
            Operation::GenerateDataKeyPair,
            Facts::new()
                .encryption_context(req.encryption_context.as_ref())
                .with("kms:DataKeyPairSpec", Some(&spec))
                .with("kms:EncryptionAlgorithm", Some("SYMMETRIC_DEFAULT"))
                .grant_tokens(req.grant_tokens.as_ref()),
            rec,
        )?;
        if key.spec != KeySpec::SymmetricDefault || key.usage != KeyUsage::EncryptDecrypt {
            return Err(wrong_usage(&key, "GenerateDataKeyPair"));
        }
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        let (private, public) = asym::generate_data_key_pair(&spec)
            .map_err(|_| ApiError::Internal("Key pair generation failed.".into()))?;
        let version = key.current_version().number;
        let material = self.symmetric_material(&key, version)?;
        let context = canonical_context(&req.encryption_context.unwrap_or_default());
        let blob = ciphertext::encrypt(&material, &key.external_id(), version, &context, &private);
        let mut response = json!({
            "PrivateKeyCiphertextBlob": b64(&blob),
            "PublicKey": b64(&public),
            "KeyId": key.arn,
            "KeyPairSpec": spec,
            "KeyMaterialId": super::keys::key_material_id(&key, key.current_version()),
        });
        if with_plaintext {
            response["PrivateKeyPlaintext"] = json!(b64(&private));
        }
        Ok(response)
    }
}
