//! The self-describing ciphertext blob of `SYMMETRIC_DEFAULT` keys, in two formats: the
//! first byte says which (decision 0015).
//!
//! Format 1 (standard mode), XChaCha20-Poly1305:
//! ```text
//! 0       1 byte    format (0x01)
//! 1..17   16 bytes  key id (UUID)
//! 17..21  4 bytes   key version, big-endian
//! 21..45  24 bytes  XChaCha20 nonce
//! 45..    ciphertext ‖ 16-byte Poly1305 tag
//! ```
//! AAD = header (bytes 0..45) ‖ canonical encryption context, so the key id,
//! the version and the context are all authenticated.
//!
//! Format 2 (FIPS mode), AES-256-GCM under HKDF-SHA256(salt, material) in AWS-LC's FIPS
//! module, with the IV the module generates:
//! ```text
//! 0       1 byte    format (0x02)
//! 1..17   16 bytes  key id (UUID)
//! 17..21  4 bytes   key version, big-endian
//! 21..53  32 bytes  HKDF salt
//! 53..65  12 bytes  GCM IV
//! 65..    ciphertext ‖ 16-byte GCM tag
//! ```
//! AAD = bytes 0..21 ‖ canonical encryption context; the salt is bound through the key
//! derived from it, and GCM authenticates the IV itself.
//!
//! Encrypt writes the process mode's format. Decrypt reads format 2 in either mode (the
//! code is the same) and format 1 only outside FIPS mode.

use super::aead::{
    decrypt_with_nonce, encrypt_with_nonce, gcm_decrypt, gcm_encrypt, random_nonce, FORMAT_GCM,
    GCM_IV_LEN, INFO_CIPHERTEXT, NONCE_LEN, SALT_LEN, TAG_LEN,
};
use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use crate::domain::ids::KeyId;

pub const FORMAT_V1: u8 = 0x01;
pub const FORMAT_V2: u8 = FORMAT_GCM;
/// Key id and version, after the format byte.
const ID_END: usize = 1 + 16 + 4;
pub const HEADER_LEN: usize = ID_END + NONCE_LEN;
/// Bytes a format 1 blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Format 2: the salt ends here, then the IV.
const SALT_END: usize = ID_END + SALT_LEN;
pub const V2_HEADER_LEN: usize = SALT_END + GCM_IV_LEN;
/// Bytes a format 2 blob adds to its plaintext.
pub const V2_OVERHEAD: usize = V2_HEADER_LEN + TAG_LEN;

/// The largest number of bytes any blob format adds to its plaintext.
pub const MAX_OVERHEAD: usize = V2_OVERHEAD;

/// What a blob says about itself, before anything is decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: KeyId,
    pub version: u32,
}

/// Read a blob's header; any blob that cannot be ours is an opaque error.
pub fn parse_header(blob: &[u8]) -> Result<BlobHeader, CryptoError> {
    let overhead = match blob.first() {
        Some(&FORMAT_V1) if !super::mode::fips() => OVERHEAD,
        Some(&FORMAT_V2) => V2_OVERHEAD,
        _ => return Err(CryptoError),
    };
    if blob.len() < overhead {
        return Err(CryptoError);
    }
    let key_id = KeyId::from_bytes(blob[1..17].try_into().map_err(|_| CryptoError)?);
    let version = u32::from_be_bytes(blob[17..21].try_into().map_err(|_| CryptoError)?);
    Ok(BlobHeader { key_id, version })
}

fn aad(header: &[u8], canonical_context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + canonical_context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(canonical_context);
    aad
}

/// Encrypt `plaintext` under a key version's material, in the process mode's format.
pub fn encrypt(
    material: &SecretKey,
    key_id: &KeyId,
    version: u32,
    canonical_context: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    if super::mode::fips() {
        encrypt_v2(material, key_id, version, canonical_context, plaintext)
    } else {
        encrypt_v1(material, key_id, version, canonical_context, plaintext)
    }
}

/// Format 1 (XChaCha20-Poly1305).
pub fn encrypt_v1(
    material: &SecretKey,
    key_id: &KeyId,
    version: u32,
    canonical_context: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let nonce = random_nonce();
    let mut blob = Vec::with_capacity(OVERHEAD + plaintext.len());
    blob.push(FORMAT_V1);
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(&version.to_be_bytes());
    blob.extend_from_slice(&nonce);
    let sealed = encrypt_with_nonce(material, &nonce, &aad(&blob, canonical_context), plaintext);
    blob.extend_from_slice(&sealed);
    blob
}

/// Format 2 (AES-256-GCM under a per-blob HKDF key).
pub fn encrypt_v2(
    material: &SecretKey,
    key_id: &KeyId,
    version: u32,
    canonical_context: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    // The salt is drawn inside gcm_encrypt, so it is not in the AAD: it is bound because the
    // key is derived from it.
    let mut header = Vec::with_capacity(V2_OVERHEAD + plaintext.len());
    header.push(FORMAT_V2);
    header.extend_from_slice(key_id.as_bytes());
    header.extend_from_slice(&version.to_be_bytes());
    let (salt, iv, sealed) = gcm_encrypt(
        material,
        INFO_CIPHERTEXT,
        &aad(&header, canonical_context),
        plaintext,
    );
    let mut blob = header;
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&sealed);
    blob
}

