//! Imported key material (BYOK) through the real server and the real aws-sdk-kms client:
//! GetParametersForImport, the client-side wrap (RSA-OAEP from RustCrypto's `rsa`, an
//! implementation independent of the server's aws-lc-rs; AES key wrap for
//! RSA_AES_KEY_WRAP), ImportKeyMaterial, expiry by the scheduler, reimport,
//! DeleteImportedKeyMaterial and on-demand rotation into new imported material.

mod common;

use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, ImportState, ImportType, IncludeKeyMaterial,
    KeyMaterialState, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, OriginType,
    SigningAlgorithmSpec, WrappingKeySpec,
};
use common::{error_code, stored_events, InProcess};

/// What a client does with GetParametersForImport's answer: wrap `material` under its public
/// key with `algorithm` (RustCrypto for RSA-OAEP; aws-lc-rs's AES-KWP, RFC 5649).
fn wrap(algorithm: &AlgorithmSpec, public_key: &[u8], material: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePublicKey as _;
    let public = rsa::RsaPublicKey::from_public_key_der(public_key).unwrap();
    let mut rng = rand::thread_rng();
    let oaep = |plaintext: &[u8], sha256: bool| {
        let padding = if sha256 {
            rsa::Oaep::new::<rsa::sha2::Sha256>()
        } else {
            rsa::Oaep::new::<sha1::Sha1>()
        };
        public
            .encrypt(&mut rand::thread_rng(), padding, plaintext)
            .unwrap()
    };
    match algorithm {
        AlgorithmSpec::RsaesOaepSha256 => oaep(material, true),
        AlgorithmSpec::RsaesOaepSha1 => oaep(material, false),
        AlgorithmSpec::RsaAesKeyWrapSha256 | AlgorithmSpec::RsaAesKeyWrapSha1 => {
            use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
            use rand::RngCore as _;
            let mut aes_key = [0u8; 32];
            rng.fill_bytes(&mut aes_key);
            let mut out = oaep(&aes_key, *algorithm == AlgorithmSpec::RsaAesKeyWrapSha256);
            let mut wrapped = vec![0u8; material.len() + 16];
            let len = AesKek::new(&AES_256, &aes_key)
                .unwrap()
                .wrap_with_padding(material, &mut wrapped)
                .unwrap()
                .len();
            out.extend_from_slice(&wrapped[..len]);
            out
        }
        other => panic!("no client wrap for {other:?}"),
    }
}

async fn external_key(s: &InProcess, spec: KeySpec, usage: KeyUsageType) -> String {
    let metadata = s
        .client
        .create_key()
        .origin(OriginType::External)
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.key_state(), Some(&KeyState::PendingImport));
    assert_eq!(metadata.origin(), Some(&OriginType::External));
    assert!(!metadata.enabled());
    assert_eq!(metadata.expiration_model(), None, "no material yet");
    metadata.key_id
}

/// (ImportToken, wrapped material) for `material`, from fresh import parameters.
async fn wrapped_for(
    s: &InProcess,
    key: &str,
    algorithm: AlgorithmSpec,
    material: &[u8],
) -> (Blob, Blob) {
    let params = s
        .client
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(algorithm.clone())
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    assert!(params.key_id().unwrap().ends_with(key));
    let valid_to = params.parameters_valid_to().unwrap().secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // (The service's clock may be ahead of this one: tests move it.)
    assert!(
        valid_to - now > 86_400 - 600,
        "import parameters are good for 24 hours"
    );
    let wrapped = wrap(&algorithm, params.public_key().unwrap().as_ref(), material);
    (params.import_token.unwrap(), Blob::new(wrapped))
}

/// ImportKeyMaterial of `wrapped` under `token` into `key`, for good (the caller may set
/// another expiration model, and more).
fn import_call(
    s: &InProcess,
    key: &str,
    token: Blob,
    wrapped: Blob,
) -> aws_sdk_kms::operation::import_key_material::builders::ImportKeyMaterialFluentBuilder {
    s.client
        .import_key_material()
        .key_id(key)
        .import_token(token)
        .encrypted_key_material(wrapped)
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
}

