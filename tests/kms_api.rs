//! The AWS KMS operations through the real aws-sdk-kms client.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyState, KeyUsageType, Tag};
use common::{error_code, trail, Server};

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    (dir, server)
}

async fn new_key(server: &Server) -> String {
    let out = server.client.create_key().send().await.unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

#[tokio::test]
async fn create_describe_and_list_keys() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let created = kms
        .create_key()
        .description("payments")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("billing")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let meta = created.key_metadata().unwrap();
    let account = &server.credentials.account_id;
    assert_eq!(meta.aws_account_id(), Some(account.as_str()));
    assert_eq!(
        meta.arn().unwrap(),
        format!("arn:aws:kms:us-east-1:{account}:key/{}", meta.key_id())
    );
    assert_eq!(meta.description(), Some("payments"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert!(meta.enabled());
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(meta.origin().map(|o| o.as_str()), Some("AWS_KMS"));
    assert_eq!(meta.key_manager().map(|m| m.as_str()), Some("CUSTOMER"));
    assert_eq!(meta.encryption_algorithms().len(), 1);
    assert_eq!(meta.multi_region(), Some(false));
    let age = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::try_from(*meta.creation_date().unwrap()).unwrap())
        .unwrap_or_default();
    assert!(age.as_secs() < 60, "creation date is now");

    for key_id in [meta.key_id().to_owned(), meta.arn().unwrap().to_owned()] {
        let described = kms.describe_key().key_id(key_id).send().await.unwrap();
        assert_eq!(described.key_metadata().unwrap(), meta);
    }

    let mut ids = vec![meta.key_id().to_owned()];
    for _ in 0..4 {
        ids.push(new_key(&server).await);
    }
    let mut listed = Vec::new();
    let mut marker = None;
    loop {
        let page = kms
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(page.keys().len() <= 2);
        for k in page.keys() {
            assert_eq!(
                k.key_arn().unwrap(),
                format!(
                    "arn:aws:kms:us-east-1:{account}:key/{}",
                    k.key_id().unwrap()
                )
            );
            listed.push(k.key_id().unwrap().to_owned());
        }
        if !page.truncated() {
            assert!(page.next_marker().is_none());
            break;
        }
        marker = page.next_marker().map(str::to_owned);
    }
    assert_eq!(listed, ids);
    assert_eq!(
        error_code(kms.list_keys().marker("garbage").send().await),
        "InvalidMarkerException"
    );
    assert_eq!(
        error_code(kms.list_keys().limit(0).send().await),
        "ValidationException"
    );
    assert_eq!(
        error_code(kms.list_keys().limit(1001).send().await),
        "ValidationException"
    );
}

#[tokio::test]
async fn keys_are_namespaced_by_region() {
    let (_dir, server) = server().await;
    let key_id = new_key(&server).await;
    let c = &server.credentials;
    let west = server.client_for("eu-west-1", &c.access_key_id, &c.secret_access_key);
    assert_eq!(
        error_code(west.describe_key().key_id(&key_id).send().await),
        "NotFoundException"
    );
    let created = west.create_key().send().await.unwrap();
    assert!(created
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .starts_with("arn:aws:kms:eu-west-1:"));
    assert_eq!(west.list_keys().send().await.unwrap().keys().len(), 1);
    assert_eq!(
        server.client.list_keys().send().await.unwrap().keys().len(),
        1
    );
}

#[tokio::test]
async fn create_key_validation() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    assert_eq!(
        error_code(
            kms.create_key()
                .key_spec(KeySpec::Sm2)
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            kms.create_key()
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "ValidationException",
        "SYMMETRIC_DEFAULT cannot sign"
    );
    assert_eq!(
        error_code(
            kms.create_key()
                .key_spec(KeySpec::from("AES_999"))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(kms.create_key().description("x".repeat(8193)).send().await),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.create_key()
                .tags(
                    Tag::builder()
                        .tag_key("aws:x")
                        .tag_value("v")
                        .build()
                        .unwrap()
                )
                .send()
                .await
        ),
        "TagException"
    );
    assert_eq!(
        error_code(kms.create_key().policy("{not json").send().await),
        "MalformedPolicyDocumentException"
    );
    assert!(
        kms.list_keys().send().await.unwrap().keys().is_empty(),
        "no failed CreateKey made a key"
    );
}

#[tokio::test]
async fn encrypt_and_decrypt() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let key_id = new_key(&server).await;
    let arn = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let other = new_key(&server).await;

    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"attack at dawn".to_vec()))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(encrypted.key_id(), Some(arn.as_str()));
    assert_eq!(
        encrypted.encryption_algorithm().map(|a| a.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );
    let blob = encrypted.ciphertext_blob().unwrap().clone();

    // No KeyId needed; the context must match exactly (order does not matter).
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "42")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext().unwrap().as_ref(), b"attack at dawn");
    assert_eq!(decrypted.key_id(), Some(arn.as_str()));
    assert_eq!(
        decrypted.encryption_algorithm().map(|a| a.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );
    for key in [key_id.as_str(), arn.as_str()] {
        let ok = kms
            .decrypt()
            .key_id(key)
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "test")
            .encryption_context("tenant", "42")
            .send()
            .await;
        assert!(ok.is_ok(), "{key}");
    }
    assert_eq!(
        error_code(
            kms.decrypt()
                .key_id(&other)
                .ciphertext_blob(blob.clone())
                .encryption_context("purpose", "test")
                .encryption_context("tenant", "42")
                .send()
                .await
        ),
        "IncorrectKeyException"
    );
    assert_eq!(
        error_code(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
        "InvalidCiphertextException"
    );
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_context("purpose", "test")
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_context("purpose", "test")
                .encryption_context("tenant", "43")
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    let mut tampered = blob.as_ref().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(tampered))
                .encryption_context("purpose", "test")
                .encryption_context("tenant", "42")
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(b"short".to_vec()))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );

    // Plaintext limits: 1..=4096 bytes.
    assert!(kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(vec![7u8; 4096]))
        .send()
        .await
        .is_ok());
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(vec![7u8; 4097]))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(vec![]))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(b"x".to_vec()))
                .encryption_algorithm("RSAES_OAEP_SHA_256".into())
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(b"x".to_vec()))
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    // DryRunModifiers IGNORE_CIPHERTEXT: only the key and its state are checked.
    use aws_sdk_kms::types::DryRunModifierType;
    assert_eq!(
        error_code(
            kms.decrypt()
                .key_id(&key_id)
                .dry_run(true)
                .dry_run_modifiers(DryRunModifierType::IgnoreCiphertext)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    assert_eq!(
        error_code(
            kms.decrypt()
                .dry_run(true)
                .dry_run_modifiers(DryRunModifierType::IgnoreCiphertext)
                .send()
                .await
        ),
        "ValidationException",
        "the KeyId is needed when the ciphertext is ignored"
    );
    kms.disable_key().key_id(&other).send().await.unwrap();
    assert_eq!(
        error_code(
            kms.decrypt()
                .key_id(&other)
                .dry_run(true)
                .dry_run_modifiers(DryRunModifierType::IgnoreCiphertext)
                .send()
                .await
        ),
        "DisabledException"
    );
}

#[tokio::test]
async fn missing_keys_are_not_found() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let account = &server.credentials.account_id;
    for key in [
        "11111111-2222-3333-4444-555555555555".to_owned(),
        format!("arn:aws:kms:us-east-1:{account}:key/11111111-2222-3333-4444-555555555555"),
        "alias/nothing".to_owned(),
        "not a key".to_owned(),
    ] {
        assert_eq!(
            error_code(kms.describe_key().key_id(&key).send().await),
            "NotFoundException",
            "{key}"
        );
        assert_eq!(
            error_code(
                kms.encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new(b"x".to_vec()))
                    .send()
                    .await
            ),
            "NotFoundException",
            "{key}"
        );
    }
    assert_eq!(
        error_code(
            kms.enable_key()
                .key_id("11111111-2222-3333-4444-555555555555")
                .send()
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn disabled_keys_refuse_crypto_until_enabled() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let key_id = new_key(&server).await;
    let blob = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"hello".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    kms.disable_key().key_id(&key_id).send().await.unwrap(); // idempotent, as at AWS
    let meta = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    assert!(!meta.enabled());
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "DisabledException"
    );
    assert_eq!(
        error_code(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
        "DisabledException"
    );
    assert_eq!(
        error_code(
            kms.generate_data_key()
                .key_id(&key_id)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await
        ),
        "DisabledException"
    );
    kms.enable_key().key_id(&key_id).send().await.unwrap();
    let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(out.plaintext().unwrap().as_ref(), b"hello");
}

#[tokio::test]
async fn data_keys_random_and_re_encrypt() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let key_id = new_key(&server).await;
    let dest = new_key(&server).await;

    let dk = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 32);
    assert!(dk.key_id().unwrap().ends_with(&key_id));
    let opened = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().unwrap().clone())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(
        opened.plaintext().unwrap().as_ref(),
        dk.plaintext().unwrap().as_ref()
    );

    let dk128 = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .unwrap();
    assert_eq!(dk128.plaintext().unwrap().as_ref().len(), 16);
    let dk64 = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(64)
        .send()
        .await
        .unwrap();
    assert_eq!(dk64.plaintext().unwrap().as_ref().len(), 64);
    assert_eq!(
        error_code(kms.generate_data_key().key_id(&key_id).send().await),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.generate_data_key()
                .key_id(&key_id)
                .number_of_bytes(32)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.generate_data_key()
                .key_id(&key_id)
                .number_of_bytes(1025)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.generate_data_key()
                .key_id(&key_id)
                .number_of_bytes(0)
                .send()
                .await
        ),
        "ValidationException"
    );

    let without = kms
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let opened = kms
        .decrypt()
        .ciphertext_blob(without.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref().len(), 32);

    let random = kms
        .generate_random()
        .number_of_bytes(1024)
        .send()
        .await
        .unwrap();
    assert_eq!(random.plaintext().unwrap().as_ref().len(), 1024);
    let other = kms
        .generate_random()
        .number_of_bytes(1024)
        .send()
        .await
        .unwrap();
    assert_ne!(
        random.plaintext().unwrap().as_ref(),
        other.plaintext().unwrap().as_ref()
    );
    assert_eq!(
        error_code(kms.generate_random().number_of_bytes(0).send().await),
        "ValidationException"
    );
    assert_eq!(
        error_code(kms.generate_random().number_of_bytes(1025).send().await),
        "ValidationException"
    );

    // ReEncrypt moves ciphertext to another key and context without exposing plaintext.
    let blob = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"move me".to_vec()))
        .encryption_context("a", "1")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("a", "1")
        .destination_key_id(&dest)
        .destination_encryption_context("b", "2")
        .send()
        .await
        .unwrap();
    assert!(moved.source_key_id().unwrap().ends_with(&key_id));
    assert!(moved.key_id().unwrap().ends_with(&dest));
    let back = kms
        .decrypt()
        .ciphertext_blob(moved.ciphertext_blob().unwrap().clone())
        .encryption_context("b", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref(), b"move me");
    assert!(back.key_id().unwrap().ends_with(&dest));
    assert_eq!(
        error_code(
            kms.re_encrypt()
                .ciphertext_blob(blob.clone())
                .destination_key_id(&dest)
                .send()
                .await
        ),
        "InvalidCiphertextException",
        "the source context is still required"
    );
    assert_eq!(
        error_code(
            kms.re_encrypt()
                .ciphertext_blob(blob)
                .source_key_id(&dest)
                .source_encryption_context("a", "1")
                .destination_key_id(&dest)
                .send()
                .await
        ),
        "IncorrectKeyException"
    );
}

