//! The AEADs that seal key material and ciphertext blobs, one per mode (decision 0015):
//!
//! - standard: XChaCha20-Poly1305 with a random 192-bit nonce per call (no per-key usage
//!   ceiling). Sealed form: `nonce (24) ‖ ciphertext ‖ tag (16)`.
//! - FIPS: AES-256-GCM inside AWS-LC's FIPS module under a per-call key,
//!   HKDF-SHA256(salt = 32 random bytes, the key, info = a purpose label), with the IV the
//!   module generates (`RandomizedNonceKey`, the approved way to use GCM). A fresh key per
//!   call removes GCM's 2^32-invocations-per-key ceiling, as AWS KMS derives one per call.
//!   Sealed form: `0x02 ‖ salt (32) ‖ iv (12) ‖ ciphertext ‖ tag (16)`.
//!
//! [`seal`] and [`open`] use the process's mode: a ledger is wholly one or the other, so a
//! sealed value is never opened in the other mode. Both constructions are compiled and
//! tested in every build.

use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, RandomizedNonceKey, UnboundKey, AES_256_GCM, CHACHA20_POLY1305,
};
use aws_lc_rs::hkdf;
use chacha20::cipher::consts::U10;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// A fresh random nonce, from the thread-local CSPRNG (ChaCha12 seeded and
/// periodically reseeded from the OS): no system call per encryption.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    nonce
}

/// XChaCha20-Poly1305 as draft-irtf-cfrg-xchacha-03 §2.3 builds it: the subkey is
/// HChaCha20(key, nonce[0..16]); the AEAD is ChaCha20-Poly1305 under the subkey
/// with the 96-bit nonce `0x00000000 ‖ nonce[16..24]`.
fn xchacha_key(key: &SecretKey, nonce: &[u8; NONCE_LEN]) -> (LessSafeKey, Nonce) {
    let (prefix, suffix) = nonce.split_at(16);
    let mut subkey = chacha20::hchacha::<U10>(key.expose().into(), prefix.into());
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &subkey)
        .expect("HChaCha20 yields 32 bytes, the ChaCha20-Poly1305 key length");
    subkey.as_mut_slice().zeroize();
    let mut short_nonce = [0u8; 12];
    short_nonce[4..].copy_from_slice(suffix);
    (
        LessSafeKey::new(unbound),
        Nonce::assume_unique_for_key(short_nonce),
    )
}

/// Encrypt `plaintext` under `key` with `nonce`, binding `aad`; returns `ciphertext ‖ tag`.
pub fn encrypt_with_nonce(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let (cipher, nonce) = xchacha_key(key, nonce);
    let mut in_out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    in_out.extend_from_slice(plaintext);
    cipher
        .seal_in_place_append_tag(nonce, Aad::from(aad), &mut in_out)
        // Fails only for messages beyond ChaCha20's 256 GiB, which no caller can pass.
        .expect("ChaCha20-Poly1305 encrypts any message below 256 GiB");
    in_out
}

/// Decrypt `ciphertext ‖ tag`.
pub fn decrypt_with_nonce(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<SecretBytes, CryptoError> {
    let (cipher, nonce) = xchacha_key(key, nonce);
    open_copy(ciphertext, |buffer| {
        cipher
            .open_in_place(nonce, Aad::from(aad), buffer)
            .map(|plaintext| plaintext.len())
    })
}

/// Open `ciphertext ‖ tag` in a zeroized copy with `open` (which answers the plaintext's
/// length), so no plaintext byte outlives the returned value.
fn open_copy(
    ciphertext: &[u8],
    open: impl FnOnce(&mut [u8]) -> Result<usize, aws_lc_rs::error::Unspecified>,
) -> Result<SecretBytes, CryptoError> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = open(&mut buffer).map_err(|_| CryptoError)?;
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// Seal `plaintext` under `key` in the process's mode (see the module documentation).
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    if super::mode::fips() {
        seal_gcm(key, aad, plaintext)
    } else {
        seal_xchacha(key, aad, plaintext)
    }
}

/// Open what [`seal`] produced in the same mode.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
    if super::mode::fips() {
        open_gcm(key, aad, sealed)
    } else {
        open_xchacha(key, aad, sealed)
    }
}

/// The standard sealed form: `nonce ‖ ciphertext ‖ tag`.
pub fn seal_xchacha(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = random_nonce();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&encrypt_with_nonce(key, &nonce, aad, plaintext));
    out
}

/// Open what [`seal_xchacha`] produced.
pub fn open_xchacha(
    key: &SecretKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<SecretBytes, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError)?;
    decrypt_with_nonce(key, nonce, aad, ciphertext)
}