async fn state(s: &InProcess, key: &str) -> KeyState {
    s.client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state
        .unwrap()
}

async fn encrypt(s: &InProcess, key: &str, plaintext: &[u8]) -> Blob {
    s.client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext.to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
}

#[tokio::test]
async fn symmetric_material_is_imported_expires_and_comes_back_only_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let key = external_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let refused = s
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert_eq!(error_code(refused), "KMSInvalidStateException");
    assert_eq!(
        error_code(s.client.enable_key().key_id(&key).send().await),
        "KMSInvalidStateException"
    );

    let material = [0x5au8; 32];
    let (token, wrapped) = wrapped_for(&s, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    let valid_to = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
    let imported = s
        .client
        .import_key_material()
        .key_id(&key)
        .import_token(token.clone())
        .encrypted_key_material(wrapped.clone())
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(DateTime::from_secs(valid_to))
        .send()
        .await
        .unwrap();
    let material_id = imported.key_material_id.clone().unwrap();
    assert_eq!(material_id.len(), 64);
    assert!(material_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let metadata = s
        .client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.key_state(), Some(&KeyState::Enabled));
    assert_eq!(
        metadata.expiration_model(),
        Some(&ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(metadata.valid_to().map(|t| t.secs()), Some(valid_to));
    assert_eq!(
        metadata.current_key_material_id(),
        Some(material_id.as_str())
    );

    let blob = encrypt(&s, &key, b"under imported material").await;
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"under imported material"
    );
    assert_eq!(decrypted.key_material_id(), Some(material_id.as_str()));

    // A token is for its key only, and material under it must open and be the key's.
    let other = external_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let wrong_key = import_call(&s, &other, token.clone(), wrapped.clone())
        .send()
        .await;
    assert_eq!(error_code(wrong_key), "InvalidImportTokenException");
    let mut corrupt = wrapped.clone().into_inner();
    corrupt[10] ^= 1;
    let corrupted = import_call(&s, &key, token.clone(), Blob::new(corrupt))
        .send()
        .await;
    assert_eq!(error_code(corrupted), "InvalidCiphertextException");
    let (token2, different) =
        wrapped_for(&s, &key, AlgorithmSpec::RsaesOaepSha1, &[0x33u8; 32]).await;
    let different = import_call(&s, &key, token2, different).send().await;
    assert_eq!(error_code(different), "IncorrectKeyMaterialException");
    let (token3, short) = wrapped_for(&s, &other, AlgorithmSpec::RsaesOaepSha256, &[1u8; 16]).await;
    let short = import_call(&s, &other, token3, short).send().await;
    assert_eq!(error_code(short), "IncorrectKeyMaterialException");
    let upper = import_call(&s, &key, token.clone(), wrapped.clone())
        .import_type(ImportType::ExistingKeyMaterial)
        .key_material_id(material_id.to_uppercase())
        .send()
        .await;
    assert_eq!(
        error_code(upper),
        "ValidationException",
        "the model's ^[a-f0-9]+$"
    );
    let no_valid_to = s
        .client
        .import_key_material()
        .key_id(&key)
        .import_token(token.clone())
        .encrypted_key_material(wrapped.clone())
        .send()
        .await;
    assert_eq!(error_code(no_valid_to), "ValidationException");

    // The scheduler deletes the material at its ValidTo: the key waits for it again.
    s.advance(time::Duration::days(2)).await;
    assert_eq!(state(&s, &key).await, KeyState::PendingImport);
    let after_expiry = s
        .client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await;
    assert_eq!(error_code(after_expiry), "KMSInvalidStateException");
    let expired_token = import_call(&s, &key, token, wrapped).send().await;
    assert_eq!(error_code(expired_token), "ExpiredImportTokenException");

    // The same material again, now for good: the old ciphertext decrypts.
    let (token, wrapped) =
        wrapped_for(&s, &key, AlgorithmSpec::RsaAesKeyWrapSha256, &material).await;
    let again = import_call(&s, &key, token, wrapped)
        .import_type(ImportType::ExistingKeyMaterial)
        .key_material_id(&material_id)
        .send()
        .await
        .unwrap();
    assert_eq!(again.key_material_id(), Some(material_id.as_str()));
    assert_eq!(state(&s, &key).await, KeyState::Enabled);
    let metadata = s
        .client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        metadata.expiration_model(),
        Some(&ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(metadata.valid_to(), None);
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await;
    assert_eq!(
        decrypted.unwrap().plaintext.unwrap().as_ref(),
        b"under imported material"
    );

    // DeleteImportedKeyMaterial: unusable again, until the same material comes back.
    let deleted = s
        .client
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.key_material_id(), Some(material_id.as_str()));
    assert_eq!(state(&s, &key).await, KeyState::PendingImport);
    let after_delete = s
        .client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await;
    assert_eq!(error_code(after_delete), "KMSInvalidStateException");

    // The trail has the service's expiry, and no parameter holds the token or the blob.
    let records = common::trail(&dir.path().join("data")).await;
    let expiry = records
        .iter()
        .find(|r| r["eventName"] == "DeleteExpiredKeyMaterial")
        .expect("the expiry is recorded");
    assert_eq!(expiry["eventType"], "AwsServiceEvent");
    assert_eq!(
        expiry["requestParameters"]["keyMaterialId"],
        material_id.as_str()
    );
    let import = records
        .iter()
        .find(|r| r["eventName"] == "ImportKeyMaterial" && r["errorCode"].is_null())
        .unwrap();
    assert!(import["requestParameters"]["importToken"].is_null());
    assert!(import["requestParameters"]["encryptedKeyMaterial"].is_null());
    let types = common::check_schemas(&dir.path().join("data")).await;
    assert!(types.contains("KeyMaterialImported"));
    assert!(types.contains("ImportedKeyMaterialDeleted"));
    let events = stored_events(&dir.path().join("data")).await;
    let reimport = events
        .iter()
        .filter(|e| e["event_type"] == "KeyMaterialImported")
        .nth(1)
        .unwrap();
    assert!(
        reimport["body"]["sealed_material"].is_null(),
        "a reimport carries no material: the ledger has it"
    );
    s.stop().await;
}

#[tokio::test]
async fn asymmetric_and_hmac_material_works_as_the_material_made_outside() {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::signature::Verifier as _;
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;

    // An RSA signing key made by RustCrypto: GetPublicKey answers its public key, and its
    // signatures verify under it.
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pkcs8 = private.to_pkcs8_der().unwrap();
    let key = external_key(&s, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let (token, wrapped) =
        wrapped_for(&s, &key, AlgorithmSpec::RsaAesKeyWrapSha1, pkcs8.as_bytes()).await;
    import_call(&s, &key, token, wrapped).send().await.unwrap();
    let spki = s
        .client
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    use rsa::pkcs8::EncodePublicKey as _;
    assert_eq!(
        spki,
        private
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
    );
    let message = b"signed by imported material".to_vec();
    let signature = s
        .client
        .sign()
        .key_id(&key)
        .message(Blob::new(message.clone()))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner();
    let verifying = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(private.to_public_key());
    verifying
        .verify(
            &message,
            &rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap(),
        )
        .expect("RustCrypto verifies the signature of the imported key");
    // Asymmetric keys take one material for good.
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let (token, wrapped) = wrapped_for(
        &s,
        &key,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        other.to_pkcs8_der().unwrap().as_bytes(),
    )
    .await;
    let new_material = import_call(&s, &key, token, wrapped)
        .import_type(ImportType::NewKeyMaterial)
        .send()
        .await;
    assert_eq!(error_code(new_material), "UnsupportedOperationException");

    // An ECC key from RustCrypto's p256.
    let secret = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let ecc = external_key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    use p256::pkcs8::EncodePrivateKey as _;
    let (token, wrapped) = wrapped_for(
        &s,
        &ecc,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        secret.to_pkcs8_der().unwrap().as_bytes(),
    )
    .await;
    import_call(&s, &ecc, token, wrapped).send().await.unwrap();
    let signature = s
        .client
        .sign()
        .key_id(&ecc)
        .message(Blob::new(message.clone()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner();
    use p256::ecdsa::signature::Verifier as _;
    p256::ecdsa::VerifyingKey::from(secret.public_key())
        .verify(
            &message,
            &p256::ecdsa::Signature::from_der(&signature).unwrap(),
        )
        .expect("p256 verifies the signature of the imported key");
    // Material of another spec is refused.
    let (token, wrong) = wrapped_for(
        &s,
        &key,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        secret.to_pkcs8_der().unwrap().as_bytes(),
    )
    .await;
    let fresh_rsa = external_key(&s, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let wrong_spec = import_call(&s, &fresh_rsa, token, wrong).send().await;
    assert_eq!(
        error_code(wrong_spec),
        "InvalidImportTokenException",
        "the token was another key's"
    );

    // An HMAC key of 40 bytes (HMAC_256 takes 32 to 64): its MACs are HMAC-SHA-256's.
    let hmac_material = [0x42u8; 40];
    let mac_key = external_key(&s, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let (token, wrapped) =
        wrapped_for(&s, &mac_key, AlgorithmSpec::RsaesOaepSha256, &hmac_material).await;
    import_call(&s, &mac_key, token, wrapped)
        .send()
        .await
        .unwrap();
    let mac = s
        .client
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(message.clone()))
        .send()
        .await
        .unwrap()
        .mac
        .unwrap()
        .into_inner();
    let expected = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &hmac_material),
        &message,
    );
    assert_eq!(mac, expected.as_ref());
    s.stop().await;
}

#[tokio::test]
async fn imported_keys_rotate_on_demand_into_new_imported_material() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let key = external_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let import = |material: [u8; 32], import_type: Option<ImportType>| {
        let s = &s;
        let key = key.clone();
        async move {
            let (token, wrapped) =
                wrapped_for(s, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
            import_call(s, &key, token, wrapped)
                .set_import_type(import_type)
                .send()
                .await
        }
    };
    let first = import([1; 32], None)
        .await
        .unwrap()
        .key_material_id
        .unwrap();
    let old = encrypt(&s, &key, b"old").await;
    // Imported keys do not rotate by themselves, nor on demand without new material.
    assert_eq!(
        error_code(s.client.enable_key_rotation().key_id(&key).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(s.client.rotate_key_on_demand().key_id(&key).send().await),
        "KMSInvalidStateException"
    );
    let second = import([2; 32], Some(ImportType::NewKeyMaterial))
        .await
        .unwrap()
        .key_material_id
        .unwrap();
    assert_ne!(first, second);
    let listed = |all: bool| {
        let s = &s;
        let key = key.clone();
        async move {
            s.client
                .list_key_rotations()
                .key_id(&key)
                .include_key_material(if all {
                    IncludeKeyMaterial::AllKeyMaterial
                } else {
                    IncludeKeyMaterial::RotationsOnly
                })
                .send()
                .await
                .unwrap()
                .rotations
                .unwrap_or_default()
        }
    };
    let all = listed(true).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].key_material_id(), Some(first.as_str()));
    assert_eq!(
        all[0].key_material_state(),
        Some(&KeyMaterialState::Current)
    );
    assert_eq!(all[1].key_material_id(), Some(second.as_str()));
    assert_eq!(
        all[1].key_material_state(),
        Some(&KeyMaterialState::PendingRotation)
    );
    assert_eq!(all[1].import_state(), Some(&ImportState::Imported));
    assert!(all[1].rotation_date().is_none());
    assert!(listed(false).await.is_empty(), "no rotation has happened");
    // The pending material is not used yet.
    let still_first = s
        .client
        .decrypt()
        .ciphertext_blob(encrypt(&s, &key, b"x").await)
        .send()
        .await
        .unwrap();
    assert_eq!(still_first.key_material_id(), Some(first.as_str()));

    s.client
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let metadata = s
        .client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.current_key_material_id(), Some(second.as_str()));
    let new = encrypt(&s, &key, b"new").await;
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(new)
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.key_material_id(), Some(second.as_str()));
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(old.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext().unwrap().as_ref(), b"old");
    assert_eq!(decrypted.key_material_id(), Some(first.as_str()));
    let rotations = listed(false).await;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].key_material_id(), Some(second.as_str()));
    assert_eq!(
        rotations[0].key_material_state(),
        Some(&KeyMaterialState::Current)
    );

    // Deleting the old material by id: as at AWS, a key missing any of its material is
    // PendingImport until it comes back.
    s.client
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&s, &key).await, KeyState::PendingImport);
    assert_eq!(
        error_code(s.client.decrypt().ciphertext_blob(old.clone()).send().await),
        "KMSInvalidStateException"
    );
    let all = listed(true).await;
    assert_eq!(all[0].import_state(), Some(&ImportState::PendingImport));
    assert_eq!(
        all[0].key_material_state(),
        Some(&KeyMaterialState::NonCurrent)
    );
    import([1; 32], Some(ImportType::ExistingKeyMaterial))
        .await
        .unwrap();
    assert_eq!(state(&s, &key).await, KeyState::Enabled);
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(old)
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext().unwrap().as_ref(), b"old");
    s.stop().await;
}