/// Decrypt a blob whose header the caller has already resolved to `material`.
pub fn decrypt(
    material: &SecretKey,
    blob: &[u8],
    canonical_context: &[u8],
) -> Result<SecretBytes, CryptoError> {
    parse_header(blob)?;
    if blob[0] == FORMAT_V2 {
        let aad = aad(&blob[..ID_END], canonical_context);
        let salt = &blob[ID_END..SALT_END];
        let iv = &blob[SALT_END..V2_HEADER_LEN];
        return gcm_decrypt(
            material,
            INFO_CIPHERTEXT,
            salt,
            iv,
            &aad,
            &blob[V2_HEADER_LEN..],
        );
    }
    let (header, sealed) = blob.split_at(HEADER_LEN);
    let nonce: &[u8; NONCE_LEN] = header[ID_END..HEADER_LEN]
        .try_into()
        .map_err(|_| CryptoError)?;
    decrypt_with_nonce(material, nonce, &aad(header, canonical_context), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_id() -> KeyId {
        KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap()
    }

    type Encrypt = fn(&SecretKey, &KeyId, u32, &[u8], &[u8]) -> Vec<u8>;

    /// Each format, by its encrypt function, format byte and overhead.
    const FORMATS: [(Encrypt, u8, usize); 2] = [
        (encrypt_v1, FORMAT_V1, OVERHEAD),
        (encrypt_v2, FORMAT_V2, V2_OVERHEAD),
    ];

    #[test]
    fn layout_is_as_documented() {
        // Outside FIPS mode `encrypt` writes format 1.
        assert_eq!(
            encrypt(&SecretKey::generate(), &key_id(), 1, b"", b"")[0],
            FORMAT_V1
        );
        for (encrypt, format, overhead) in FORMATS {
            let material = SecretKey::generate();
            let blob = encrypt(&material, &key_id(), 7, b"ctx", b"hello");
            assert_eq!(blob.len(), overhead + 5);
            assert_eq!(blob[0], format);
            assert_eq!(&blob[1..17], key_id().as_bytes());
            assert_eq!(&blob[17..21], &7u32.to_be_bytes());
            assert_eq!(
                parse_header(&blob).unwrap(),
                BlobHeader {
                    key_id: key_id(),
                    version: 7
                }
            );
            assert_eq!(&decrypt(&material, &blob, b"ctx").unwrap()[..], b"hello");
            // Nonce (format 1), salt and IV (format 2) are fresh per blob.
            let again = encrypt(&material, &key_id(), 7, b"ctx", b"hello");
            assert_ne!(blob[21..overhead - TAG_LEN], again[21..overhead - TAG_LEN]);
        }
    }

    #[test]
    fn every_byte_is_authenticated() {
        for (encrypt, format, _) in FORMATS {
            let material = SecretKey::generate();
            let blob = encrypt(&material, &key_id(), 1, b"ctx", b"hello world");
            for i in 0..blob.len() {
                let mut bad = blob.clone();
                bad[i] ^= 0x80;
                assert!(
                    decrypt(&material, &bad, b"ctx").is_err(),
                    "format {format}: flip at byte {i} undetected"
                );
            }
            assert!(decrypt(&material, &blob, b"other ctx").is_err());
            assert!(decrypt(&material, &blob, b"").is_err());
            assert!(decrypt(&SecretKey::generate(), &blob, b"ctx").is_err());
        }
        // Format 1 and 2 derive nothing from each other: relabelling a blob fails.
        let material = SecretKey::generate();
        let mut relabelled = encrypt_v1(&material, &key_id(), 1, b"", &[0u8; 40]);
        relabelled[0] = FORMAT_V2;
        assert!(decrypt(&material, &relabelled, b"").is_err());
    }

    #[test]
    fn short_or_foreign_blobs_are_rejected() {
        assert!(parse_header(&[]).is_err());
        assert!(parse_header(&[FORMAT_V1; OVERHEAD - 1]).is_err());
        assert!(parse_header(&[FORMAT_V2; V2_OVERHEAD - 1]).is_err());
        for format in [0x00, 0x03, 0xff] {
            let mut foreign = vec![0u8; V2_OVERHEAD + 4];
            foreign[0] = format;
            assert!(parse_header(&foreign).is_err(), "format {format:#x}");
        }
    }

    /// A format 2 blob made by hand from its parts (AES-256-GCM in the module, under the
    /// RFC 5869 key of the material and salt) opens: the layout and the AAD are the
    /// documented ones, not merely self-consistent.
    #[test]
    fn format_2_matches_its_specification() {
        use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
        use aws_lc_rs::hkdf;
        let material = SecretKey::from_bytes([0x42; 32]);
        let salt = [0x5a; 32];
        let iv = [0x17; 12];
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(material.expose());
        let okm = prk.expand(&[INFO_CIPHERTEXT], &AES_256_GCM).unwrap();
        let cipher = LessSafeKey::new(UnboundKey::from(okm));
        let mut header = vec![FORMAT_V2];
        header.extend_from_slice(key_id().as_bytes());
        header.extend_from_slice(&3u32.to_be_bytes());
        let mut aad = header.clone();
        aad.extend_from_slice(b"canonical");
        let mut body = b"by the book".to_vec();
        cipher
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(&aad), &mut body)
            .unwrap();
        let mut blob = header;
        blob.extend_from_slice(&salt);
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(&body);
        assert_eq!(
            &decrypt(&material, &blob, b"canonical").unwrap()[..],
            b"by the book"
        );
    }
}
