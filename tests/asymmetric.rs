//! Asymmetric, HMAC and key-agreement keys through the real aws-sdk-kms
//! client, with every signature, ciphertext and shared secret checked by an
//! independent implementation (RustCrypto, dalek, the `rsa` crate).

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec,
    MessageType, SigningAlgorithmSpec,
};
use common::{
    asymmetric_key as key, error_code, public_key, started_server as started, stored_events, Server,
};

async fn sign(s: &Server, key: &str, alg: SigningAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    let out = s
        .client
        .sign()
        .key_id(key)
        .signing_algorithm(alg.clone())
        .message(Blob::new(message.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.signing_algorithm(), Some(&alg));
    out.signature.unwrap().into_inner()
}

/// Sign through KMS; KMS verifies it; a flipped signature is refused.
async fn round_trip(s: &Server, key: &str, alg: SigningAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    let sig = sign(s, key, alg.clone(), message).await;
    let ok = s
        .client
        .verify()
        .key_id(key)
        .signing_algorithm(alg.clone())
        .message(Blob::new(message.to_vec()))
        .signature(Blob::new(sig.clone()))
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid());
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        error_code(
            s.client
                .verify()
                .key_id(key)
                .signing_algorithm(alg)
                .message(Blob::new(message.to_vec()))
                .signature(Blob::new(bad))
                .send()
                .await
        ),
        "KMSInvalidSignatureException"
    );
    sig
}

#[tokio::test]
async fn ecdsa_and_eddsa_signatures_verify_independently() {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey;
    let (_dir, s) = started().await;
    let message = b"signed by keyledger, checked by someone else";

    let k = key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let meta = s
        .client
        .describe_key()
        .key_id(&k)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.signing_algorithms(),
        [SigningAlgorithmSpec::EcdsaSha256]
    );
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::EcdsaSha256, message).await;
    let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    vk.verify(message, &p256::ecdsa::Signature::from_der(&sig).unwrap())
        .unwrap();
    // DIGEST: the digest is used as given, and its length is checked.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let out = s
        .client
        .sign()
        .key_id(&k)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message_type(MessageType::Digest)
        .message(Blob::new(digest.as_ref().to_vec()))
        .send()
        .await
        .unwrap();
    vk.verify(
        message,
        &p256::ecdsa::Signature::from_der(out.signature().unwrap().as_ref()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        error_code(
            s.client
                .sign()
                .key_id(&k)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .message_type(MessageType::Digest)
                .message(Blob::new(vec![1; 31]))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            s.client
                .sign()
                .key_id(&k)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha384)
                .message(Blob::new(message.to_vec()))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        error_code(
            s.client
                .sign()
                .key_id(&k)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .message(Blob::new(vec![0; 4097]))
                .send()
                .await
        ),
        "ValidationException"
    );

    let k = key(&s, KeySpec::EccNistP384, KeyUsageType::SignVerify).await;
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::EcdsaSha384, message).await;
    let vk = p384::ecdsa::VerifyingKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    vk.verify(message, &p384::ecdsa::Signature::from_der(&sig).unwrap())
        .unwrap();

    let k = key(&s, KeySpec::EccSecgP256K1, KeyUsageType::SignVerify).await;
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::EcdsaSha256, message).await;
    let vk = k256::ecdsa::VerifyingKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    k256::ecdsa::signature::Verifier::verify(
        &vk,
        message,
        &k256::ecdsa::Signature::from_der(&sig).unwrap(),
    )
    .unwrap();

    let k = key(&s, KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify).await;
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::Ed25519Sha512, message).await;
    let vk = ed25519_dalek::VerifyingKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    ed25519_dalek::Verifier::verify(
        &vk,
        message,
        &ed25519_dalek::Signature::from_slice(&sig).unwrap(),
    )
    .unwrap();
    // ED25519_PH_SHA_512 takes a DIGEST only (tests/errors_and_shapes.rs signs one).
    assert_eq!(
        error_code(
            s.client
                .sign()
                .key_id(&k)
                .signing_algorithm(SigningAlgorithmSpec::Ed25519PhSha512)
                .message(Blob::new(message.to_vec()))
                .send()
                .await
        ),
        "ValidationException"
    );

    // The trail names algorithms, never messages or signatures.
    let all = stored_events(&s.data_dir).await;
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains("signed by keyledger"));
    assert!(text.contains("ECDSA_SHA_256"));
    let trail = common::trail(&s.data_dir).await;
    let signs: Vec<&serde_json::Value> =
        trail.iter().filter(|r| r["eventName"] == "Sign").collect();
    assert!(!signs.is_empty());
    assert!(
        signs.iter().all(|r| r["readOnly"] == true),
        "Sign changes no state"
    );
}

