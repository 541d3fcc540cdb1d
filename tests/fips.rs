//! FIPS mode (decision 0015), black-box: the real binary, the real SDK.
//!
//! In every build: `--version` says whether the build carries the FIPS module, and a build
//! without it refuses `--fips`. With `--features fips` (CI runs this file so): a server
//! started with `--fips` says so, writes format 2 (AES-256-GCM) ciphertexts, refuses the
//! specs and algorithms outside the module by name, records the mode in the ledger and in
//! every CloudTrail record, and no ledger opens in the other mode.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `keyledger serve ARGS` on `data_dir` that must fail to start: its exit status and stderr.
fn failed_start(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("KEYLEDGER_FIPS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.success(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyledger serve {args:?} started, but it had to refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn version_says_whether_the_build_has_the_fips_module() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    if cfg!(feature = "fips") {
        assert!(
            text.contains("carries AWS-LC's FIPS 140-3 module"),
            "{text}"
        );
    } else {
        assert!(text.contains("FIPS: not in this build"), "{text}");
    }
}

#[cfg(not(feature = "fips"))]
#[test]
fn a_build_without_the_module_refuses_fips_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, err) = failed_start(&data, &["--fips"]);
    assert!(!ok);
    assert!(err.contains("built without the FIPS module"), "{err}");
    assert!(err.contains("--features fips"), "{err}");
    // Refused before anything was made: no ledger in the standard mode by accident.
    assert!(!data.join("ledger.db").exists());
}

#[tokio::test]
async fn the_standard_mode_says_it_is_not_fips_in_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    let key = create_key(&server.client, None).await;
    let blob = server
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"standard".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    // Format 1: XChaCha20-Poly1305.
    assert_eq!(blob.as_ref()[0], 0x01);
    let records = trail(&server.data_dir).await;
    assert!(!records.is_empty());
    for record in &records {
        assert_eq!(
            record["additionalEventData"],
            serde_json::json!({"fipsMode": false}),
            "{record}"
        );
    }
}

#[cfg(feature = "fips")]
mod fips_build {
    use super::*;
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{
        DataKeyPairSpec, DataKeySpec, KeySpec, KeyUsageType, MacAlgorithmSpec, SigningAlgorithmSpec,
    };

    /// The message of a failed SDK call.
    fn message<E, R>(e: aws_sdk_kms::error::SdkError<E, R>) -> (String, String)
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
        R: std::fmt::Debug,
    {
        let service = e.as_service_error().expect("a service error");
        (
            service.code().unwrap_or_default().to_owned(),
            service.message().unwrap_or_default().to_owned(),
        )
    }

    fn assert_refused_in_fips_mode((code, message): (String, String), what: &str) {
        assert_eq!(code, "UnsupportedOperationException", "{message}");
        assert!(message.contains("FIPS mode"), "{message}");
        assert!(message.contains(what), "{message}");
    }

    /// Whether `op` used an approved service of the module, by the module's own service
    /// indicator (a per-thread counter that approved services increment).
    fn approved<T>(op: impl FnOnce() -> T) -> (bool, T) {
        // SAFETY: plain reads of the module's thread-local counter, no arguments.
        let before = unsafe { aws_lc_fips_sys::FIPS_service_indicator_before_call() };
        let out = op();
        // SAFETY: as above.
        let after = unsafe { aws_lc_fips_sys::FIPS_service_indicator_after_call() };
        (after != before, out)
    }

    /// In-process, the very functions the server calls: each is an approved service of the
    /// validated module, and the indicator does tell approved from non-approved.
    #[test]
    fn every_key_operation_of_fips_mode_is_an_approved_service() {
        use keyledger::crypto::asymmetric as asym;
        use keyledger::crypto::{aead, ciphertext, secret::SecretKey};
        keyledger::crypto::mode::enable_fips().expect("the module is in FIPS mode");
        assert!(keyledger::crypto::mode::fips());

        let key = SecretKey::generate();
        let (ok, sealed) = approved(|| aead::seal_gcm(&key, b"aad", b"material"));
        assert!(ok, "AES-256-GCM sealing (HKDF key, module IV)");
        let (ok, opened) = approved(|| aead::open_gcm(&key, b"aad", &sealed).unwrap());
        assert!(ok && &opened[..] == b"material", "AES-256-GCM opening");
        let id =
            keyledger::domain::ids::KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let (ok, blob) = approved(|| ciphertext::encrypt(&key, &id, 1, b"ctx", b"plaintext"));
        assert!(ok && blob[0] == 0x02, "SYMMETRIC_DEFAULT blobs");
        // The indicator is not fooled: GCM with a caller-chosen IV is not approved.
        let (ok, _) = approved(|| {
            use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
            let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
            let mut in_out = b"x".to_vec();
            cipher
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key([0; 12]),
                    Aad::empty(),
                    &mut in_out,
                )
                .unwrap();
        });
        assert!(!ok, "a caller-chosen GCM IV must not count as approved");

