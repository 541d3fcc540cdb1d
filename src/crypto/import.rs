//! Imported key material (BYOK): the RSA wrapping keys of GetParametersForImport, the
//! unwrapping of ImportKeyMaterial's `EncryptedKeyMaterial`, and what material each key
//! spec takes. All from aws-lc-rs: RSA-OAEP and AES key wrap with padding (RFC 5649).
//!
//! | WrappingAlgorithm | `EncryptedKeyMaterial` |
//! |---|---|
//! | RSAES_OAEP_SHA_1 / _256 | RSA-OAEP (MGF1 with the same hash) of the material |
//! | RSA_AES_KEY_WRAP_SHA_1 / _256 | RSA-OAEP of a fresh 256-bit AES key ‖ AES-KWP of the material under it |
//!
//! RSAES_PKCS1_V1_5 is refused, as AWS refuses it since October 2023.

use super::asymmetric;
use super::secret::SecretBytes;
use super::CryptoError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1,
    OAEP_SHA256_MGF1SHA256,
};
use zeroize::Zeroizing;

/// The model's `AlgorithmSpec` (wrapping algorithms), in its order.
pub const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];

/// The model's `WrappingKeySpec`, in its order.
pub const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];

/// A wrapping algorithm keyledger unwraps with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrapping {
    OaepSha1,
    OaepSha256,
    AesKeyWrapSha1,
    AesKeyWrapSha256,
}

impl Wrapping {
    pub fn parse(name: &str) -> Option<Wrapping> {
        Some(match name {
            "RSAES_OAEP_SHA_1" => Wrapping::OaepSha1,
            "RSAES_OAEP_SHA_256" => Wrapping::OaepSha256,
            "RSA_AES_KEY_WRAP_SHA_1" => Wrapping::AesKeyWrapSha1,
            "RSA_AES_KEY_WRAP_SHA_256" => Wrapping::AesKeyWrapSha256,
            _ => return None,
        })
    }

