//! Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial (decision 0022). The wrapping private key never rests: it
//! travels inside the import token, sealed under the root key for one key, so any node
//! can take the import and nothing needs keeping or cleaning up. The imported material
//! is sealed under the key's shredding key like generated material; neither it nor the
//! wrapped blob reaches the ledger, the trail or the logs.
use super::operations::Resolve;
use super::request::{
    b64, check_key_id_param, check_length, epoch_seconds, parse, parse_enum, without_nulls,
};
use super::shapes::{Blob, SecretBlob};
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::crypto::import::{self, Wrapping, WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS};
use crate::crypto::root_key::LABEL_IMPORT_TOKEN;
use crate::domain::key::{ExpirationModel, ImportType, Key, KeyCommand};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// How long GetParametersForImport's public key and token are good for (AWS: 24 hours).
pub const IMPORT_PARAMETERS_LIFETIME: Duration = Duration::hours(24);
/// The model's bounds on `ImportToken` and `EncryptedKeyMaterial`.
const MAX_BLOB: usize = 6144;
/// The format version of keyledger's import tokens.
const TOKEN_FORMAT: u8 = 1;
/// The longest `ValidTo` AWS accepts: 365 days from the request.
const MAX_VALID_FOR: Duration = Duration::days(365);

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct GetParametersForImportRequest {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportKeyMaterialRequest {
    key_id: Option<String>,
    import_token: Option<Blob>,
    encrypted_key_material: Option<SecretBlob>,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DeleteImportedKeyMaterialRequest {
    key_id: Option<String>,
    key_material_id: Option<String>,
}

/// What an import token says, once opened.
struct ImportTerms {
    wrapping: Wrapping,
    valid_to: OffsetDateTime,
    wrapping_private_key: Zeroizing<Vec<u8>>,
}

fn enum_member(member: &str, value: Option<&str>, values: &[&str]) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| ApiError::missing(member))?;
    if values.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::constraint(
            member,
            Some(value),
            &format!(
                "Member must satisfy enum value set: {}",
                super::keys::value_set(values)
            ),
        ))
    }
}

/// `KeyMaterialId`: 64 hex digits, as the model's pattern has it.
fn check_material_id(member: &str, id: &str) -> Result<(), ApiError> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::constraint(
            member,
            Some(id),
            "Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64",
        ))
    }
}

impl Service {
    fn import_token(&self, key: &Key, terms: &ImportTerms) -> Vec<u8> {
        let mut payload = Zeroizing::new(Vec::with_capacity(10 + terms.wrapping_private_key.len()));
        payload.push(TOKEN_FORMAT);
        payload.push(terms.wrapping.code());
        payload.extend_from_slice(&terms.valid_to.unix_timestamp().to_be_bytes());
        payload.extend_from_slice(&terms.wrapping_private_key);
        self.keyring
            .root()
            .wrap(LABEL_IMPORT_TOKEN, key.id.as_bytes(), &payload)
    }

    /// The terms of a token keyledger issued for `key`; `None` for anything else.
    fn open_import_token(&self, key: &Key, token: &[u8]) -> Option<ImportTerms> {
        let payload = self
            .keyring
            .root()
            .unwrap(LABEL_IMPORT_TOKEN, key.id.as_bytes(), token)
            .ok()?;
        if payload.len() < 10 || payload[0] != TOKEN_FORMAT {
            return None;
        }
        let valid_to = i64::from_be_bytes(payload[2..10].try_into().ok()?);
        Some(ImportTerms {
            wrapping: Wrapping::from_code(payload[1])?,
            valid_to: OffsetDateTime::from_unix_timestamp(valid_to).ok()?,
            wrapping_private_key: Zeroizing::new(payload[10..].to_vec()),
        })
    }