        let message = [0x5a; 64];
        for (spec, algorithm) in [
            ("ECC_NIST_P256", "ECDSA_SHA_256"),
            ("ECC_NIST_P384", "ECDSA_SHA_384"),
            ("ECC_NIST_P521", "ECDSA_SHA_512"),
            ("RSA_2048", "RSASSA_PSS_SHA_256"),
            ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
            ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ] {
            let (ok, private) = approved(|| asym::generate_private_key(spec).unwrap());
            assert!(ok, "{spec} key generation");
            let (ok, signature) = approved(|| {
                asym::sign(spec, &private, algorithm, &message, asym::MessageType::Raw).unwrap()
            });
            assert!(ok, "{spec} {algorithm} signing");
            let (ok, valid) = approved(|| {
                asym::verify(
                    spec,
                    &private,
                    algorithm,
                    &message,
                    asym::MessageType::Raw,
                    &signature,
                )
                .unwrap()
            });
            assert!(ok && valid, "{spec} {algorithm} verification");
        }
        // ML-DSA (FIPS 204) with RAW messages: the module's. EXTERNAL_MU is not (RustCrypto).
        for spec in ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"] {
            let (ok, private) = approved(|| asym::generate_private_key(spec).unwrap());
            assert!(ok, "{spec} key generation");
            let (ok, signature) = approved(|| {
                asym::sign(
                    spec,
                    &private,
                    "ML_DSA_SHAKE_256",
                    &message,
                    asym::MessageType::Raw,
                )
                .unwrap()
            });
            assert!(ok, "{spec} signing");
            let (ok, valid) = approved(|| {
                asym::verify(
                    spec,
                    &private,
                    "ML_DSA_SHAKE_256",
                    &message,
                    asym::MessageType::Raw,
                    &signature,
                )
                .unwrap()
            });
            assert!(ok && valid, "{spec} verification");
            assert!(asym::sign(
                spec,
                &private,
                "ML_DSA_SHAKE_256",
                &[0; 64],
                asym::MessageType::ExternalMu
            )
            .is_err());
        }
        // ML-KEM (FIPS 203).
        for spec in ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"] {
            let (ok, private) = approved(|| asym::generate_private_key(spec).unwrap());
            assert!(ok, "{spec} key generation");
            let (ok, (ciphertext, secret)) =
                approved(|| asym::encapsulate(spec, &private).unwrap());
            assert!(ok, "{spec} encapsulation");
            let (ok, again) = approved(|| asym::decapsulate(spec, &private, &ciphertext).unwrap());
            assert!(ok && again == secret, "{spec} decapsulation");
        }
        for (spec, algorithm) in [("HMAC_256", "HMAC_SHA_256"), ("HMAC_512", "HMAC_SHA_512")] {
            let mac_key = asym::generate_private_key(spec).unwrap();
            let (ok, _) =
                approved(|| asym::generate_mac(spec, &mac_key, algorithm, &message).unwrap());
            assert!(ok, "{spec} GenerateMac");
        }
        let ours = asym::generate_private_key("ECC_NIST_P256").unwrap();
        let theirs = asym::generate_private_key("ECC_NIST_P256").unwrap();
        let peer = asym::public_key_der("ECC_NIST_P256", &theirs).unwrap();
        let (ok, _) =
            approved(|| asym::derive_shared_secret("ECC_NIST_P256", &ours, &peer).unwrap());
        assert!(ok, "ECDH P-256");
        let (ok, _) = approved(|| {
            keyledger::http::sigv4::derive_signing_key(b"secret", "20261203", "us-east-1", "kms")
        });
        assert!(ok, "SigV4's HMAC-SHA256");

        // Outside the module: these specs do not even parse in FIPS mode.
        assert!(asym::generate_private_key("ECC_SECG_P256K1").is_err());
        assert!(asym::generate_private_key("X25519").is_err());
        assert_eq!(
            asym::signing_algorithms("ECC_NIST_EDWARDS25519"),
            ["ED25519_SHA_512"]
        );
    }

    #[tokio::test]
    async fn fips_mode_serves_approved_algorithms_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with(&dir.path().join("data"), &["--fips"]).await;
        let kms = &server.client;
        let health: serde_json::Value = reqwest::get(format!("{}/healthz", server.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["fips"], true);

        // SYMMETRIC_DEFAULT: format 2 blobs, decrypting, bound to their context.
        let key = create_key(kms, None).await;
        let encrypted = kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"approved only".to_vec()))
            .encryption_context("purpose", "fips")
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        assert_eq!(encrypted.as_ref()[0], 0x02);
        let decrypted = kms
            .decrypt()
            .ciphertext_blob(encrypted.clone())
            .encryption_context("purpose", "fips")
            .send()
            .await
            .unwrap();
        assert_eq!(decrypted.plaintext.unwrap().as_ref(), b"approved only");
        let wrong_context = kms
            .decrypt()
            .ciphertext_blob(encrypted)
            .encryption_context("purpose", "other")
            .send()
            .await;
        assert_eq!(error_code(wrong_context), "InvalidCiphertextException");
        // Rotation keeps old versions decrypting in FIPS mode too.
        let data_key = kms
            .generate_data_key()
            .key_id(&key)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .unwrap();
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .unwrap();
        let reopened = kms
            .decrypt()
            .ciphertext_blob(data_key.ciphertext_blob.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reopened.plaintext, data_key.plaintext);
        let data_key_plaintext = data_key.plaintext;

        // ECDSA P-256, HMAC and Ed25519 (pure) are the module's.
        let p256 = create_key(kms, Some((KeySpec::EccNistP256, KeyUsageType::SignVerify))).await;
        let signature = kms
            .sign()
            .key_id(&p256)
            .message(Blob::new(b"m".to_vec()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .unwrap()
            .signature
            .unwrap();
        let verified = kms
            .verify()
            .key_id(&p256)
            .message(Blob::new(b"m".to_vec()))
            .signature(signature)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .unwrap();
        assert!(verified.signature_valid);
        let hmac = create_key(
            kms,
            Some((KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)),
        )
        .await;
        kms.generate_mac()
            .key_id(&hmac)
            .message(Blob::new(b"m".to_vec()))
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .send()
            .await
            .unwrap();
        let ed25519 = kms
            .create_key()
            .key_spec(KeySpec::EccNistEdwards25519)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        // KeyMetadata lists only the approved algorithm.
        assert_eq!(
            ed25519.signing_algorithms(),
            [SigningAlgorithmSpec::Ed25519Sha512]
        );
        let refused = kms
            .sign()
            .key_id(&ed25519.key_id)
            .message(Blob::new(vec![0; 64]))
            .message_type(aws_sdk_kms::types::MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::Ed25519PhSha512)
            .send()
            .await;
        assert_refused_in_fips_mode(
            message(refused.unwrap_err()),
            "SigningAlgorithm ED25519_PH_SHA_512",
        );

        // Outside the module: refused by name, nothing created.
        let before = kms.list_keys().send().await.unwrap().keys().len();
        let secp = kms
            .create_key()
            .key_spec(KeySpec::EccSecgP256K1)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        assert_refused_in_fips_mode(message(secp.unwrap_err()), "ECC_SECG_P256K1");
        let pair = kms
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(DataKeyPairSpec::EccSecgP256K1)
            .send()
            .await;
        assert_refused_in_fips_mode(message(pair.unwrap_err()), "ECC_SECG_P256K1");
        // ML-KEM data key pairs come from RustCrypto's ml-kem (the PKCS#8 seed form), not
        // from the module.
        let ml_kem_pair = kms
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(DataKeyPairSpec::MlKem768)
            .send()
            .await;
        assert_refused_in_fips_mode(message(ml_kem_pair.unwrap_err()), "ML_KEM_768");
        assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), before);
        // An approved pair spec works.
        kms.generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(DataKeyPairSpec::EccNistP384)
            .send()
            .await
            .unwrap();

        // Every record says the call ran in FIPS mode; the ledger verifies.
        let records = trail(&server.data_dir).await;
        assert!(records.len() > 10);
        for record in &records {
            assert_eq!(
                record["additionalEventData"],
                serde_json::json!({"fipsMode": true}),
                "{record}"
            );
        }
        let events = stored_events(&server.data_dir).await;
        let created = events
            .iter()
            .find(|e| e["event_type"] == "AccountCreated")
            .expect("the bootstrap account");
        assert_eq!(created["body"]["fips_mode"], true);
        let (ok, out) = verify(&server.data_dir);
        assert!(ok, "{out}");
        // No plaintext at rest under FIPS mode's sealing either: not the Encrypt plaintext,
        // not the data key, in any file of the data dir (ledger, WAL, keys).
        let data_key = data_key_plaintext
            .as_ref()
            .expect("GenerateDataKey's plaintext");
        for file in files_under(&server.data_dir) {
            let bytes = std::fs::read(&file).unwrap();
            for secret in [&b"approved only"[..], data_key.as_ref()] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "a plaintext is at rest in {}",
                    file.display()
                );
            }
        }
    }

    #[tokio::test]
    async fn no_ledger_opens_in_the_other_mode() {
        let dir = tempfile::tempdir().unwrap();
        let fips_dir = dir.path().join("fips");
        let server = Server::start_with(&fips_dir, &["--fips"]).await;
        let key = create_key(&server.client, None).await;
        server.stop();
        let (ok, err) = failed_start(&fips_dir, &[]);
        assert!(!ok);
        assert!(err.contains("created in FIPS mode"), "{err}");
        assert!(err.contains("--fips"), "{err}");

        let standard_dir = dir.path().join("standard");
        let server = Server::start(&standard_dir).await;
        server.stop();
        let (ok, err) = failed_start(&standard_dir, &["--fips"]);
        assert!(!ok);
        assert!(err.contains("created without FIPS mode"), "{err}");

        // Both still open in their own mode, keys intact.
        let server = Server::start_with(&fips_dir, &["--fips"]).await;
        let encrypted = server
            .client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"still here".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(encrypted.ciphertext_blob.unwrap().as_ref()[0], 0x02);
        server.stop();
        Server::start(&standard_dir).await.stop();
    }
}
