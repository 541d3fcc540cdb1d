//! AWS's exact errors and shapes (issue 12): HTTP statuses as the AWS KMS service model gives
//! them, alias and policy errors worded as AWS words them, Ed25519ph over digests, responses
//! without `null` members, enum lists of the current model, and every operation of the model
//! known. Black-box, through the real server; bodies are read raw where the SDK would hide
//! what is checked (a status, a `null`, a member that should be absent).

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use common::{create_key, error_code, signed_get, signed_kms_call, Server};
use serde_json::{json, Value};

async fn started() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    (dir, server)
}

/// A raw AWS JSON 1.1 call: (HTTP status, body).
async fn call(s: &Server, operation: &str, body: Value) -> (u16, Value) {
    let response = signed_kms_call(&s.endpoint, &s.credentials, operation, &body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// (status, `__type`, `message`) of a raw call.
async fn failure(s: &Server, operation: &str, body: Value) -> (u16, String, Option<String>) {
    let (status, body) = call(s, operation, body).await;
    (
        status,
        body["__type"].as_str().unwrap_or("").to_owned(),
        body.get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
    )
}

/// The paths of every `null` in a JSON value.
fn nulls(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(at.to_owned()),
        Value::Object(members) => {
            for (name, member) in members {
                nulls(member, &format!("{at}.{name}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nulls(item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn assert_no_nulls(body: &Value) {
    let mut found = Vec::new();
    nulls(body, "$", &mut found);
    assert!(found.is_empty(), "null members {found:?} in {body}");
}

#[tokio::test]
async fn client_errors_are_400_dry_run_412_and_native_not_found_404() {
    let (_dir, s) = started().await;
    let missing = "11111111-2222-3333-4444-555555555555";
    let (status, code, _) = failure(&s, "DescribeKey", json!({ "KeyId": missing })).await;
    assert_eq!((status, code.as_str()), (400, "NotFoundException"));

    let key = create_key(&s.client, None).await;
    let plaintext = json!({ "KeyId": key, "Plaintext": "aGk=" });
    let (status, code, _) = failure(
        &s,
        "Encrypt",
        json!({ "KeyId": key, "Plaintext": "aGk=", "DryRun": true }),
    )
    .await;
    assert_eq!((status, code.as_str()), (412, "DryRunOperationException"));

    s.client.disable_key().key_id(&key).send().await.unwrap();
    let (status, code, _) = failure(&s, "Encrypt", plaintext.clone()).await;
    assert_eq!((status, code.as_str()), (400, "DisabledException"));

    s.client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (status, code, _) = failure(&s, "Encrypt", plaintext).await;
    assert_eq!((status, code.as_str()), (400, "KMSInvalidStateException"));

    let other = create_key(&s.client, None).await;
    let alias = json!({ "AliasName": "alias/once", "TargetKeyId": other });
    assert_eq!(call(&s, "CreateAlias", alias.clone()).await.0, 200);
    let (status, code, _) = failure(&s, "CreateAlias", alias).await;
    assert_eq!((status, code.as_str()), (400, "AlreadyExistsException"));

    // The native REST API keeps 404 for what does not exist, with the same body.
    let (status, body) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{missing}/history"),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (404, Some("NotFoundException")),
        "{body}"
    );
}

#[tokio::test]
async fn alias_names_and_targets_are_refused_as_aws_refuses_them() {
    let (_dir, s) = started().await;
    let key = create_key(&s.client, None).await;
    let create = |name: &str, target: &str| json!({ "AliasName": name, "TargetKeyId": target });

    // `:` passes the model's pattern, not the service.
    let (status, code, message) = failure(&s, "CreateAlias", create("alias/x:y", &key)).await;
    assert_eq!(
        (status, code.as_str(), message.as_deref()),
        (
            400,
            "ValidationException",
            Some("alias/x:y contains invalid characters for an alias")
        )
    );
    // The pattern quoted is the model's.
    let (_, code, message) = failure(&s, "CreateAlias", create("alias/bad name", &key)).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message.as_deref(),
        Some("1 validation error detected: Value 'alias/bad name' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
    );
    // DeleteAlias without the prefix.
    let (status, code, message) = failure(&s, "DeleteAlias", json!({ "AliasName": "x" })).await;
    assert_eq!(
        (status, code.as_str(), message.as_deref()),
        (
            400,
            "ValidationException",
            Some("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
        )
    );
    // An alias of an alias, by name or by alias ARN.
    assert_eq!(
        call(&s, "CreateAlias", create("alias/first", &key)).await.0,
        200
    );
    let account = &s.credentials.account_id;
    let alias_arn = format!("arn:aws:kms:us-east-1:{account}:alias/first");
    for target in ["alias/first", alias_arn.as_str()] {
        for operation in ["CreateAlias", "UpdateAlias"] {
            let name = if operation == "CreateAlias" {
                "alias/second"
            } else {
                "alias/first"
            };
            let (status, code, message) = failure(&s, operation, create(name, target)).await;
            assert_eq!(
                (status, code.as_str(), message.as_deref()),
                (
                    400,
                    "ValidationException",
                    Some("Aliases must refer to keys. Not aliases")
                ),
                "{operation} → {target}"
            );
        }
    }
    // The AWS managed prefix: NotAuthorizedException, with no message at all.
    for operation in ["CreateAlias", "UpdateAlias"] {
        let (status, body) = call(&s, operation, create("alias/aws/mine", &key)).await;
        assert_eq!(status, 400, "{operation}: {body}");
        assert_eq!(
            body,
            json!({ "__type": "NotAuthorizedException" }),
            "{operation}"
        );
    }
    let listed = s.client.list_aliases().send().await.unwrap();
    assert!(!listed.aliases().iter().any(
        |a| a.alias_name() == Some("alias/second") || a.alias_name() == Some("alias/aws/mine")
    ));
}

#[tokio::test]
async fn key_policies_and_cancelled_deletions_answer_as_aws_does() {
    let (_dir, s) = started().await;
    let missing = "11111111-2222-3333-4444-555555555555";
    // A key that does not exist is not found, whatever the document (or none).
    for body in [
        json!({ "KeyId": missing, "Policy": "not a policy" }),
        json!({ "KeyId": missing, "Policy": "" }),
        json!({ "KeyId": missing }),
        json!({ "KeyId": missing, "Policy": "x".repeat(40_000) }),
    ] {
        let (status, code, _) = failure(&s, "PutKeyPolicy", body.clone()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "NotFoundException"),
            "{body}"
        );
    }
    let key = create_key(&s.client, None).await;
    // One policy per key, named `default`.
    for operation in ["GetKeyPolicy", "PutKeyPolicy"] {
        let body = json!({ "KeyId": key, "PolicyName": "other", "Policy": "{}" });
        let (status, code, message) = failure(&s, operation, body).await;
        assert_eq!(
            (status, code.as_str(), message.as_deref()),
            (400, "NotFoundException", Some("No such policy exists")),
            "{operation}"
        );
    }
    let (_, code, message) = failure(
        &s,
        "GetKeyPolicy",
        json!({ "KeyId": key, "PolicyName": "not-a-word" }),
    )
    .await;
    assert_eq!(code, "ValidationException");
    assert!(
        message
            .unwrap()
            .ends_with("Member must satisfy regular expression pattern: [\\w]+"),
        "the model's pattern"
    );
    let (status, body) = call(&s, "GetKeyPolicy", json!({ "KeyId": key })).await;
    assert_eq!(
        (status, body["PolicyName"].as_str()),
        (200, Some("default"))
    );

    // CancelKeyDeletion of a key that is not pending deletion, enabled or disabled.
    let arn = format!(
        "arn:aws:kms:us-east-1:{}:key/{key}",
        s.credentials.account_id
    );
    for _ in 0..2 {
        let (status, code, message) =
            failure(&s, "CancelKeyDeletion", json!({ "KeyId": key })).await;
        assert_eq!(
            (status, code.as_str(), message),
            (
                400,
                "KMSInvalidStateException",
                Some(format!("{arn} is not pending deletion."))
            )
        );
        s.client.disable_key().key_id(&key).send().await.unwrap();
    }
}

#[tokio::test]
async fn ed25519ph_signs_a_digest_hashing_it_once_more() {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    use ed25519_dalek::{Digest, Sha512};
    let (_dir, s) = started().await;
    let key = create_key(
        &s.client,
        Some((KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify)),
    )
    .await;
    let public = s.client.get_public_key().key_id(&key).send().await.unwrap();
    let vk =
        ed25519_dalek::VerifyingKey::from_public_key_der(public.public_key().unwrap().as_ref())
            .unwrap();
    let digest = Sha512::digest(b"prehashed by the caller").to_vec();
    let sign = |message: Vec<u8>, message_type: Option<MessageType>, alg: SigningAlgorithmSpec| {
        s.client
            .sign()
            .key_id(&key)
            .signing_algorithm(alg)
            .set_message_type(message_type)
            .message(Blob::new(message))
            .send()
    };

    let signed = sign(
        digest.clone(),
        Some(MessageType::Digest),
        SigningAlgorithmSpec::Ed25519PhSha512,
    )
    .await
    .unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(signed.signature().unwrap().as_ref()).unwrap();
    // KMS still performs Ed25519ph's SHA-512 prehash: the digest is the message HashEdDSA hashes.
    vk.verify_prehashed(Sha512::new().chain_update(&digest), None, &signature)
        .expect("Ed25519ph of the digest as the message");
    assert!(
        vk.verify_prehashed(
            Sha512::new().chain_update(b"prehashed by the caller"),
            None,
            &signature
        )
        .is_err(),
        "not the digest used as the prehash itself"
    );
    let verified = s
        .client
        .verify()
        .key_id(&key)
        .signing_algorithm(SigningAlgorithmSpec::Ed25519PhSha512)
        .message_type(MessageType::Digest)
        .message(Blob::new(digest.clone()))
        .signature(signed.signature().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert!(verified.signature_valid());

    // Only DIGEST for ED25519_PH_SHA_512, of SHA-512's length; only RAW for ED25519_SHA_512.
    for refused in [
        sign(digest.clone(), None, SigningAlgorithmSpec::Ed25519PhSha512).await,
        sign(
            digest.clone(),
            Some(MessageType::Raw),
            SigningAlgorithmSpec::Ed25519PhSha512,
        )
        .await,
        sign(
            digest.clone(),
            Some(MessageType::Digest),
            SigningAlgorithmSpec::Ed25519Sha512,
        )
        .await,
    ] {
        assert_eq!(error_code(refused), "ValidationException");
    }
    let (_, code, message) = failure(
        &s,
        "Sign",
        json!({
            "KeyId": key,
            "SigningAlgorithm": "ED25519_PH_SHA_512",
            "MessageType": "DIGEST",
            "Message": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_deref()),
        (
            "ValidationException",
            Some("Digest is invalid length for algorithm ED25519_PH_SHA_512.")
        )
    );
    // Pure Ed25519 still signs the raw message.
    let pure = sign(b"raw".to_vec(), None, SigningAlgorithmSpec::Ed25519Sha512)
        .await
        .unwrap();
    ed25519_dalek::Verifier::verify(
        &vk,
        b"raw",
        &ed25519_dalek::Signature::from_slice(pure.signature().unwrap().as_ref()).unwrap(),
    )
    .unwrap();
}

#[tokio::test]
async fn responses_have_no_null_members_and_only_the_models_members() {
    let (_dir, s) = started().await;
    let ed = create_key(
        &s.client,
        Some((KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify)),
    )
    .await;
    for operation in ["DescribeKey", "GetPublicKey"] {
        let (status, body) = call(&s, operation, json!({ "KeyId": ed })).await;
        assert_eq!(status, 200, "{body}");
        assert_no_nulls(&body);
        let shape = body.get("KeyMetadata").unwrap_or(&body);
        assert!(shape.get("CustomerMasterKeySpec").is_none(), "{body}");
        assert_eq!(shape["KeySpec"], "ECC_NIST_EDWARDS25519");
    }
    let symmetric = create_key(&s.client, None).await;
    let (_, body) = call(&s, "DescribeKey", json!({ "KeyId": symmetric })).await;
    assert_eq!(
        body["KeyMetadata"]["CustomerMasterKeySpec"],
        "SYMMETRIC_DEFAULT"
    );

    let (status, scheduled) = call(
        &s,
        "ScheduleKeyDeletion",
        json!({ "KeyId": symmetric, "PendingWindowInDays": 9 }),
    )
    .await;
    assert_eq!(
        (status, scheduled["PendingWindowInDays"].as_i64()),
        (200, Some(9))
    );
    let (_, body) = call(&s, "DescribeKey", json!({ "KeyId": symmetric })).await;
    let meta = &body["KeyMetadata"];
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert!(meta["DeletionDate"].is_number(), "{body}");
    // Only a multi-Region primary waiting on its replicas carries it (PendingReplicaDeletion).
    assert!(meta.get("PendingDeletionWindowInDays").is_none(), "{body}");
    for (operation, body) in [
        ("ListKeys", json!({})),
        ("ListAliases", json!({})),
        ("ListKeyRotations", json!({ "KeyId": symmetric })),
        ("GetKeyRotationStatus", json!({ "KeyId": symmetric })),
        ("ListResourceTags", json!({ "KeyId": ed })),
    ] {
        let (status, body) = call(&s, operation, body).await;
        assert_eq!(status, 200, "{operation}: {body}");
        assert_no_nulls(&body);
    }
}

#[tokio::test]
async fn enum_lists_in_validation_messages_are_the_current_models() {
    let (_dir, s) = started().await;
    let (_, code, message) = failure(&s, "CreateKey", json!({ "KeySpec": "NOPE" })).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message.as_deref(),
        Some("1 validation error detected: Value 'NOPE' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]")
    );
    let (_, _, message) = failure(&s, "CreateKey", json!({ "KeyUsage": "NOPE" })).await;
    assert!(
        message.unwrap().ends_with("Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]")
    );
    // ML-KEM keys are ENCAPSULATE_DECAPSULATE; another pairing is invalid.
    for body in [
        json!({ "KeySpec": "ML_KEM_512" }),
        json!({ "KeyUsage": "ENCAPSULATE_DECAPSULATE" }),
        json!({ "KeySpec": "ML_DSA_44", "KeyUsage": "ENCAPSULATE_DECAPSULATE" }),
    ] {
        let (status, code, _) = failure(&s, "CreateKey", body.clone()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "ValidationException"),
            "{body}"
        );
    }
    // SM2 is the China Regions' only.
    let (status, code, message) = failure(
        &s,
        "CreateKey",
        json!({ "KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY" }),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "UnsupportedOperationException")
    );
    assert!(message.unwrap().contains("China Regions"));
    let key = create_key(&s.client, None).await;
    let (_, _, message) = failure(
        &s,
        "GenerateDataKeyPair",
        json!({ "KeyId": key, "KeyPairSpec": "NOPE" }),
    )
    .await;
    assert!(
        message.unwrap().ends_with("Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]")
    );
    // Grants may name the model's newest operations (here refused for the key, not the enum).
    let grant = |operations: Value| {
        json!({
            "KeyId": key,
            "GranteePrincipal": format!("arn:aws:iam::{}:root", s.credentials.account_id),
            "Operations": operations,
        })
    };
    let (_, code, message) = failure(&s, "CreateGrant", grant(json!(["Encapsulate"]))).await;
    assert_eq!(code, "ValidationException");
    assert!(
        message
            .as_deref()
            .unwrap()
            .starts_with("The grant operation Encapsulate is not valid for"),
        "{message:?}"
    );
    let (_, _, message) = failure(&s, "CreateGrant", grant(json!(["Nope"]))).await;
    assert!(
        message
            .unwrap()
            .ends_with("DeriveSharedSecret, Encapsulate, Decapsulate]"),
        "the model's GrantOperation list"
    );
}

/// The operations of the current AWS KMS model (aws-sdk-kms 1.129's operation modules; botocore's
/// service-2.json lists the same 56).
const MODEL_OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// The operations of the aws-sdk-kms crate this workspace builds against, from its
/// `src/operation/<name>/` modules, when its source is in the local cargo registry.
fn sdk_operations() -> Option<Vec<String>> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).ok()?;
    let at = lock.find("name = \"aws-sdk-kms\"")?;
    let version = lock[at..].lines().nth(1)?.strip_prefix("version = \"")?;
    let version = version.trim_end_matches('"');
    let cargo_home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .ok()?;
    for registry in std::fs::read_dir(cargo_home.join("registry/src")).ok()? {
        let dir = registry
            .ok()?
            .path()
            .join(format!("aws-sdk-kms-{version}/src/operation"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .split('_')
                    .map(|part| {
                        let mut chars = part.chars();
                        chars
                            .next()
                            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        names.sort();
        return Some(names);
    }
    None
}

#[tokio::test]
async fn every_operation_of_the_aws_model_is_known() {
    if let Some(sdk) = sdk_operations() {
        let listed: Vec<String> = MODEL_OPERATIONS.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            sdk, listed,
            "the SDK's operations changed: update MODEL_OPERATIONS"
        );
    }
    assert_eq!(MODEL_OPERATIONS.len(), 56);
    let (_dir, s) = started().await;
    // The check can tell: a name that is no operation is UnknownOperationException.
    let (status, code, _) = failure(&s, "NoSuchOperation", json!({})).await;
    assert_eq!((status, code.as_str()), (400, "UnknownOperationException"));
    let mut unknown = Vec::new();
    for operation in MODEL_OPERATIONS {
        let (_, body) = call(&s, operation, json!({})).await;
        if body["__type"] == "UnknownOperationException" {
            unknown.push(*operation);
        }
    }
    assert!(unknown.is_empty(), "answered as unknown: {unknown:?}");
    // Encapsulate and Decapsulate are served: an empty request is invalid, not unsupported.
    for operation in ["Encapsulate", "Decapsulate"] {
        let (status, code, _) = failure(&s, operation, json!({})).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "ValidationException"),
            "{operation}"
        );
    }
}