#[tokio::test]
async fn rsa_signatures_and_oaep_interoperate_with_an_independent_implementation() {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::sha2::{Digest, Sha256};
    let (_dir, s) = started().await;
    let message = b"RSA, both ways";

    let k = key(&s, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let pk = rsa::RsaPublicKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    let prehash = Sha256::digest(message);
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::RsassaPssSha256, message).await;
    pk.verify(rsa::Pss::new::<Sha256>(), &prehash, &sig)
        .unwrap();
    let sig = round_trip(&s, &k, SigningAlgorithmSpec::RsassaPkcs1V15Sha256, message).await;
    pk.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &prehash, &sig)
        .unwrap();
    assert_eq!(
        error_code(
            s.client
                .encrypt()
                .key_id(&k)
                .plaintext(Blob::new(b"x".to_vec()))
                .encryption_algorithm("RSAES_OAEP_SHA_256".into())
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );

    let k = key(&s, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let meta = s
        .client
        .describe_key()
        .key_id(&k)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.encryption_algorithms().len(), 2);
    let pk = rsa::RsaPublicKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    // Encrypted outside keyledger with the public key, decrypted inside.
    let outside = pk
        .encrypt(
            &mut rand::thread_rng(),
            rsa::Oaep::new::<Sha256>(),
            b"from outside",
        )
        .unwrap();
    let opened = s
        .client
        .decrypt()
        .key_id(&k)
        .encryption_algorithm("RSAES_OAEP_SHA_256".into())
        .ciphertext_blob(Blob::new(outside.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"from outside");
    assert_eq!(
        error_code(
            s.client
                .decrypt()
                .ciphertext_blob(Blob::new(outside.clone()))
                .send()
                .await
        ),
        "InvalidCiphertextException",
        "AWS needs the KeyId for RSA"
    );
    assert_eq!(
        error_code(
            s.client
                .decrypt()
                .key_id(&k)
                .encryption_algorithm("RSAES_OAEP_SHA_1".into())
                .ciphertext_blob(Blob::new(outside))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
        let blob = s
            .client
            .encrypt()
            .key_id(&k)
            .encryption_algorithm(alg.into())
            .plaintext(Blob::new(b"inside".to_vec()))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        let back = s
            .client
            .decrypt()
            .key_id(&k)
            .encryption_algorithm(alg.into())
            .ciphertext_blob(blob)
            .send()
            .await
            .unwrap();
        assert_eq!(back.plaintext().unwrap().as_ref(), b"inside");
    }
    // AWS's plaintext limits: RSA_2048 with OAEP SHA-256 takes at most 190 bytes.
    assert!(s
        .client
        .encrypt()
        .key_id(&k)
        .encryption_algorithm("RSAES_OAEP_SHA_256".into())
        .plaintext(Blob::new(vec![1; 190]))
        .send()
        .await
        .is_ok());
    assert_eq!(
        error_code(
            s.client
                .encrypt()
                .key_id(&k)
                .encryption_algorithm("RSAES_OAEP_SHA_256".into())
                .plaintext(Blob::new(vec![1; 191]))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            s.client
                .encrypt()
                .key_id(&k)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "InvalidKeyUsageException",
        "RSA keys have no default algorithm"
    );
    // Rotation stays symmetric-only, as at AWS (whose status call answers "disabled").
    assert!(!s
        .client
        .get_key_rotation_status()
        .key_id(&k)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled());
    assert_eq!(
        error_code(s.client.enable_key_rotation().key_id(&k).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(s.client.rotate_key_on_demand().key_id(&k).send().await),
        "UnsupportedOperationException"
    );
}

#[tokio::test]
async fn hmac_keys() {
    let (_dir, s) = started().await;
    let k = key(&s, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let meta = s
        .client
        .describe_key()
        .key_id(&k)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.mac_algorithms(), [MacAlgorithmSpec::HmacSha256]);
    let mac = s
        .client
        .generate_mac()
        .key_id(&k)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"msg".to_vec()))
        .send()
        .await
        .unwrap()
        .mac
        .unwrap();
    assert_eq!(mac.as_ref().len(), 32);
    let ok = s
        .client
        .verify_mac()
        .key_id(&k)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"msg".to_vec()))
        .mac(mac.clone())
        .send()
        .await
        .unwrap();
    assert!(ok.mac_valid());
    assert_eq!(
        error_code(
            s.client
                .verify_mac()
                .key_id(&k)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(b"other".to_vec()))
                .mac(mac)
                .send()
                .await
        ),
        "KMSInvalidMacException"
    );
    assert_eq!(
        error_code(
            s.client
                .generate_mac()
                .key_id(&k)
                .mac_algorithm(MacAlgorithmSpec::HmacSha512)
                .message(Blob::new(b"msg".to_vec()))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        error_code(
            s.client
                .encrypt()
                .key_id(&k)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        error_code(s.client.get_public_key().key_id(&k).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            s.client
                .create_key()
                .key_spec(KeySpec::Hmac256)
                .send()
                .await
        ),
        "ValidationException",
        "HMAC keys need GENERATE_VERIFY_MAC"
    );
    let sym = s
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
                .generate_mac()
                .key_id(&sym)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(b"m".to_vec()))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
}