#[tokio::test]
async fn import_operations_refuse_keys_not_made_for_import_and_retired_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let generated = s
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let params = s
        .client
        .get_parameters_for_import()
        .key_id(&generated)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(error_code(params), "UnsupportedOperationException");
    assert_eq!(
        error_code(
            s.client
                .delete_imported_key_material()
                .key_id(&generated)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    let external = external_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let params = s
        .client
        .get_parameters_for_import()
        .key_id(&external)
        .wrapping_algorithm(AlgorithmSpec::RsaAesKeyWrapSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa4096)
        .send()
        .await
        .unwrap();
    let valid_for = params.parameters_valid_to().unwrap().secs()
        - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (valid_for - 86_400).abs() < 600,
        "24 hours, not {valid_for} s"
    );
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let public =
        rsa::RsaPublicKey::from_public_key_der(params.public_key().unwrap().as_ref()).unwrap();
    assert_eq!(public.size(), 512, "an RSA_4096 wrapping key");
    let pkcs1 = s
        .client
        .get_parameters_for_import()
        .key_id(&external)
        .wrapping_algorithm(AlgorithmSpec::RsaesPkcs1V15)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(error_code(pkcs1), "ValidationException");
    let ml_kem = s
        .client
        .create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::MlKem768)
        .key_usage(KeyUsageType::EncapsulateDecapsulate)
        .send()
        .await;
    assert_eq!(error_code(ml_kem), "UnsupportedOperationException");
    // A key waiting for material can be scheduled for deletion and, cancelled, waits again.
    s.client
        .schedule_key_deletion()
        .key_id(&external)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&s, &external).await, KeyState::PendingDeletion);
    let while_pending = s
        .client
        .get_parameters_for_import()
        .key_id(&external)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(error_code(while_pending), "KMSInvalidStateException");
    s.client
        .cancel_key_deletion()
        .key_id(&external)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&s, &external).await, KeyState::PendingImport);
    s.stop().await;
}