    /// Its one-byte code in an import token.
    pub fn code(self) -> u8 {
        match self {
            Wrapping::OaepSha1 => 1,
            Wrapping::OaepSha256 => 2,
            Wrapping::AesKeyWrapSha1 => 3,
            Wrapping::AesKeyWrapSha256 => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Wrapping> {
        [
            Wrapping::OaepSha1,
            Wrapping::OaepSha256,
            Wrapping::AesKeyWrapSha1,
            Wrapping::AesKeyWrapSha256,
        ]
        .into_iter()
        .find(|w| w.code() == code)
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Wrapping::OaepSha1 | Wrapping::AesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
            Wrapping::OaepSha256 | Wrapping::AesKeyWrapSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// A fresh RSA wrapping key pair of `bits` (2048, 3072 or 4096): (PKCS#8 DER private key,
/// DER SubjectPublicKeyInfo).
pub fn generate_wrapping_key(bits: u32) -> Result<(SecretBytes, Vec<u8>), CryptoError> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(CryptoError),
    };
    let key = PrivateDecryptingKey::generate(size).map_err(|_| CryptoError)?;
    let private = key.as_der().map_err(|_| CryptoError)?;
    let public = key.public_key().as_der().map_err(|_| CryptoError)?;
    Ok((
        Zeroizing::new(private.as_ref().to_vec()),
        public.as_ref().to_vec(),
    ))
}

/// The key material inside `wrapped`, under the wrapping key `private` (PKCS#8).
pub fn unwrap_material(
    wrapping: Wrapping,
    private: &[u8],
    wrapped: &[u8],
) -> Result<SecretBytes, CryptoError> {
    let key = PrivateDecryptingKey::from_pkcs8(private).map_err(|_| CryptoError)?;
    let modulus = key.key_size_bytes();
    let key = OaepPrivateDecryptingKey::new(key).map_err(|_| CryptoError)?;
    let oaep_open = |ciphertext: &[u8]| -> Result<SecretBytes, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        let len = key
            .decrypt(wrapping.oaep(), ciphertext, &mut out, None)
            .map_err(|_| CryptoError)?
            .len();
        out.truncate(len);
        Ok(out)
    };
    match wrapping {
        Wrapping::OaepSha1 | Wrapping::OaepSha256 => oaep_open(wrapped),
        Wrapping::AesKeyWrapSha1 | Wrapping::AesKeyWrapSha256 => {
            if wrapped.len() <= modulus {
                return Err(CryptoError);
            }
            let (rsa_part, kwp_part) = wrapped.split_at(modulus);
            let aes_key = oaep_open(rsa_part)?;
            if aes_key.len() != 32 {
                return Err(CryptoError);
            }
            let kek = AesKek::new(&AES_256, &aes_key).map_err(|_| CryptoError)?;
            let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
            let len = kek
                .unwrap_with_padding(kwp_part, &mut out)
                .map_err(|_| CryptoError)?
                .len();
            out.truncate(len);
            Ok(out)
        }
    }
}

/// Whether `material` is key material of `spec` as AWS takes it: 32 bytes for
/// SYMMETRIC_DEFAULT; for HMAC keys from the hash's length to its block size; for
/// asymmetric keys a PKCS#8 private key of that spec. `Err` says what is wrong (never the
/// material).
pub fn check_material(spec: &str, material: &[u8]) -> Result<(), String> {
    let hmac_range = match spec {
        "SYMMETRIC_DEFAULT" => Some(32..=32),
        "HMAC_224" => Some(28..=64),
        "HMAC_256" => Some(32..=64),
        "HMAC_384" => Some(48..=128),
        "HMAC_512" => Some(64..=128),
        _ => None,
    };
    match hmac_range {
        Some(range) if range.contains(&material.len()) => Ok(()),
        Some(range) => Err(format!(
            "Key material for a {spec} key must be {} bytes; this is {}.",
            if range.start() == range.end() {
                range.start().to_string()
            } else {
                format!("{} to {}", range.start(), range.end())
            },
            material.len()
        )),
        None => asymmetric::public_key_der(spec, material)
            .map(|_| ())
            .map_err(|_| format!("The key material is not a PKCS#8 private key of a {spec} key.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};

    /// What a client does (the AWS CLI's openssl recipe, in code): wrap `material` under the
    /// public key GetParametersForImport gave.
    fn client_wrap(wrapping: Wrapping, public: &[u8], material: &[u8]) -> Vec<u8> {
        let key =
            OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
        let oaep_seal = |plaintext: &[u8]| {
            let mut out = vec![0u8; key.ciphertext_size()];
            key.encrypt(wrapping.oaep(), plaintext, &mut out, None)
                .unwrap()
                .to_vec()
        };
        match wrapping {
            Wrapping::OaepSha1 | Wrapping::OaepSha256 => oaep_seal(material),
            Wrapping::AesKeyWrapSha1 | Wrapping::AesKeyWrapSha256 => {
                let mut aes_key = [0u8; 32];
                SystemRandom::new().fill(&mut aes_key).unwrap();
                let mut out = oaep_seal(&aes_key);
                let mut wrapped = vec![0u8; material.len() + 16];
                let len = AesKek::new(&AES_256, &aes_key)
                    .unwrap()
                    .wrap_with_padding(material, &mut wrapped)
                    .unwrap()
                    .len();
                out.extend_from_slice(&wrapped[..len]);
                out
            }
        }
    }

    #[test]
    fn every_wrapping_algorithm_round_trips_and_refuses_tampering() {
        let (private, public) = generate_wrapping_key(2048).unwrap();
        let rsa_material = asymmetric::generate_private_key("RSA_2048").unwrap();
        for wrapping in [
            Wrapping::OaepSha1,
            Wrapping::OaepSha256,
            Wrapping::AesKeyWrapSha1,
            Wrapping::AesKeyWrapSha256,
        ] {
            assert_eq!(Wrapping::from_code(wrapping.code()), Some(wrapping));
            let material = [7u8; 32];
            let wrapped = client_wrap(wrapping, &public, &material);
            assert_eq!(
                &unwrap_material(wrapping, &private, &wrapped).unwrap()[..],
                &material
            );
            let mut bad = wrapped.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(unwrap_material(wrapping, &private, &bad).is_err());
            // Under the other hash it does not open.
            let other = match wrapping {
                Wrapping::OaepSha1 => Wrapping::OaepSha256,
                Wrapping::OaepSha256 => Wrapping::OaepSha1,
                Wrapping::AesKeyWrapSha1 => Wrapping::AesKeyWrapSha256,
                Wrapping::AesKeyWrapSha256 => Wrapping::AesKeyWrapSha1,
            };
            assert!(unwrap_material(other, &private, &wrapped).is_err());
        }
        // An RSA private key is too long for OAEP alone: RSA_AES_KEY_WRAP carries it.
        let wrapped = client_wrap(Wrapping::AesKeyWrapSha256, &public, &rsa_material);
        let opened = unwrap_material(Wrapping::AesKeyWrapSha256, &private, &wrapped).unwrap();
        assert_eq!(&opened[..], &rsa_material[..]);
        assert_eq!(check_material("RSA_2048", &opened), Ok(()));
    }

    #[test]
    fn material_must_be_of_the_keys_spec() {
        assert!(check_material("SYMMETRIC_DEFAULT", &[1; 32]).is_ok());
        assert!(check_material("SYMMETRIC_DEFAULT", &[1; 16]).is_err());
        assert!(check_material("HMAC_256", &[1; 31]).is_err());
        assert!(check_material("HMAC_256", &[1; 64]).is_ok());
        assert!(check_material("HMAC_256", &[1; 65]).is_err());
        assert!(check_material("HMAC_512", &[1; 128]).is_ok());
        let p256 = asymmetric::generate_private_key("ECC_NIST_P256").unwrap();
        assert!(check_material("ECC_NIST_P256", &p256).is_ok());
        assert!(check_material("ECC_NIST_P384", &p256).is_err());
        let rsa = asymmetric::generate_private_key("RSA_2048").unwrap();
        assert!(check_material("RSA_3072", &rsa).is_err());
        assert!(check_material("RSA_2048", &[0x30; 40]).is_err());
    }
}