// ---------------------------------------------------------------------------
// AES-256-GCM under a per-call HKDF key (FIPS mode)
// ---------------------------------------------------------------------------

/// The format byte of the FIPS sealed form (and of ciphertext blob format 2).
pub const FORMAT_GCM: u8 = 0x02;
pub const SALT_LEN: usize = 32;
pub const GCM_IV_LEN: usize = 12;
/// HKDF info of sealed values and of ciphertext blobs: a key derived for one never opens
/// the other.
pub const INFO_SEALED: &[u8] = b"keyledger/v2/sealed";
pub const INFO_CIPHERTEXT: &[u8] = b"keyledger/v2/ciphertext-blob";

/// HKDF-SHA256 (RFC 5869) of `key` with `salt` and `info`: 32 bytes, zeroized on drop.
fn hkdf_sha256(key: &[u8], salt: &[u8], info: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(key);
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    prk.expand(&[info], Len32)
        .and_then(|okm| okm.fill(&mut out[..]))
        .expect("HKDF-SHA256 yields 32 bytes, far below its 8160-byte limit");
    out
}

fn gcm_key(key: &SecretKey, salt: &[u8], info: &[u8]) -> RandomizedNonceKey {
    let derived = hkdf_sha256(key.expose(), salt, info);
    RandomizedNonceKey::new(&AES_256_GCM, &derived[..])
        .expect("HKDF yields 32 bytes, the AES-256 key length")
}

/// Encrypt under a fresh key derived from `key`: returns `(salt, iv, ciphertext ‖ tag)`,
/// the IV generated by the module.
pub fn gcm_encrypt(
    key: &SecretKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> ([u8; SALT_LEN], [u8; GCM_IV_LEN], Vec<u8>) {
    let mut salt = [0u8; SALT_LEN];
    super::secret::fill_random(&mut salt);
    let cipher = gcm_key(key, &salt, info);
    let mut in_out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    in_out.extend_from_slice(plaintext);
    let iv = cipher
        .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
        // Fails only for messages beyond GCM's 64 GiB, which no caller can pass.
        .expect("AES-256-GCM encrypts any message below 64 GiB");
    (salt, *iv.as_ref(), in_out)
}

/// Decrypt what [`gcm_encrypt`] produced.
pub fn gcm_decrypt(
    key: &SecretKey,
    info: &[u8],
    salt: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<SecretBytes, CryptoError> {
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError)?;
    let cipher = gcm_key(key, salt, info);
    open_copy(ciphertext, |buffer| {
        cipher
            .open_in_place(nonce, Aad::from(aad), buffer)
            .map(|plaintext| plaintext.len())
    })
}

/// The FIPS sealed form: `0x02 ‖ salt ‖ iv ‖ ciphertext ‖ tag`.
pub fn seal_gcm(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let (salt, iv, sealed) = gcm_encrypt(key, INFO_SEALED, aad, plaintext);
    let mut out = Vec::with_capacity(1 + SALT_LEN + GCM_IV_LEN + sealed.len());
    out.push(FORMAT_GCM);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&sealed);
    out
}