#[tokio::test]
async fn every_call_is_in_the_trail_with_its_outcome() {
    let (_dir, server) = server().await;
    let kms = &server.client;
    let key_id = new_key(&server).await;
    let secret_plaintext = b"trail-must-not-hold-this-plaintext";
    kms.encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(secret_plaintext.to_vec()))
        .encryption_context("case", "trail")
        .send()
        .await
        .unwrap();
    let _ = kms
        .describe_key()
        .key_id("11111111-2222-3333-4444-555555555555")
        .send()
        .await;
    let records = trail(&server.data_dir).await;
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CreateKey", "Encrypt", "DescribeKey"]);

    let encrypt = &records[1];
    assert_eq!(encrypt["eventSource"], "kms.amazonaws.com");
    assert_eq!(encrypt["awsRegion"], "us-east-1");
    assert_eq!(encrypt["readOnly"], true);
    assert_eq!(encrypt["eventType"], "AwsApiCall");
    assert_eq!(
        encrypt["userIdentity"]["accountId"],
        server.credentials.account_id.as_str()
    );
    assert_eq!(
        encrypt["userIdentity"]["accessKeyId"],
        server.credentials.access_key_id.as_str()
    );
    assert_eq!(encrypt["requestParameters"]["keyId"], key_id.as_str());
    assert_eq!(
        encrypt["requestParameters"]["encryptionContext"]["case"],
        "trail"
    );
    assert_eq!(encrypt["sourceIPAddress"], "127.0.0.1");
    assert!(encrypt["userAgent"]
        .as_str()
        .unwrap()
        .contains("aws-sdk-rust"));
    assert!(encrypt["resources"][0]["ARN"]
        .as_str()
        .unwrap()
        .ends_with(&key_id));
    assert!(encrypt.get("errorCode").is_none());
    assert!(!encrypt.to_string().contains("trail-must-not"));

    let failed = &records[2];
    assert_eq!(failed["errorCode"], "NotFoundException");
    assert!(failed["errorMessage"]
        .as_str()
        .unwrap()
        .contains("does not exist"));

    let create = &records[0];
    assert_eq!(create["readOnly"], false);
    assert_eq!(
        create["responseElements"]["keyMetadata"]["keyId"]
            .as_str()
            .or(create["responseElements"]["keyMetadata"]["KeyId"].as_str()),
        Some(key_id.as_str())
    );
}
