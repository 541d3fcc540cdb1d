//! The AWS KMS key-state table ("Key states of AWS KMS keys"), as one
//! table-driven test: every operation, in every state, through the real
//! command handler and ledger.

mod common;

use common::InProcess;
use keyledger::app::{Caller, RequestContext};
use keyledger::domain::ids::{AccountId, Region};
use serde_json::{json, Value};

const OK: &str = "ok";
const DIS: &str = "DisabledException";
const INV: &str = "KMSInvalidStateException";
/// No such key: ML-KEM keys do not take imported material, so are never PendingImport.
const NA: &str = "-";

/// Operation, then its outcome on an Enabled, a Disabled, a PendingDeletion and a
/// PendingImport key (one whose imported material was deleted); the PendingReplicaDeletion
/// column follows from the PendingDeletion one ([`pending_replica_deletion`]).
const TABLE: &[(&str, [&str; 4])] = &[
    ("CancelKeyDeletion", [INV, INV, OK, INV]),
    ("CreateAlias", [OK, OK, INV, OK]),
    ("Decrypt", [OK, DIS, INV, INV]),
    ("DeleteAlias", [OK, OK, OK, OK]),
    ("DescribeKey", [OK, OK, OK, OK]),
    ("DisableKey", [OK, OK, INV, INV]),
    ("DisableKeyRotation", [OK, DIS, INV, INV]),
    ("EnableKey", [OK, OK, INV, INV]),
    ("EnableKeyRotation", [OK, DIS, INV, INV]),
    ("Encrypt", [OK, DIS, INV, INV]),
    ("GenerateDataKey", [OK, DIS, INV, INV]),
    ("GenerateDataKeyWithoutPlaintext", [OK, DIS, INV, INV]),
    ("GetKeyPolicy", [OK, OK, OK, OK]),
    ("GetKeyRotationStatus", [OK, OK, OK, OK]),
    ("ListKeyPolicies", [OK, OK, OK, OK]),
    ("ListKeyRotations", [OK, OK, OK, OK]),
    ("ListResourceTags", [OK, OK, OK, OK]),
    ("PutKeyPolicy", [OK, OK, OK, OK]),
    ("ReEncrypt", [OK, DIS, INV, INV]),
    ("RotateKeyOnDemand", [OK, DIS, INV, INV]),
    ("ScheduleKeyDeletion", [OK, OK, INV, OK]),
    ("TagResource", [OK, OK, INV, OK]),
    ("UntagResource", [OK, OK, INV, OK]),
    ("UpdateAlias", [OK, OK, INV, OK]),
    ("UpdateKeyDescription", [OK, OK, INV, OK]),
    ("GetPublicKey", [OK, DIS, INV, INV]),
    ("Sign", [OK, DIS, INV, INV]),
    ("Verify", [OK, DIS, INV, INV]),
    ("GenerateMac", [OK, DIS, INV, INV]),
    ("VerifyMac", [OK, DIS, INV, INV]),
    ("DeriveSharedSecret", [OK, DIS, INV, INV]),
    ("Encapsulate", [OK, DIS, INV, NA]),
    ("Decapsulate", [OK, DIS, INV, NA]),
    ("GenerateDataKeyPair", [OK, DIS, INV, INV]),
    ("GetParametersForImport", [OK, OK, INV, OK]),
    ("ImportKeyMaterial", [OK, OK, INV, OK]),
    ("DeleteImportedKeyMaterial", [OK, OK, OK, OK]),
    ("ReplicateKey", [OK, OK, INV, NA]),
    ("UpdatePrimaryRegion", [OK, OK, INV, NA]),
];

/// The operations of multi-Region keys: their keys are multi-Region primaries.
const MULTI_REGION_OPERATIONS: &[&str] = &["ReplicateKey", "UpdatePrimaryRegion"];

/// A multi-Region primary waiting for its replica's deletion answers as a key pending
/// deletion (one column of AWS's table for both), but for what keys of its kind cannot do.
fn pending_replica_deletion(op: &str, pending_deletion: &'static str) -> &'static str {
    if IMPORT_OPERATIONS.contains(&op) {
        NA
    } else {
        pending_deletion
    }
}

/// The operations of imported material: their keys are made for it (`Origin` EXTERNAL).
const IMPORT_OPERATIONS: &[&str] = &[
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
];

/// The key each operation needs.
fn create_body(op: &str) -> Value {
    match op {
        "GetPublicKey" | "Sign" | "Verify" => {
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
        }
        "GenerateMac" | "VerifyMac" => {
            json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})
        }
        "DeriveSharedSecret" => json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}),
        "Encapsulate" | "Decapsulate" => {
            json!({"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"})
        }
        _ => json!({}),
    }
}