/// Open what [`seal_gcm`] produced.
pub fn open_gcm(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
    const HEADER: usize = 1 + SALT_LEN + GCM_IV_LEN;
    if sealed.len() < HEADER + TAG_LEN || sealed[0] != FORMAT_GCM {
        return Err(CryptoError);
    }
    let salt = &sealed[1..1 + SALT_LEN];
    let iv = &sealed[1 + SALT_LEN..HEADER];
    gcm_decrypt(key, INFO_SEALED, salt, iv, aad, &sealed[HEADER..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305 test vector).
    #[test]
    fn known_answer_xchacha20_poly1305() {
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
        let key = SecretKey::from_slice(
            &hex::decode("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
                .unwrap(),
        )
        .unwrap();
        let nonce: [u8; 24] = hex::decode("404142434445464748494a4b4c4d4e4f5051525354555657")
            .unwrap()
            .try_into()
            .unwrap();
        let expected_ct = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e";
        let expected_tag = "c0875924c1c7987947deafd8780acf49";
        let sealed = encrypt_with_nonce(&key, &nonce, &aad, plaintext);
        assert_eq!(hex::encode(&sealed[..plaintext.len()]), expected_ct);
        assert_eq!(hex::encode(&sealed[plaintext.len()..]), expected_tag);
        assert_eq!(
            &decrypt_with_nonce(&key, &nonce, &aad, &sealed).unwrap()[..],
            &plaintext[..]
        );
    }

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let key = SecretKey::generate();
        let sealed = seal(&key, b"aad", b"secret");
        assert_eq!(&open(&key, b"aad", &sealed).unwrap()[..], b"secret");
        assert!(open(&key, b"other aad", &sealed).is_err());
        assert!(open(&SecretKey::generate(), b"aad", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(open(&key, b"aad", &bad).is_err(), "flip at {i} undetected");
        }
        assert!(open(&key, b"aad", &sealed[..10]).is_err());
    }

    #[test]
    fn matches_rustcrypto_xchacha20_poly1305() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        for len in [0usize, 1, 15, 16, 64, 255, 4096] {
            let key = SecretKey::generate();
            let nonce = random_nonce();
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let reference = chacha20poly1305::XChaCha20Poly1305::new(key.expose().into())
                .encrypt(
                    (&nonce).into(),
                    Payload {
                        msg: &plaintext,
                        aad: b"aad",
                    },
                )
                .unwrap();
            assert_eq!(
                encrypt_with_nonce(&key, &nonce, b"aad", &plaintext),
                reference,
                "len {len}"
            );
        }
    }

    /// RFC 5869 Appendix A.1 (HKDF-SHA256, basic test case), truncated to our 32 bytes.
    #[test]
    fn known_answer_hkdf_sha256() {
        let ikm = [0x0bu8; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        assert_eq!(
            hex::encode(&hkdf_sha256(&ikm, &salt, &info)[..]),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    /// The GCM specification's test case 16 (AES-256, 60-byte plaintext, 20-byte AAD),
    /// opened through the module's randomized-IV key, as [`gcm_decrypt`] opens.
    #[test]
    fn known_answer_aes_256_gcm() {
        let key = hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .unwrap();
        let iv = hex::decode("cafebabefacedbaddecaf888").unwrap();
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").unwrap();
        let plaintext = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
        let sealed = hex::decode(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
             76fc6ece0f4e1768cddf8853bb2d551b",
        )
        .unwrap();
        let cipher = RandomizedNonceKey::new(&AES_256_GCM, &key).unwrap();
        let mut buffer = sealed.clone();
        let opened = cipher
            .open_in_place(
                Nonce::try_assume_unique_for_key(&iv).unwrap(),
                Aad::from(&aad),
                &mut buffer,
            )
            .unwrap();
        assert_eq!(hex::encode(opened), plaintext);
    }

    #[test]
    fn gcm_seal_open_round_trip_and_tamper_detection() {
        let key = SecretKey::generate();
        let sealed = seal_gcm(&key, b"aad", b"secret");
        assert_eq!(sealed[0], FORMAT_GCM);
        assert_eq!(sealed.len(), 1 + SALT_LEN + GCM_IV_LEN + 6 + TAG_LEN);
        assert_eq!(&open_gcm(&key, b"aad", &sealed).unwrap()[..], b"secret");
        assert!(open_gcm(&key, b"other aad", &sealed).is_err());
        assert!(open_gcm(&SecretKey::generate(), b"aad", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                open_gcm(&key, b"aad", &bad).is_err(),
                "flip at {i} undetected"
            );
        }
        assert!(open_gcm(&key, b"aad", &sealed[..40]).is_err());
        // The two forms never open each other.
        assert!(open_xchacha(&key, b"aad", &sealed).is_err());
        assert!(open_gcm(&key, b"aad", &seal_xchacha(&key, b"aad", b"secret")).is_err());
    }

    #[test]
    fn gcm_salts_and_ivs_are_fresh_and_purposes_separate() {
        let key = SecretKey::generate();
        let (salt_a, iv_a, ct_a) = gcm_encrypt(&key, INFO_SEALED, b"", b"x");
        let (salt_b, iv_b, ct_b) = gcm_encrypt(&key, INFO_SEALED, b"", b"x");
        assert_ne!(salt_a, salt_b);
        assert_ne!(iv_a, iv_b);
        assert_ne!(ct_a, ct_b);
        assert!(gcm_decrypt(&key, INFO_CIPHERTEXT, &salt_a, &iv_a, b"", &ct_a).is_err());
        assert_eq!(
            &gcm_decrypt(&key, INFO_SEALED, &salt_a, &iv_a, b"", &ct_a).unwrap()[..],
            b"x"
        );
    }

    #[test]
    fn nonces_are_fresh() {
        let key = SecretKey::generate();
        assert_ne!(seal(&key, b"", b"x"), seal(&key, b"", b"x"));
    }
}
