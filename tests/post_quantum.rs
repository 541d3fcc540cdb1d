//! ML-DSA (FIPS 204) signing keys and ML-KEM (FIPS 203) encapsulation keys through the real
//! server and the real aws-sdk-kms client, every signature and shared secret checked against
//! RustCrypto's `ml-dsa` and `ml-kem`.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncapsulationAlgorithmSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use base64::Engine as _;
use common::{
    asymmetric_key as key, error_code, public_key, started_server as started, stored_events, trail,
};
use ml_dsa::pkcs8::DecodePublicKey as _;

/// RustCrypto's verdict on a pure ML-DSA signature (empty context), and its μ of `msg`.
fn rustcrypto<P>(spki: &[u8], msg: &[u8], sig: &[u8]) -> (bool, Vec<u8>)
where
    P: ml_dsa::MlDsaParams,
    ml_dsa::VerifyingKey<P>: ml_dsa::pkcs8::DecodePublicKey,
{
    let key = ml_dsa::VerifyingKey::<P>::from_public_key_der(spki).unwrap();
    let valid = ml_dsa::Signature::<P>::try_from(sig)
        .map(|sig| key.verify_with_context(msg, b"", &sig))
        .unwrap_or(false);
    let mu = key
        .compute_mu(
            |shake| {
                ml_dsa::signature::digest::Update::update(shake, msg);
                Ok(())
            },
            b"",
        )
        .unwrap();
    (valid, mu.to_vec())
}

fn check_with_rustcrypto(spec: &KeySpec, spki: &[u8], msg: &[u8], sig: &[u8]) -> (bool, Vec<u8>) {
    match spec {
        KeySpec::MlDsa44 => rustcrypto::<ml_dsa::MlDsa44>(spki, msg, sig),
        KeySpec::MlDsa65 => rustcrypto::<ml_dsa::MlDsa65>(spki, msg, sig),
        _ => rustcrypto::<ml_dsa::MlDsa87>(spki, msg, sig),
    }
}

