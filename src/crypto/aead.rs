//! XChaCha20-Poly1305 with a random 192-bit nonce per call (no per-key usage ceiling).
//! Sealed form: `nonce (24) ‖ ciphertext ‖ tag (16)`.

use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
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
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = cipher
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| CryptoError)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// Seal `plaintext` under `key` with a random nonce: `nonce ‖ ciphertext ‖ tag`.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = random_nonce();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&encrypt_with_nonce(key, &nonce, aad, plaintext));
    out
}

/// Open what [`seal`] produced.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError)?;
    decrypt_with_nonce(key, nonce, aad, ciphertext)
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

    #[test]
    fn nonces_are_fresh() {
        let key = SecretKey::generate();
        assert_ne!(seal(&key, b"", b"x"), seal(&key, b"", b"x"));
    }
}
