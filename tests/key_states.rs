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

/// Operation, then its outcome on an Enabled, a Disabled and a PendingDeletion key.
const TABLE: &[(&str, [&str; 3])] = &[
    ("CancelKeyDeletion", [INV, INV, OK]),
    ("CreateAlias", [OK, OK, INV]),
    ("Decrypt", [OK, DIS, INV]),
    ("DeleteAlias", [OK, OK, OK]),
    ("DescribeKey", [OK, OK, OK]),
    ("DisableKey", [OK, OK, INV]),
    ("DisableKeyRotation", [OK, DIS, INV]),
    ("EnableKey", [OK, OK, INV]),
    ("EnableKeyRotation", [OK, DIS, INV]),
    ("Encrypt", [OK, DIS, INV]),
    ("GenerateDataKey", [OK, DIS, INV]),
    ("GenerateDataKeyWithoutPlaintext", [OK, DIS, INV]),
    ("GetKeyPolicy", [OK, OK, OK]),
    ("GetKeyRotationStatus", [OK, OK, OK]),
    ("ListKeyPolicies", [OK, OK, OK]),
    ("ListKeyRotations", [OK, OK, OK]),
    ("ListResourceTags", [OK, OK, OK]),
    ("PutKeyPolicy", [OK, OK, OK]),
    ("ReEncrypt", [OK, DIS, INV]),
    ("RotateKeyOnDemand", [OK, DIS, INV]),
    ("ScheduleKeyDeletion", [OK, OK, INV]),
    ("TagResource", [OK, OK, INV]),
    ("UntagResource", [OK, OK, INV]),
    ("UpdateAlias", [OK, OK, INV]),
    ("UpdateKeyDescription", [OK, OK, INV]),
    ("GetPublicKey", [OK, DIS, INV]),
    ("Sign", [OK, DIS, INV]),
    ("Verify", [OK, DIS, INV]),
    ("GenerateMac", [OK, DIS, INV]),
    ("VerifyMac", [OK, DIS, INV]),
    ("DeriveSharedSecret", [OK, DIS, INV]),
    ("Encapsulate", [OK, DIS, INV]),
    ("Decapsulate", [OK, DIS, INV]),
    ("GenerateDataKeyPair", [OK, DIS, INV]),
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
        for (state, expected) in ["Enabled", "Disabled", "PendingDeletion"]
            .iter()
            .zip(outcomes)
        {
            // A fresh key per cell, with a ciphertext and an alias made while it was enabled.
            let key = call(&s, &c, "CreateKey", create_body(op)).await.unwrap()["KeyMetadata"]
                ["KeyId"]
                .as_str()
                .unwrap()
                .to_owned();
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
            match *state {
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