#[tokio::test]
async fn ml_dsa_keys_sign_raw_and_external_mu() {
    let (dir, s) = started().await;
    let alg = SigningAlgorithmSpec::MlDsaShake256;
    let msg = b"a message for the post-quantum era".to_vec();
    for (spec, sig_len) in [
        (KeySpec::MlDsa44, 2420),
        (KeySpec::MlDsa65, 3309),
        (KeySpec::MlDsa87, 4627),
    ] {
        let key = key(&s, spec.clone(), KeyUsageType::SignVerify).await;
        let metadata = s
            .client
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(metadata.key_spec(), Some(&spec));
        assert_eq!(metadata.signing_algorithms(), std::slice::from_ref(&alg));
        #[allow(deprecated)]
        let customer_master_key_spec = metadata.customer_master_key_spec();
        assert_eq!(customer_master_key_spec, None, "absent for the newer specs");
        let spki = public_key(&s, &key).await;

        let sign = |message: Vec<u8>, message_type: MessageType| {
            s.client
                .sign()
                .key_id(&key)
                .signing_algorithm(alg.clone())
                .message(Blob::new(message))
                .message_type(message_type)
                .send()
        };
        let verify = |message: Vec<u8>, message_type: MessageType, sig: Vec<u8>| {
            s.client
                .verify()
                .key_id(&key)
                .signing_algorithm(alg.clone())
                .message(Blob::new(message))
                .message_type(message_type)
                .signature(Blob::new(sig))
                .send()
        };

        // RAW: ours verifies in RustCrypto and at keyledger; a changed message does not.
        let out = sign(msg.clone(), MessageType::Raw).await.unwrap();
        assert_eq!(out.signing_algorithm(), Some(&alg));
        let sig = out.signature.unwrap().into_inner();
        assert_eq!(sig.len(), sig_len, "{spec:?}");
        let (valid, mu) = check_with_rustcrypto(&spec, &spki, &msg, &sig);
        assert!(valid, "{spec:?}: RustCrypto verifies keyledger's signature");
        assert!(verify(msg.clone(), MessageType::Raw, sig.clone())
            .await
            .unwrap()
            .signature_valid());
        let mut tampered = msg.clone();
        tampered[0] ^= 1;
        assert_eq!(
            error_code(verify(tampered.clone(), MessageType::Raw, sig.clone()).await),
            "KMSInvalidSignatureException"
        );

        // EXTERNAL_MU: the signature over μ is a signature over the message.
        let external = sign(mu.clone(), MessageType::ExternalMu)
            .await
            .unwrap()
            .signature
            .unwrap()
            .into_inner();
        assert!(check_with_rustcrypto(&spec, &spki, &msg, &external).0);
        assert!(verify(msg.clone(), MessageType::Raw, external.clone())
            .await
            .unwrap()
            .signature_valid());
        assert!(verify(mu.clone(), MessageType::ExternalMu, sig.clone())
            .await
            .unwrap()
            .signature_valid());
        let (_, tampered_mu) = check_with_rustcrypto(&spec, &spki, &tampered, &sig);
        assert_eq!(
            error_code(verify(tampered_mu, MessageType::ExternalMu, sig.clone()).await),
            "KMSInvalidSignatureException"
        );

        // μ is 64 bytes; ML-DSA takes no DIGEST.
        assert_eq!(
            error_code(sign(mu[..32].to_vec(), MessageType::ExternalMu).await),
            "ValidationException"
        );
        assert_eq!(
            error_code(sign(mu.clone(), MessageType::Digest).await),
            "ValidationException"
        );
        // Another algorithm is not this key's.
        assert_eq!(
            error_code(
                s.client
                    .sign()
                    .key_id(&key)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .message(Blob::new(msg.clone()))
                    .send()
                    .await
            ),
            "InvalidKeyUsageException"
        );
    }

    // EXTERNAL_MU is ML-DSA's only.
    let p256 = key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(
        error_code(
            s.client
                .sign()
                .key_id(&p256)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .message(Blob::new(vec![0; 64]))
                .message_type(MessageType::ExternalMu)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    // ML-DSA keys sign and verify only; their KeyCreated events match the schema.
    let code = error_code(
        s.client
            .create_key()
            .key_spec(KeySpec::MlDsa65)
            .key_usage(KeyUsageType::EncapsulateDecapsulate)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    common::check_schemas(&dir.path().join("data")).await;
}

#[tokio::test]
async fn ml_kem_keys_encapsulate_and_decapsulate() {
    use ml_kem::pkcs8::DecodePublicKey as _;
    let (dir, s) = started().await;
    let alg = EncapsulationAlgorithmSpec::MlKem;
    let mut secrets = Vec::new();
    for (spec, ct_len) in [
        (KeySpec::MlKem512, 768),
        (KeySpec::MlKem768, 1088),
        (KeySpec::MlKem1024, 1568),
    ] {
        let key = key(&s, spec.clone(), KeyUsageType::EncapsulateDecapsulate).await;
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
            metadata.key_usage(),
            Some(&KeyUsageType::EncapsulateDecapsulate)
        );
        assert_eq!(
            metadata.encapsulation_algorithms(),
            std::slice::from_ref(&alg)
        );
        assert!(metadata.signing_algorithms().is_empty());
        #[allow(deprecated)]
        let customer_master_key_spec = metadata.customer_master_key_spec();
        assert_eq!(customer_master_key_spec, None, "absent for the newer specs");
        let public = s.client.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(
            public.encapsulation_algorithms(),
            std::slice::from_ref(&alg)
        );
        let spki = public.public_key.unwrap().into_inner();

        let out = s
            .client
            .encapsulate()
            .key_id(&key)
            .encapsulation_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.encapsulation_algorithm(), Some(&alg));
        assert!(out.key_id().unwrap().ends_with(&key));
        let secret = out.shared_secret.unwrap().into_inner();
        let ciphertext = out.shared_secret_ciphertext_blob.unwrap().into_inner();
        assert_eq!((secret.len(), ciphertext.len()), (32, ct_len), "{spec:?}");
        let decapsulate = |ciphertext: Vec<u8>| {
            s.client
                .decapsulate()
                .key_id(&key)
                .encapsulation_algorithm(alg.clone())
                .shared_secret_ciphertext_blob(Blob::new(ciphertext))
                .send()
        };
        let back = decapsulate(ciphertext.clone()).await.unwrap();
        assert_eq!(back.encapsulation_algorithm(), Some(&alg));
        assert_eq!(back.shared_secret.unwrap().into_inner(), secret);

        // RustCrypto encapsulates to GetPublicKey's key; keyledger recovers the secret.
        let m = [0x5a; 32].into();
        let (theirs, their_secret) = match spec {
            KeySpec::MlKem512 => {
                let (c, k) =
                    ml_kem::EncapsulationKey::<ml_kem::MlKem512>::from_public_key_der(&spki)
                        .unwrap()
                        .encapsulate_deterministic(&m);
                (c.to_vec(), k.to_vec())
            }
            KeySpec::MlKem768 => {
                let (c, k) =
                    ml_kem::EncapsulationKey::<ml_kem::MlKem768>::from_public_key_der(&spki)
                        .unwrap()
                        .encapsulate_deterministic(&m);
                (c.to_vec(), k.to_vec())
            }
            _ => {
                let (c, k) =
                    ml_kem::EncapsulationKey::<ml_kem::MlKem1024>::from_public_key_der(&spki)
                        .unwrap()
                        .encapsulate_deterministic(&m);
                (c.to_vec(), k.to_vec())
            }
        };
        let recovered = decapsulate(theirs.clone()).await.unwrap();
        assert_eq!(recovered.shared_secret.unwrap().into_inner(), their_secret);

        // A changed ciphertext decapsulates to something else (implicit rejection); one of
        // the wrong length is InvalidCiphertextException.
        let mut changed = theirs.clone();
        changed[0] ^= 1;
        let rejected = decapsulate(changed)
            .await
            .unwrap()
            .shared_secret
            .unwrap()
            .into_inner();
        assert_eq!(rejected.len(), 32);
        assert_ne!(rejected, their_secret);
        assert_eq!(
            error_code(decapsulate(theirs[1..].to_vec()).await),
            "InvalidCiphertextException"
        );
        // An ML-KEM key does not sign.
        assert_eq!(
            error_code(
                s.client
                    .sign()
                    .key_id(&key)
                    .signing_algorithm(SigningAlgorithmSpec::MlDsaShake256)
                    .message(Blob::new(b"m".to_vec()))
                    .send()
                    .await
            ),
            "InvalidKeyUsageException"
        );
        secrets.push(secret);
        secrets.push(their_secret);
    }

    // Keys of other usages do not encapsulate.
    for (spec, usage) in [
        (KeySpec::EccNistP256, KeyUsageType::KeyAgreement),
        (KeySpec::MlDsa44, KeyUsageType::SignVerify),
    ] {
        let other = key(&s, spec, usage).await;
        assert_eq!(
            error_code(
                s.client
                    .encapsulate()
                    .key_id(&other)
                    .encapsulation_algorithm(alg.clone())
                    .send()
                    .await
            ),
            "InvalidKeyUsageException"
        );
    }
    let symmetric = s
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_eq!(
        error_code(
            s.client
                .decapsulate()
                .key_id(&symmetric)
                .encapsulation_algorithm(alg.clone())
                .shared_secret_ciphertext_blob(Blob::new(vec![0; 768]))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    // ML-KEM keys are ENCAPSULATE_DECAPSULATE only.
    assert_eq!(
        error_code(
            s.client
                .create_key()
                .key_spec(KeySpec::MlKem768)
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "ValidationException"
    );

    // DryRun, and grants for the KEM operations on an ML-KEM key (not on others).
    let kem = key(&s, KeySpec::MlKem512, KeyUsageType::EncapsulateDecapsulate).await;
    assert_eq!(
        error_code(
            s.client
                .encapsulate()
                .key_id(&kem)
                .encapsulation_algorithm(alg.clone())
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    let grantee = format!("arn:aws:iam::{}:root", s.credentials.account_id);
    let grant = |key: String| {
        s.client
            .create_grant()
            .key_id(key)
            .grantee_principal(grantee.clone())
            .operations(aws_sdk_kms::types::GrantOperation::Encapsulate)
            .operations(aws_sdk_kms::types::GrantOperation::Decapsulate)
            .send()
    };
    assert!(grant(kem.clone()).await.unwrap().grant_id.is_some());
    assert_eq!(
        error_code(grant(symmetric.clone()).await),
        "ValidationException"
    );

    // GetKeyLastUsage counts Encapsulate and Decapsulate as cryptographic use.
    let blob = s
        .client
        .encapsulate()
        .key_id(&kem)
        .encapsulation_algorithm(alg.clone())
        .send()
        .await
        .unwrap()
        .shared_secret_ciphertext_blob
        .unwrap();
    let last = |key: String| s.client.get_key_last_usage().key_id(key).send();
    assert_eq!(
        last(kem.clone())
            .await
            .unwrap()
            .key_last_usage()
            .and_then(|u| u.operation()),
        Some(&aws_sdk_kms::types::KeyLastUsageTrackingOperation::Encapsulate)
    );
    s.client
        .decapsulate()
        .key_id(&kem)
        .encapsulation_algorithm(alg.clone())
        .shared_secret_ciphertext_blob(blob)
        .send()
        .await
        .unwrap();
    assert_eq!(
        last(kem.clone())
            .await
            .unwrap()
            .key_last_usage()
            .and_then(|u| u.operation()),
        Some(&aws_sdk_kms::types::KeyLastUsageTrackingOperation::Decapsulate)
    );

    // The trail records each call with its key and algorithm, never a secret.
    let records = trail(&dir.path().join("data")).await;
    let encapsulations: Vec<_> = records
        .iter()
        .filter(|r| r["eventName"] == "Encapsulate" && r.get("errorCode").is_none())
        .collect();
    assert_eq!(encapsulations.len(), 4);
    for r in &encapsulations {
        assert_eq!(r["requestParameters"]["encapsulationAlgorithm"], "ML_KEM");
        assert!(r["requestParameters"]["keyId"].is_string());
        assert_eq!(r["readOnly"], true);
    }
    let decapsulations = records
        .iter()
        .filter(|r| r["eventName"] == "Decapsulate")
        .count();
    assert!(decapsulations >= 9, "{decapsulations}");
    let stored = serde_json::to_string(&stored_events(&dir.path().join("data")).await).unwrap();
    for secret in &secrets {
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!stored.contains(&b64), "a shared secret reached the ledger");
        assert!(!stored.contains(&hex::encode(secret)));
    }
    // Every event, ML-KEM keys and KEM grants included, matches its schema.
    let seen = common::check_schemas(&dir.path().join("data")).await;
    assert!(seen.contains("KeyCreated") && seen.contains("GrantCreated"));
}

/// ML-KEM data key pairs: the private key in the PKCS#8 seed form, the public key as SPKI;
/// aws-lc-rs encapsulates to the public key and RustCrypto's ml-kem, reading the private
/// key, gets the same secret; the encrypted copy decrypts to the same private key.
#[tokio::test]
async fn ml_kem_data_key_pairs_work_outside_kms() {
    use aws_sdk_kms::types::DataKeyPairSpec;
    use ml_kem::pkcs8::DecodePrivateKey as _;
    use ml_kem::Decapsulate as _;
    let (_dir, s) = started().await;
    let wrapping = s
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    macro_rules! check {
        ($spec:expr, $params:ty, $alg:expr, $ek_len:expr, $seed_der_len:expr) => {{
            let pair = s
                .client
                .generate_data_key_pair()
                .key_id(&wrapping)
                .key_pair_spec($spec)
                .send()
                .await
                .unwrap();
            assert_eq!(pair.key_pair_spec(), Some(&$spec));
            let private = pair.private_key_plaintext().unwrap().as_ref().to_vec();
            // PrivateKeyInfo { version, algorithm, OCTET STRING { [0] 64-byte seed } }.
            assert_eq!(
                private.len(),
                $seed_der_len,
                "the seed form, not the expanded key"
            );
            let public = pair.public_key().unwrap().as_ref().to_vec();
            let ek = &public[public.len() - $ek_len..];
            let (ciphertext, secret) = aws_lc_rs::kem::EncapsulationKey::new($alg, ek)
                .unwrap()
                .encapsulate()
                .unwrap();
            let dk = ml_kem::DecapsulationKey::<$params>::from_pkcs8_der(&private).unwrap();
            let ct: ml_kem::Ciphertext<$params> = ciphertext.as_ref().try_into().unwrap();
            assert_eq!(dk.decapsulate(&ct).as_slice(), secret.as_ref());
            let decrypted = s
                .client
                .decrypt()
                .ciphertext_blob(pair.private_key_ciphertext_blob.clone().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(decrypted.plaintext().unwrap().as_ref(), &private[..]);
        }};
    }
    check!(
        DataKeyPairSpec::MlKem512,
        ml_kem::MlKem512,
        &aws_lc_rs::kem::ML_KEM_512,
        800,
        86
    );
    check!(
        DataKeyPairSpec::MlKem768,
        ml_kem::MlKem768,
        &aws_lc_rs::kem::ML_KEM_768,
        1184,
        86
    );
    check!(
        DataKeyPairSpec::MlKem1024,
        ml_kem::MlKem1024,
        &aws_lc_rs::kem::ML_KEM_1024,
        1568,
        86
    );
}
