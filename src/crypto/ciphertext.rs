//! The self-describing ciphertext blob of `SYMMETRIC_DEFAULT` keys.
//!
//! ```text
//! 0       1 byte    format (0x01)
//! 1..17   16 bytes  key id (UUID)
//! 17..21  4 bytes   key version, big-endian
//! 21..45  24 bytes  XChaCha20 nonce
//! 45..    ciphertext ‖ 16-byte Poly1305 tag
//! ```
//! AAD = header (bytes 0..45) ‖ canonical encryption context, so the key id,
//! the version and the context are all authenticated.

use super::aead::{decrypt_with_nonce, encrypt_with_nonce, random_nonce, NONCE_LEN, TAG_LEN};
use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use crate::domain::ids::KeyId;

pub const FORMAT_V1: u8 = 0x01;
pub const HEADER_LEN: usize = 1 + 16 + 4 + NONCE_LEN;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// What a blob says about itself, before anything is decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: KeyId,
    pub version: u32,
}

/// Read a blob's header; any blob that cannot be ours is an opaque error.
pub fn parse_header(blob: &[u8]) -> Result<BlobHeader, CryptoError> {
    if blob.len() < OVERHEAD || blob[0] != FORMAT_V1 {
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

/// Encrypt `plaintext` under a key version's material.
pub fn encrypt(
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

/// Decrypt a blob whose header the caller has already resolved to `material`.
pub fn decrypt(
    material: &SecretKey,
    blob: &[u8],
    canonical_context: &[u8],
) -> Result<SecretBytes, CryptoError> {
    parse_header(blob)?;
    let (header, sealed) = blob.split_at(HEADER_LEN);
    let nonce: &[u8; NONCE_LEN] = header[21..HEADER_LEN].try_into().map_err(|_| CryptoError)?;
    decrypt_with_nonce(material, nonce, &aad(header, canonical_context), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_id() -> KeyId {
        KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap()
    }

    #[test]
    fn layout_is_as_documented() {
        let material = SecretKey::generate();
        let blob = encrypt(&material, &key_id(), 7, b"", b"hello");
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(blob[0], FORMAT_V1);
        assert_eq!(&blob[1..17], key_id().as_bytes());
        assert_eq!(&blob[17..21], &7u32.to_be_bytes());
        assert_eq!(
            parse_header(&blob).unwrap(),
            BlobHeader {
                key_id: key_id(),
                version: 7
            }
        );
        assert_eq!(&decrypt(&material, &blob, b"").unwrap()[..], b"hello");
    }

    #[test]
    fn every_byte_is_authenticated() {
        let material = SecretKey::generate();
        let blob = encrypt(&material, &key_id(), 1, b"ctx", b"hello world");
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x80;
            assert!(
                decrypt(&material, &bad, b"ctx").is_err(),
                "flip at byte {i} undetected"
            );
        }
        assert!(decrypt(&material, &blob, b"other ctx").is_err());
        assert!(decrypt(&material, &blob, b"").is_err());
    }

    #[test]
    fn short_or_foreign_blobs_are_rejected() {
        assert!(parse_header(&[]).is_err());
        assert!(parse_header(&[FORMAT_V1; OVERHEAD - 1]).is_err());
        let mut foreign = vec![0u8; OVERHEAD + 4];
        foreign[0] = 0x02;
        assert!(parse_header(&foreign).is_err());
    }
}