/// Key material of the kind `create_body` asks for, as ImportKeyMaterial takes it.
fn material_for(create: &Value) -> Vec<u8> {
    match create["KeySpec"].as_str() {
        Some("ECC_NIST_P256") => {
            use p256::pkcs8::EncodePrivateKey as _;
            p256::SecretKey::from_slice(&rand::random::<[u8; 32]>())
                .unwrap()
                .to_pkcs8_der()
                .unwrap()
                .as_bytes()
                .to_vec()
        }
        _ => rand::random::<[u8; 32]>().to_vec(),
    }
}

/// ImportKeyMaterial's body for `material`, from fresh import parameters (RSA-OAEP by
/// RustCrypto's `rsa`, as a client wraps it).
async fn import_body(s: &InProcess, c: &Caller2, key: &str, material: &[u8]) -> Value {
    use base64::Engine as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let params = call(
        s,
        c,
        "GetParametersForImport",
        json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    )
    .await
    .unwrap();
    let public = rsa::RsaPublicKey::from_public_key_der(
        &b64.decode(params["PublicKey"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let wrapped = public
        .encrypt(
            &mut rand::thread_rng(),
            rsa::Oaep::new::<rsa::sha2::Sha256>(),
            material,
        )
        .unwrap();
    json!({
        "KeyId": key,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": b64.encode(wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    })
}

struct Caller2 {
    caller: Caller,
    ctx: RequestContext,
}

async fn call(s: &InProcess, c: &Caller2, op: &str, body: Value) -> Result<Value, String> {
    s.service
        .handle(&c.ctx, Ok(&c.caller), op, body.to_string().as_bytes())
        .await
        .map_err(|e| e.code().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_state_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let account = AccountId::parse(&s.credentials.account_id).unwrap();
    let c = Caller2 {
        caller: Caller {
            principal_arn: format!("arn:aws:iam::{account}:user/admin"),
            account,
            user_name: "admin".into(),
            access_key_id: s.credentials.access_key_id.clone(),
            kind: keyledger::app::CallerKind::User,
        },
        ctx: RequestContext {
            request_id: "table".into(),
            region: Region::parse("us-east-1").unwrap(),
            source_ip: "127.0.0.1".into(),
            user_agent: "key-state-table".into(),
            access_key_id: Some(s.credentials.access_key_id.clone()),
            secure_transport: false,
        },
    };
    let spare = call(&s, &c, "CreateKey", json!({})).await.unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let peer = call(
        &s,
        &c,
        "CreateKey",
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}),
    )
    .await
    .unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let peer_public = call(&s, &c, "GetPublicKey", json!({"KeyId": peer}))
        .await
        .unwrap()["PublicKey"]
        .clone();
    let mut failures = Vec::new();
    for (n, (op, outcomes)) in TABLE.iter().enumerate() {
        let outcomes = [
            outcomes[0],
            outcomes[1],
            outcomes[2],
            outcomes[3],
            pending_replica_deletion(op, outcomes[2]),
        ];
        for (state, expected) in [
            "Enabled",
            "Disabled",
            "PendingDeletion",
            "PendingImport",
            "PendingReplicaDeletion",
        ]
        .iter()
        .zip(&outcomes)
        {
            if *expected == NA {
                continue;
            }
            let multi_region =
                *state == "PendingReplicaDeletion" || MULTI_REGION_OPERATIONS.contains(op);
            // A fresh key per cell, with a ciphertext and an alias made while it was enabled;
            // for the PendingImport column and the import operations, a key made for
            // imported material, with its material imported.
            let external = *state == "PendingImport" || IMPORT_OPERATIONS.contains(op);
            let mut create = create_body(op);
            if external {
                create["Origin"] = json!("EXTERNAL");
            }
            if multi_region {
                create["MultiRegion"] = json!(true);
            }
            let key = call(&s, &c, "CreateKey", create.clone()).await.unwrap()["KeyMetadata"]
                ["KeyId"]
                .as_str()
                .unwrap()
                .to_owned();
            let material = material_for(&create);
            if external {
                let body = import_body(&s, &c, &key, &material).await;
                call(&s, &c, "ImportKeyMaterial", body).await.unwrap();
            }
            // What the operation needs, made while the key was enabled.
            let made = match *op {
                "Verify" => call(
                    &s,
                    &c,
                    "Sign",
                    json!({"KeyId": key, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"}),
                )
                .await
                .unwrap()["Signature"]
                    .clone(),
                "VerifyMac" => call(
                    &s,
                    &c,
                    "GenerateMac",
                    json!({"KeyId": key, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}),
                )
                .await
                .unwrap()["Mac"]
                    .clone(),
                "Decapsulate" => call(
                    &s,
                    &c,
                    "Encapsulate",
                    json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM"}),
                )
                .await
                .unwrap()["SharedSecretCiphertextBlob"]
                    .clone(),
                "GetPublicKey" | "Sign" | "GenerateMac" | "DeriveSharedSecret" | "Encapsulate" => {
                    Value::Null
                }
                _ => call(
                    &s,
                    &c,
                    "Encrypt",
                    json!({"KeyId": key, "Plaintext": "aGk="}),
                )
                .await
                .unwrap()["CiphertextBlob"]
                    .clone(),
            };
            let blob = made.clone();
            let alias = format!("alias/cell-{n}-{state}");
            call(
                &s,
                &c,
                "CreateAlias",
                json!({"AliasName": alias, "TargetKeyId": key}),
            )
            .await
            .unwrap();
            let moving = format!("alias/moving-{n}-{state}");
            call(
                &s,
                &c,
                "CreateAlias",
                json!({"AliasName": moving, "TargetKeyId": spare}),
            )
            .await
            .unwrap();
            // ImportKeyMaterial's parameters, got while the key could still get them.
            let import_again = if *op == "ImportKeyMaterial" {
                Some(import_body(&s, &c, &key, &material).await)
            } else {
                None
            };
            // A replica for the primaries that need one.
            if *state == "PendingReplicaDeletion" || *op == "UpdatePrimaryRegion" {
                call(
                    &s,
                    &c,
                    "ReplicateKey",
                    json!({"KeyId": key, "ReplicaRegion": "eu-west-1"}),
                )
                .await
                .unwrap();
            }
            match *state {
                "PendingReplicaDeletion" => {
                    let answer = call(
                        &s,
                        &c,
                        "ScheduleKeyDeletion",
                        json!({"KeyId": key, "PendingWindowInDays": 7}),
                    )
                    .await
                    .unwrap();
                    assert_eq!(answer["KeyState"], "PendingReplicaDeletion");
                }
                "PendingImport" => {
                    call(&s, &c, "DeleteImportedKeyMaterial", json!({"KeyId": key}))
                        .await
                        .unwrap();
                }
                "Disabled" => {
                    call(&s, &c, "DisableKey", json!({"KeyId": key}))
                        .await
                        .unwrap();
                }
                "PendingDeletion" => {
                    call(
                        &s,
                        &c,
                        "ScheduleKeyDeletion",
                        json!({"KeyId": key, "PendingWindowInDays": 7}),
                    )
                    .await
                    .unwrap();
                }
                _ => {}
            }
            let body = match *op {
                "CreateAlias" => {
                    json!({"AliasName": format!("alias/new-{n}-{state}"), "TargetKeyId": key})
                }
                "DeleteAlias" => json!({"AliasName": alias}),
                "UpdateAlias" => json!({"AliasName": moving, "TargetKeyId": key}),
                "Decrypt" => json!({"CiphertextBlob": blob}),
                "ReEncrypt" => json!({"CiphertextBlob": blob, "DestinationKeyId": spare}),
                "Encrypt" => json!({"KeyId": key, "Plaintext": "aGk="}),
                "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
                    json!({"KeyId": key, "KeySpec": "AES_256"})
                }
                "PutKeyPolicy" => {
                    json!({"KeyId": key, "Policy": common::root_policy(&s.credentials.account_id, "table")})
                }
                "TagResource" => json!({"KeyId": key, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
                "UntagResource" => json!({"KeyId": key, "TagKeys": ["k"]}),
                "UpdateKeyDescription" => json!({"KeyId": key, "Description": "d"}),
                "ScheduleKeyDeletion" => json!({"KeyId": key, "PendingWindowInDays": 7}),
                "Sign" => {
                    json!({"KeyId": key, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"})
                }
                "Verify" => {
                    json!({"KeyId": key, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256", "Signature": made})
                }
                "GenerateMac" => {
                    json!({"KeyId": key, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"})
                }
                "VerifyMac" => {
                    json!({"KeyId": key, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256", "Mac": made})
                }
                "DeriveSharedSecret" => {
                    json!({"KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": peer_public})
                }
                "GenerateDataKeyPair" => json!({"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"}),
                "Encapsulate" => json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM"}),
                "Decapsulate" => {
                    json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": made})
                }
                "GetParametersForImport" => {
                    json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})
                }
                "ImportKeyMaterial" => import_again.clone().unwrap(),
                "ReplicateKey" => json!({"KeyId": key, "ReplicaRegion": "ap-south-1"}),
                "UpdatePrimaryRegion" => json!({"KeyId": key, "PrimaryRegion": "eu-west-1"}),
                _ => json!({"KeyId": key}),
            };
            let outcome = match call(&s, &c, op, body).await {
                Ok(_) => OK.to_owned(),
                Err(code) => code,
            };
            if outcome != *expected {
                failures.push(format!(
                    "{op} on a {state} key: expected {expected}, got {outcome}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    s.stop().await;
}