#[tokio::test]
async fn key_agreement_matches_the_peer() {
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    let (_dir, s) = started().await;
    let k = key(&s, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let ours = p256::PublicKey::from_public_key_der(&public_key(&s, &k).await).unwrap();
    let peer = p256::SecretKey::from_slice(&[0x24; 32]).unwrap();
    let out = s
        .client
        .derive_shared_secret()
        .key_id(&k)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(
            peer.public_key()
                .to_public_key_der()
                .unwrap()
                .as_bytes()
                .to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let expected = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), ours.as_affine());
    assert_eq!(
        out.shared_secret().unwrap().as_ref(),
        &expected.raw_secret_bytes()[..]
    );
    assert_eq!(
        error_code(
            s.client
                .derive_shared_secret()
                .key_id(&k)
                .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                .public_key(Blob::new(b"not a key".to_vec()))
                .send()
                .await
        ),
        "ValidationException"
    );
    let signer = key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(
        error_code(
            s.client
                .derive_shared_secret()
                .key_id(&signer)
                .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                .public_key(Blob::new(
                    peer.public_key()
                        .to_public_key_der()
                        .unwrap()
                        .as_bytes()
                        .to_vec()
                ))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );

    // keyledger's X25519 extension spec, through x25519-dalek.
    let x = key(&s, KeySpec::from("X25519"), KeyUsageType::KeyAgreement).await;
    let ours_spki = public_key(&s, &x).await;
    let ours_raw: [u8; 32] = ours_spki[ours_spki.len() - 32..].try_into().unwrap();
    let peer = x25519_dalek::StaticSecret::from([7u8; 32]);
    let mut peer_spki = hex::decode("302a300506032b656e032100").unwrap();
    peer_spki.extend_from_slice(x25519_dalek::PublicKey::from(&peer).as_bytes());
    let out = s
        .client
        .derive_shared_secret()
        .key_id(&x)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(peer_spki))
        .send()
        .await
        .unwrap();
    let expected = peer.diffie_hellman(&x25519_dalek::PublicKey::from(ours_raw));
    assert_eq!(out.shared_secret().unwrap().as_ref(), expected.as_bytes());
    // Every key spec's creation event matches its schema (X25519 included).
    common::check_schemas(&s.data_dir).await;
}

#[tokio::test]
async fn data_key_pairs() {
    use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
    let (_dir, s) = started().await;
    let k = s
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let pair = s
        .client
        .generate_data_key_pair()
        .key_id(&k)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .encryption_context("purpose", "pair")
        .send()
        .await
        .unwrap();
    let private = pair.private_key_plaintext().unwrap().as_ref().to_vec();
    let secret = p256::SecretKey::from_pkcs8_der(&private).unwrap();
    assert_eq!(
        secret.public_key().to_public_key_der().unwrap().as_bytes(),
        pair.public_key().unwrap().as_ref()
    );
    let opened = s
        .client
        .decrypt()
        .ciphertext_blob(pair.private_key_ciphertext_blob().unwrap().clone())
        .encryption_context("purpose", "pair")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), private.as_slice());

    let without = s
        .client
        .generate_data_key_pair_without_plaintext()
        .key_id(&k)
        .key_pair_spec(DataKeyPairSpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(
        without.public_key().unwrap().as_ref(),
    )
    .unwrap();
    let private = s
        .client
        .decrypt()
        .ciphertext_blob(without.private_key_ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    let private =
        <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(private.as_ref())
            .unwrap();
    assert_eq!(rsa::RsaPublicKey::from(&private), public);

    let ed = s
        .client
        .generate_data_key_pair()
        .key_id(&k)
        .key_pair_spec(DataKeyPairSpec::EccNistEdwards25519)
        .send()
        .await
        .unwrap();
    ed25519_dalek::VerifyingKey::from_public_key_der(ed.public_key().unwrap().as_ref()).unwrap();

    let signer = key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(
        error_code(
            s.client
                .generate_data_key_pair()
                .key_id(&signer)
                .key_pair_spec(DataKeyPairSpec::EccNistP256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        error_code(
            s.client
                .generate_data_key_pair()
                .key_id(&k)
                .key_pair_spec(DataKeyPairSpec::from("RSA_1024"))
                .send()
                .await
        ),
        "ValidationException"
    );
}