    pub(crate) fn get_parameters_for_import(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: GetParametersForImportRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "wrappingAlgorithm": req.wrapping_algorithm,
            "wrappingKeySpec": req.wrapping_key_spec,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let algorithm = enum_member(
            "wrappingAlgorithm",
            req.wrapping_algorithm.as_deref(),
            WRAPPING_ALGORITHMS,
        )?;
        let key_spec = enum_member(
            "wrappingKeySpec",
            req.wrapping_key_spec.as_deref(),
            WRAPPING_KEY_SPECS,
        )?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            super::authz::Facts::new()
                .with("kms:WrappingAlgorithm", Some(algorithm.as_str()))
                .with("kms:WrappingKeySpec", Some(key_spec.as_str())),
            rec,
        )?;
        key.require_external()?;
        if algorithm == "SM2PKE" || key_spec == "SM2" {
            return Err(ApiError::UnsupportedOperation(
                "SM2 wrapping is only offered in the AWS China Regions; keyledger does not support it.".into(),
            ));
        }
        let wrapping = Wrapping::parse(&algorithm).ok_or_else(|| {
            ApiError::Validation(format!(
                "{algorithm} is no longer supported as a wrapping algorithm (since October 10, 2023). Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256."
            ))
        })?;
        let bits = match key_spec.as_str() {
            "RSA_2048" => 2048,
            "RSA_3072" => 3072,
            _ => 4096,
        };
        let (wrapping_private_key, public_key) = import::generate_wrapping_key(bits)
            .map_err(|_| ApiError::Internal("Wrapping key generation failed.".into()))?;
        let terms = ImportTerms {
            wrapping,
            // Whole seconds: the token carries them so.
            valid_to: (now + IMPORT_PARAMETERS_LIFETIME)
                .replace_nanosecond(0)
                .unwrap_or(now + IMPORT_PARAMETERS_LIFETIME),
            wrapping_private_key,
        };
        let token = self.import_token(&key, &terms);
        Ok(json!({
            "KeyId": key.arn,
            "ImportToken": b64(&token),
            "PublicKey": b64(&public_key),
            "ParametersValidTo": epoch_seconds(terms.valid_to),
        }))
    }

    pub(crate) fn import_key_material(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ImportKeyMaterialRequest = parse(body)?;
        // Neither the token nor the wrapped material is a parameter the trail keeps.
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "validTo": req.valid_to,
            "expirationModel": req.expiration_model,
            "importType": req.import_type,
            "keyMaterialDescription": req.key_material_description,
            "keyMaterialId": req.key_material_id,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let token = req
            .import_token
            .ok_or_else(|| ApiError::missing("importToken"))?;
        check_length("importToken", token.0.len(), 1, MAX_BLOB)?;
        let wrapped = req
            .encrypted_key_material
            .ok_or_else(|| ApiError::missing("encryptedKeyMaterial"))?;
        check_length("encryptedKeyMaterial", wrapped.0.len(), 1, MAX_BLOB)?;
        // AWS's default: the material expires (so ValidTo is required unless said otherwise).
        let expiration_model = parse_enum(
            "expirationModel",
            req.expiration_model.as_deref(),
            ExpirationModel::Expires,
            ExpirationModel::parse,
            ExpirationModel::value_set,
        )?;
        let import_type = req
            .import_type
            .as_deref()
            .map(|text| {
                parse_enum(
                    "importType",
                    Some(text),
                    ImportType::NewKeyMaterial,
                    ImportType::parse,
                    ImportType::value_set,
                )
            })
            .transpose()?;
        if let Some(description) = &req.key_material_description {
            check_length(
                "keyMaterialDescription",
                description.chars().count(),
                0,
                256,
            )?;
        }
        if let Some(id) = &req.key_material_id {
            check_material_id("keyMaterialId", id)?;
        }
        let valid_to = match (expiration_model, req.valid_to) {
            (ExpirationModel::Expires, None) => {
                return Err(ApiError::Validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES."
                        .into(),
                ))
            }
            (ExpirationModel::DoesNotExpire, Some(_)) => {
                return Err(ApiError::Validation(
                    "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
                        .into(),
                ))
            }
            (ExpirationModel::DoesNotExpire, None) => None,
            (ExpirationModel::Expires, Some(seconds)) => {
                let valid_to = (seconds.is_finite() && seconds.abs() < 1e12)
                    .then(|| {
                        OffsetDateTime::from_unix_timestamp_nanos((seconds * 1e9) as i128).ok()
                    })
                    .flatten()
                    .ok_or_else(|| ApiError::Validation("validTo is not a valid date.".into()))?;
                if valid_to <= now {
                    return Err(ApiError::Validation(
                        "The validTo date must be in the future.".into(),
                    ));
                }
                if valid_to > now + MAX_VALID_FOR {
                    return Err(ApiError::Validation(
                        "The validTo date must be no more than 365 days from now.".into(),
                    ));
                }
                Some(valid_to)
            }
        };
        let valid_to_seconds = valid_to.map(|t| t.unix_timestamp().to_string());
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            super::authz::Facts::new()
                .with("kms:ExpirationModel", Some(expiration_model.as_str()))
                // Unix seconds, as AWS's `NumericLessThanEquals` examples compare it.
                .with("kms:ValidTo", valid_to_seconds.as_deref()),
            rec,
        )?;
        key.require_external()?;
        let terms = self.open_import_token(&key, &token.0).ok_or_else(|| {
            ApiError::InvalidImportToken(format!(
                "The import token is not valid for {}: use the token GetParametersForImport returned for this key.",
                key.arn
            ))
        })?;
        if terms.valid_to <= now {
            return Err(ApiError::ExpiredImportToken(
                "The import token has expired: call GetParametersForImport again.".into(),
            ));
        }
        let material =
            import::unwrap_material(terms.wrapping, &terms.wrapping_private_key, &wrapped.0)
                .map_err(|_| {
                    ApiError::InvalidCiphertext(
                        "The encrypted key material could not be decrypted with the wrapping key and algorithm of this import token.".into(),
                    )
                })?;
        import::check_material(key.spec.as_str(), &material)
            .map_err(ApiError::IncorrectKeyMaterial)?;
        let unavailable = |_| ApiError::Internal("The key's shredding key is unavailable.".into());
        let material_id = self
            .keyring
            .imported_material_id(&key.id, &material)
            .map_err(unavailable)?;
        let sealed_material = self
            .keyring
            .seal_material(&key.id, key.new_material_version(), &material)
            .map_err(unavailable)?;
        drop(material);
        self.change(
            &key,
            KeyCommand::ImportMaterial {
                material_id: material_id.clone(),
                sealed_material,
                import_type,
                claimed_material_id: req.key_material_id,
                expiration_model,
                valid_to,
                description: req.key_material_description,
            },
            now,
            rec,
        )?;
        rec.response_elements = json!({ "keyMaterialId": material_id });
        Ok(json!({ "KeyId": key.arn, "KeyMaterialId": material_id }))
    }

    pub(crate) fn delete_imported_key_material(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: DeleteImportedKeyMaterialRequest = parse(body)?;
        rec.request_parameters =
            without_nulls(json!({ "keyId": req.key_id, "keyMaterialId": req.key_material_id }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        if let Some(id) = &req.key_material_id {
            check_material_id("keyMaterialId", id)?;
        }
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            super::authz::Facts::new(),
            rec,
        )?;
        key.require_external()?;
        let events = self.change(
            &key,
            KeyCommand::DeleteImportedMaterial {
                material_id: req.key_material_id.clone(),
                expired: false,
            },
            now,
            rec,
        )?;
        let material_id = events
            .iter()
            .find_map(|e| match e {
                crate::domain::events::DomainEvent::ImportedKeyMaterialDeleted(d) => {
                    Some(d.key_material_id.clone())
                }
                _ => None,
            })
            .or(req.key_material_id)
            .or_else(|| {
                key.versions
                    .last()
                    .and_then(|v| v.import.as_ref())
                    .map(|i| i.material_id.clone())
            });
        let mut response = json!({ "KeyId": key.arn });
        if let Some(id) = material_id {
            response["KeyMaterialId"] = json!(id);
        }
        Ok(response)
    }
}
