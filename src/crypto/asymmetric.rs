//! Asymmetric signing and encryption, HMAC, key agreement and data key pairs
//! for the AWS KMS key specs — the pure cryptography only.
//!
//! No I/O and no key storage: callers seal the private material this module
//! returns and hand it back as bytes. Private material is PKCS#8 DER
//! (RFC 5208/5958) for every asymmetric spec but ML-KEM (the raw expanded
//! decapsulation key, below) and the raw key for HMAC specs.
//! Plaintext and private bytes come back in [`SecretBytes`], zeroized on drop.
//!
//! # Which library does what
//!
//! | family | crate | notes |
//! | --- | --- | --- |
//! | RSA PSS / PKCS#1 v1.5 sign and verify, RSAES-OAEP | aws-lc-rs | constant-time AWS-LC; the pure-Rust `rsa` crate is not used (RUSTSEC-2023-0071, Marvin timing attack) |
//! | ECDSA P-256 / P-384 / P-521 | aws-lc-rs | RAW and DIGEST |
//! | Ed25519 (pure) | aws-lc-rs | RAW only, as at KMS |
//! | Ed25519ph | ed25519-dalek | see below |
//! | ECDSA secp256k1 | k256 | AWS-LC has no secp256k1 |
//! | ECDH P-256 / P-384 / P-521 | aws-lc-rs | raw shared x-coordinate |
//! | X25519 | x25519-dalek | keyledger's extension spec |
//! | HMAC-SHA-224/256/384/512 | aws-lc-rs | constant-time verify |
//! | ML-DSA-44/65/87 (FIPS 204), MessageType RAW | aws-lc-rs | pure ML-DSA, empty context |
//! | ML-DSA, MessageType EXTERNAL_MU | RustCrypto `ml-dsa` | see below; refused in FIPS mode |
//! | ML-KEM-512/768/1024 (FIPS 203) | aws-lc-rs | `kem` module |
//!
//! # ML-DSA and ML-KEM material
//!
//! ML-DSA private material is the PKCS#8 v1 seed form aws-lc-rs writes
//! (`PqdsaKeyPair::to_pkcs8v1`, the 32-byte ξ of FIPS 204); the public key is the
//! SubjectPublicKeyInfo with id-ml-dsa-44/65/87 that aws-lc-rs gives.
//! aws-lc-rs 1.19 has no PKCS#8 or SPKI form for ML-KEM: private material is the
//! raw expanded decapsulation key `dk` of FIPS 203 §7.1 (1632/2400/3168 bytes,
//! `DecapsulationKey::key_bytes`), which holds the encapsulation key `ek` at offset
//! 384·k together with H(ek) (checked with SHA3-256 before use). GetPublicKey's DER is
//! the SubjectPublicKeyInfo of draft-ietf-lamps-kyber-certificates (id-alg-ml-kem-512/
//! 768/1024 = 2.16.840.1.101.3.4.4.1/2/3, no parameters, `ek` as the BIT STRING).
//!
//! # ML-DSA with MessageType EXTERNAL_MU
//!
//! AWS KMS signs a caller's 64-byte μ (FIPS 204 §6.2, the message representative
//! SHAKE256(tr ‖ M′)) with MessageType EXTERNAL_MU. aws-lc-rs 1.19 exposes only pure
//! ML-DSA over the message (its docs say external μ is not supported), and reaching
//! AWS-LC's external-μ entry points would need `unsafe` FFI. So EXTERNAL_MU signs with
//! RustCrypto `ml-dsa`'s `sign_mu_deterministic` (the deterministic variant of FIPS 204
//! Algorithm 2, from the same seed) and verifies with its `verify_mu`; RAW stays on
//! aws-lc-rs. Both give signatures that verify either way (the tests check it). In FIPS
//! mode EXTERNAL_MU is refused ([`fips_refusal_for_message_type`]), so `ml-dsa` never
//! sees key bytes there.
//!
//! # MessageType DIGEST and Ed25519ph: why these crates
//!
//! aws-lc-rs (1.19) signs a precomputed digest itself: `RsaKeyPair::sign_digest`,
//! `EcdsaKeyPair::sign_digest` and `UnparsedPublicKey::verify_digest`, fed a
//! `digest::Digest::import_less_safe`. So DIGEST for RSA and NIST ECDSA stays
//! on aws-lc-rs; no second RSA or NIST-curve implementation is linked.
//!
//! aws-lc-rs exposes pure Ed25519 only. AWS-LC's C library does have Ed25519ph,
//! but reaching it through `aws-lc-sys` would need `unsafe` FFI. Ed25519ph
//! (RFC 8032 §5.1, HashEdDSA with an empty context, as KMS's
//! `ED25519_PH_SHA_512`) therefore uses ed25519-dalek's `sign_prehashed` /
//! `verify_prehashed` (the maintained dalek implementation; the tests hold it
//! to the RFC 8032 §7.3 vector). Its API takes a SHA-512 *hasher*, so a digest
//! supplied by the caller (MessageType DIGEST) goes in through
//! `PrecomputedSha512`, a hasher whose output is that digest.
//!
//! secp256k1 uses k256 (RFC 6979 deterministic nonces; signatures come out
//! low-S). Verification accepts high-S signatures too, as KMS and OpenSSL do:
//! k256 itself rejects them, so `s` is normalised first.
//!
//! In FIPS mode (decision 0015) only the aws-lc-rs rows are reachable: secp256k1 and
//! X25519 do not parse and Ed25519ph is not an algorithm, so k256 and the dalek crates
//! never see key bytes ([`fips_refusal_for_spec`] and [`fips_refusal_for_signing`] give the
//! callers' refusal messages).
//!
//! X25519 uses x25519-dalek, as the issue chose (aws-lc-rs has X25519 too, and
//! could take it over to drop a dependency).
//!
//! # Errors
//!
//! Sign/verify/encrypt/MAC/agreement functions return [`InputError`] so the
//! caller can tell a refused request (AWS `ValidationException`,
//! `InvalidKeyUsageException`) from a failed operation. Private material that
//! does not parse, or does not match the spec, is [`InputError::Crypto`].
//! So is an unusable peer public key in [`derive_shared_secret`] (not DER
//! SubjectPublicKeyInfo, another curve, or a low-order X25519 point).
//! `ED25519_SHA_512` with [`MessageType::Digest`] is
//! [`InputError::AlgorithmNotForKey`]: pure Ed25519 has no prehash step.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair as _, VerificationAlgorithm};
use aws_lc_rs::{agreement, digest, hmac, kem, rand as lc_rand, rsa as lc_rsa, signature};
use zeroize::Zeroizing;

use ed25519_dalek::ed25519::signature::digest as dalek_digest;
use k256::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};
// One `pkcs8` crate serves k256 and ed25519-dalek (both RustCrypto pkcs8 0.11).
use k256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};

pub use crate::crypto::CryptoError;

/// Plaintext or private bytes, zeroized on drop. Note that `Zeroizing`'s
/// `Debug` prints the bytes: never `{:?}`-format one.
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// KMS `MessageType`: whether `message` is the message, its digest, or (ML-DSA only) the
/// 64-byte message representative μ of FIPS 204 §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Raw,
    Digest,
    ExternalMu,
}

/// Why a sign/verify (or encrypt, MAC, agreement) input was refused. The
/// caller maps these to AWS `ValidationException`, `InvalidKeyUsageException`
/// and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The algorithm is not one the key spec supports (or the spec has no
    /// such operation, or the algorithm does not take this MessageType).
    #[error("the algorithm is not valid for this key")]
    AlgorithmNotForKey,
    /// A DIGEST message whose length is not the algorithm's hash length.
    #[error("digest is {actual} bytes; the algorithm's hash is {expected} bytes")]
    DigestLengthMismatch { expected: usize, actual: usize },
    /// RSA-OAEP plaintext longer than the key and algorithm allow.
    #[error("message too long for this key and algorithm")]
    MessageTooLong,
    /// A KEM ciphertext whose length is not the key spec's (AWS
    /// `InvalidCiphertextException`); any other ML-KEM ciphertext decapsulates
    /// (implicit rejection, FIPS 203 §6.3).
    #[error("ciphertext is {actual} bytes; the key spec's is {expected} bytes")]
    CiphertextLengthMismatch { expected: usize, actual: usize },
    /// The operation itself failed: unusable key material, bad ciphertext,
    /// unusable peer key. Deliberately says nothing more.
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<CryptoError> for InputError {
    fn from(_: CryptoError) -> Self {
        InputError::Crypto
    }
}

// ---------------------------------------------------------------------------
// Specs and algorithms
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RsaSize {
    R2048,
    R3072,
    R4096,
}

impl RsaSize {
    fn bytes(self) -> usize {
        match self {
            RsaSize::R2048 => 256,
            RsaSize::R3072 => 384,
            RsaSize::R4096 => 512,
        }
    }

    fn key_size(self) -> lc_rsa::KeySize {
        match self {
            RsaSize::R2048 => lc_rsa::KeySize::Rsa2048,
            RsaSize::R3072 => lc_rsa::KeySize::Rsa3072,
            RsaSize::R4096 => lc_rsa::KeySize::Rsa4096,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha224 => 28,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha224 => &digest::SHA224,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Spec {
    Rsa(RsaSize),
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    /// HMAC key spec; the hash also fixes the generated key length.
    Hmac(Hash),
    X25519,
    MlDsa(MlDsaLevel),
    MlKem(MlKemLevel),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MlDsaLevel {
    L44,
    L65,
    L87,
}

impl MlDsaLevel {
    fn signing(self) -> &'static signature::PqdsaSigningAlgorithm {
        match self {
            MlDsaLevel::L44 => &signature::ML_DSA_44_SIGNING,
            MlDsaLevel::L65 => &signature::ML_DSA_65_SIGNING,
            MlDsaLevel::L87 => &signature::ML_DSA_87_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::PqdsaVerificationAlgorithm {
        match self {
            MlDsaLevel::L44 => &signature::ML_DSA_44,
            MlDsaLevel::L65 => &signature::ML_DSA_65,
            MlDsaLevel::L87 => &signature::ML_DSA_87,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MlKemLevel {
    L512,
    L768,
    L1024,
}

impl MlKemLevel {
    fn algorithm(self) -> &'static kem::Algorithm<kem::AlgorithmId> {
        match self {
            MlKemLevel::L512 => &kem::ML_KEM_512,
            MlKemLevel::L768 => &kem::ML_KEM_768,
            MlKemLevel::L1024 => &kem::ML_KEM_1024,
        }
    }

    /// FIPS 203's k (the module rank): 2, 3, 4.
    fn k(self) -> usize {
        match self {
            MlKemLevel::L512 => 2,
            MlKemLevel::L768 => 3,
            MlKemLevel::L1024 => 4,
        }
    }

    /// |dk| of FIPS 203 §8 Table 3: 768·k + 96 (1632, 2400, 3168).
    fn decapsulation_key_len(self) -> usize {
        768 * self.k() + 96
    }

    /// |c| of FIPS 203 §8 Table 3 (768, 1088, 1568).
    fn ciphertext_len(self) -> usize {
        match self {
            MlKemLevel::L512 => 768,
            MlKemLevel::L768 => 1088,
            MlKemLevel::L1024 => 1568,
        }
    }

    /// The last arc of id-alg-ml-kem-512/768/1024 (2.16.840.1.101.3.4.4.x).
    fn oid_arc(self) -> u8 {
        match self {
            MlKemLevel::L512 => 1,
            MlKemLevel::L768 => 2,
            MlKemLevel::L1024 => 3,
        }
    }
}

/// The spec, as this process can use it: in FIPS mode the specs the module has no
/// approved implementation of (secp256k1, X25519) do not parse, so no function of this
/// module touches their key bytes there.
fn parse_spec(spec: &str) -> Option<Spec> {
    let parsed = parse_any_spec(spec)?;
    if super::mode::fips() && matches!(parsed, Spec::Secp256k1 | Spec::X25519) {
        return None;
    }
    Some(parsed)
}

/// In FIPS mode, why a key spec (or KeyPairSpec) is refused: `None` when it is approved, or
/// outside FIPS mode.
pub fn fips_refusal_for_spec(spec: &str) -> Option<String> {
    match parse_any_spec(spec)? {
        Spec::Secp256k1 | Spec::X25519 if super::mode::fips() => {
            Some(super::mode::not_in_fips_mode(&format!("KeySpec {spec}")))
        }
        _ => None,
    }
}

/// In FIPS mode, why a MessageType is refused: EXTERNAL_MU, which aws-lc-rs does not
/// expose (see the module docs).
pub fn fips_refusal_for_message_type(message_type: MessageType) -> Option<String> {
    (super::mode::fips() && message_type == MessageType::ExternalMu)
        .then(|| super::mode::not_in_fips_mode("MessageType EXTERNAL_MU"))
}

/// In FIPS mode, why a signing algorithm is refused (Ed25519ph: the module exposes only
/// pure Ed25519).
pub fn fips_refusal_for_signing(algorithm: &str) -> Option<String> {
    (super::mode::fips() && algorithm == "ED25519_PH_SHA_512")
        .then(|| super::mode::not_in_fips_mode(&format!("SigningAlgorithm {algorithm}")))
}

fn parse_any_spec(spec: &str) -> Option<Spec> {
    Some(match spec {
        "RSA_2048" => Spec::Rsa(RsaSize::R2048),
        "RSA_3072" => Spec::Rsa(RsaSize::R3072),
        "RSA_4096" => Spec::Rsa(RsaSize::R4096),
        "ECC_NIST_P256" => Spec::P256,
        "ECC_NIST_P384" => Spec::P384,
        "ECC_NIST_P521" => Spec::P521,
        "ECC_SECG_P256K1" => Spec::Secp256k1,
        "ECC_NIST_EDWARDS25519" => Spec::Ed25519,
        "HMAC_224" => Spec::Hmac(Hash::Sha224),
        "HMAC_256" => Spec::Hmac(Hash::Sha256),
        "HMAC_384" => Spec::Hmac(Hash::Sha384),
        "HMAC_512" => Spec::Hmac(Hash::Sha512),
        "X25519" => Spec::X25519,
        "ML_DSA_44" => Spec::MlDsa(MlDsaLevel::L44),
        "ML_DSA_65" => Spec::MlDsa(MlDsaLevel::L65),
        "ML_DSA_87" => Spec::MlDsa(MlDsaLevel::L87),
        "ML_KEM_512" => Spec::MlKem(MlKemLevel::L512),
        "ML_KEM_768" => Spec::MlKem(MlKemLevel::L768),
        "ML_KEM_1024" => Spec::MlKem(MlKemLevel::L1024),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SigningAlgorithm {
    RsaPss(Hash),
    RsaPkcs1(Hash),
    Ecdsa(Hash),
    Ed25519,
    Ed25519ph,
    MlDsa,
}

impl SigningAlgorithm {
    fn parse(algorithm: &str) -> Option<SigningAlgorithm> {
        use SigningAlgorithm::*;
        Some(match algorithm {
            "RSASSA_PSS_SHA_256" => RsaPss(Hash::Sha256),
            "RSASSA_PSS_SHA_384" => RsaPss(Hash::Sha384),
            "RSASSA_PSS_SHA_512" => RsaPss(Hash::Sha512),
            "RSASSA_PKCS1_V1_5_SHA_256" => RsaPkcs1(Hash::Sha256),
            "RSASSA_PKCS1_V1_5_SHA_384" => RsaPkcs1(Hash::Sha384),
            "RSASSA_PKCS1_V1_5_SHA_512" => RsaPkcs1(Hash::Sha512),
            "ECDSA_SHA_256" => Ecdsa(Hash::Sha256),
            "ECDSA_SHA_384" => Ecdsa(Hash::Sha384),
            "ECDSA_SHA_512" => Ecdsa(Hash::Sha512),
            "ED25519_SHA_512" => Ed25519,
            "ED25519_PH_SHA_512" if !super::mode::fips() => Ed25519ph,
            "ML_DSA_SHAKE_256" => MlDsa,
            _ => return None,
        })
    }

    /// The hash whose output a DIGEST message must be; `None` where the
    /// algorithm has no prehash step (pure Ed25519).
    fn digest_hash(self) -> Option<Hash> {
        match self {
            SigningAlgorithm::RsaPss(h) | SigningAlgorithm::RsaPkcs1(h) => Some(h),
            SigningAlgorithm::Ecdsa(h) => Some(h),
            SigningAlgorithm::Ed25519 | SigningAlgorithm::MlDsa => None,
            SigningAlgorithm::Ed25519ph => Some(Hash::Sha512),
        }
    }
}

const RSA_SIGNING: &[&str] = &[
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
];

/// The `SigningAlgorithms` KMS lists in `KeyMetadata` for a key spec (empty
/// for specs that cannot sign).
pub fn signing_algorithms(spec: &str) -> &'static [&'static str] {
    match parse_spec(spec) {
        Some(Spec::Rsa(_)) => RSA_SIGNING,
        Some(Spec::P256) | Some(Spec::Secp256k1) => &["ECDSA_SHA_256"],
        Some(Spec::P384) => &["ECDSA_SHA_384"],
        Some(Spec::P521) => &["ECDSA_SHA_512"],
        Some(Spec::Ed25519) if super::mode::fips() => &["ED25519_SHA_512"],
        Some(Spec::Ed25519) => &["ED25519_PH_SHA_512", "ED25519_SHA_512"],
        Some(Spec::MlDsa(_)) => &["ML_DSA_SHAKE_256"],
        _ => &[],
    }
}

/// The message (RAW) or the caller's digest of it (DIGEST), checked.
enum SigningInput<'a> {
    Raw(&'a [u8]),
    /// A digest of exactly the algorithm's hash length.
    Digest(&'a [u8]),
    /// ML-DSA's 64-byte μ.
    ExternalMu(&'a [u8]),
}

impl<'a> SigningInput<'a> {
    /// The SHA digest the algorithm signs: computed for RAW, as given for DIGEST.
    fn digest(&self, hash: Hash) -> Result<digest::Digest, InputError> {
        match self {
            SigningInput::Raw(message) => Ok(digest::digest(hash.digest_algorithm(), message)),
            SigningInput::Digest(given) | SigningInput::ExternalMu(given) => {
                digest::Digest::import_less_safe(given, hash.digest_algorithm()).map_err(|_| {
                    InputError::DigestLengthMismatch {
                        expected: hash.len(),
                        actual: given.len(),
                    }
                })
            }
        }
    }
}

/// Check `algorithm` against `spec` and `message` against the message type.
fn resolve_signing<'a>(
    spec: &str,
    algorithm: &str,
    message: &'a [u8],
    message_type: MessageType,
) -> Result<(Spec, SigningAlgorithm, SigningInput<'a>), InputError> {
    if !signing_algorithms(spec).contains(&algorithm) {
        return Err(InputError::AlgorithmNotForKey);
    }
    let parsed_spec = parse_spec(spec).ok_or(InputError::AlgorithmNotForKey)?;
    let alg = SigningAlgorithm::parse(algorithm).ok_or(InputError::AlgorithmNotForKey)?;
    let input = match message_type {
        MessageType::Raw => SigningInput::Raw(message),
        MessageType::Digest => {
            let hash = alg.digest_hash().ok_or(InputError::AlgorithmNotForKey)?;
            if message.len() != hash.len() {
                return Err(InputError::DigestLengthMismatch {
                    expected: hash.len(),
                    actual: message.len(),
                });
            }
            SigningInput::Digest(message)
        }
        MessageType::ExternalMu => {
            // Outside the module (RustCrypto ml-dsa): never reached in FIPS mode.
            if alg != SigningAlgorithm::MlDsa || super::mode::fips() {
                return Err(InputError::AlgorithmNotForKey);
            }
            if message.len() != ML_DSA_MU_LEN {
                return Err(InputError::DigestLengthMismatch {
                    expected: ML_DSA_MU_LEN,
                    actual: message.len(),
                });
            }
            SigningInput::ExternalMu(message)
        }
    };
    Ok((parsed_spec, alg, input))
}

/// The length of ML-DSA's μ (FIPS 204 §6.2: 512 bits of SHAKE256).
const ML_DSA_MU_LEN: usize = 64;

// ---------------------------------------------------------------------------
// Key generation and public keys
// ---------------------------------------------------------------------------

/// Fresh private material for a key spec: PKCS#8 DER for asymmetric specs,
/// raw key bytes for HMAC specs (28/32/48/64 bytes for HMAC_224/256/384/512).
pub fn generate_private_key(spec: &str) -> Result<SecretBytes, CryptoError> {
    match parse_spec(spec).ok_or(CryptoError)? {
        Spec::Rsa(size) => {
            let key = signature::RsaKeyPair::generate(size.key_size()).map_err(|_| CryptoError)?;
            let der = key.as_der().map_err(|_| CryptoError)?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        Spec::P256 => ecdsa_generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        Spec::P384 => ecdsa_generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        Spec::P521 => ecdsa_generate(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        Spec::Secp256k1 => secp256k1_generate(),
        Spec::Ed25519 => {
            let key = signature::Ed25519KeyPair::generate().map_err(|_| CryptoError)?;
            // PKCS#8 v1 (RFC 8410 §7), the form `openssl genpkey` writes.
            let doc = key.to_pkcs8v1().map_err(|_| CryptoError)?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        Spec::Hmac(hash) => random_secret(hash.len()),
        Spec::X25519 => {
            let seed = random_secret(32)?;
            let mut der = Zeroizing::new(Vec::with_capacity(X25519_PKCS8_PREFIX.len() + 32));
            der.extend_from_slice(&X25519_PKCS8_PREFIX);
            der.extend_from_slice(&seed);
            Ok(der)
        }
        Spec::MlDsa(level) => {
            let key =
                signature::PqdsaKeyPair::generate(level.signing()).map_err(|_| CryptoError)?;
            let doc = key.to_pkcs8v1().map_err(|_| CryptoError)?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        Spec::MlKem(level) => {
            let key =
                kem::DecapsulationKey::generate(level.algorithm()).map_err(|_| CryptoError)?;
            let bytes = key.key_bytes().map_err(|_| CryptoError)?;
            Ok(Zeroizing::new(bytes.as_ref().to_vec()))
        }
    }
}

/// DER SubjectPublicKeyInfo (RFC 5280) of the private key's public half.
pub fn public_key_der(spec: &str, private: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match parse_spec(spec).ok_or(CryptoError)? {
        Spec::Rsa(size) => {
            let key = rsa_key_pair(size, private)?;
            spki(key.public_key().as_der())
        }
        Spec::P256 => ecdsa_public_key(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, private),
        Spec::P384 => ecdsa_public_key(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, private),
        Spec::P521 => ecdsa_public_key(&signature::ECDSA_P521_SHA512_ASN1_SIGNING, private),
        Spec::Secp256k1 => {
            let key = k256::SecretKey::from_pkcs8_der(private).map_err(|_| CryptoError)?;
            let doc = key
                .public_key()
                .to_public_key_der()
                .map_err(|_| CryptoError)?;
            Ok(doc.as_bytes().to_vec())
        }
        Spec::Ed25519 => {
            let key = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(private)
                .map_err(|_| CryptoError)?;
            spki(key.public_key().as_der())
        }
        Spec::X25519 => {
            let secret = x25519_secret(private)?;
            Ok(x25519_spki(
                x25519_dalek::PublicKey::from(&secret).as_bytes(),
            ))
        }
        Spec::MlDsa(level) => {
            let key = ml_dsa_key_pair(level, private)?;
            spki(key.public_key().as_der())
        }
        Spec::MlKem(level) => Ok(ml_kem_spki(
            level,
            ml_kem_encapsulation_key(level, private)?,
        )),
        Spec::Hmac(_) => Err(CryptoError),
    }
}

/// An ML-KEM key pair from a fresh 64-byte seed (d ‖ z of FIPS 203): the private key in the
/// PKCS#8 seed form of RFC 9935 (`[0] seed`, what OpenSSL 3.5 and pyca/cryptography read),
/// the public key as SubjectPublicKeyInfo. (A macro: ml-kem's parameter bounds do not
/// spell out generically.)
macro_rules! ml_kem_data_key_pair {
    ($params:ty) => {{
        use ml_kem::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
        let mut seed = ml_kem::Seed::default();
        lc_rand::fill(&mut seed).map_err(|_| CryptoError)?;
        let key = ml_kem::DecapsulationKey::<$params>::from_seed(seed);
        let private = key.to_pkcs8_der().map_err(|_| CryptoError)?;
        let public = key
            .encapsulation_key()
            .to_public_key_der()
            .map_err(|_| CryptoError)?;
        Ok((
            Zeroizing::new(private.as_bytes().to_vec()),
            public.as_bytes().to_vec(),
        ))
    }};
}

/// GenerateDataKeyPair: a fresh key pair as (PKCS#8 DER private key, DER
/// SubjectPublicKeyInfo). KeyPairSpec RSA_2048/3072/4096, ECC_NIST_P256/P384/
/// P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519 and ML_KEM_512/768/1024 (SM2 is the
/// China Regions').
pub fn generate_data_key_pair(spec: &str) -> Result<(SecretBytes, Vec<u8>), CryptoError> {
    match parse_spec(spec).ok_or(CryptoError)? {
        Spec::Rsa(_) | Spec::P256 | Spec::P384 | Spec::P521 | Spec::Secp256k1 | Spec::Ed25519 => {
            let private = generate_private_key(spec)?;
            let public = public_key_der(spec, &private)?;
            Ok((private, public))
        }
        Spec::MlKem(MlKemLevel::L512) => ml_kem_data_key_pair!(ml_kem::MlKem512),
        Spec::MlKem(MlKemLevel::L768) => ml_kem_data_key_pair!(ml_kem::MlKem768),
        Spec::MlKem(MlKemLevel::L1024) => ml_kem_data_key_pair!(ml_kem::MlKem1024),
        Spec::Hmac(_) | Spec::X25519 | Spec::MlDsa(_) => Err(CryptoError),
    }
}

fn random_secret(len: usize) -> Result<SecretBytes, CryptoError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    lc_rand::fill(&mut bytes).map_err(|_| CryptoError)?;
    Ok(bytes)
}

fn spki<E>(
    der: Result<aws_lc_rs::encoding::PublicKeyX509Der<'static>, E>,
) -> Result<Vec<u8>, CryptoError> {
    der.map(|d| d.as_ref().to_vec()).map_err(|_| CryptoError)
}

fn rsa_key_pair(size: RsaSize, private: &[u8]) -> Result<signature::RsaKeyPair, CryptoError> {
    let key = signature::RsaKeyPair::from_pkcs8(private).map_err(|_| CryptoError)?;
    if key.public_modulus_len() != size.bytes() {
        return Err(CryptoError);
    }
    Ok(key)
}

fn ecdsa_generate(
    alg: &'static signature::EcdsaSigningAlgorithm,
) -> Result<SecretBytes, CryptoError> {
    let doc = signature::EcdsaKeyPair::generate_pkcs8(alg, &lc_rand::SystemRandom::new())
        .map_err(|_| CryptoError)?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

fn ecdsa_public_key(
    alg: &'static signature::EcdsaSigningAlgorithm,
    private: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = signature::EcdsaKeyPair::from_pkcs8(alg, private).map_err(|_| CryptoError)?;
    spki(key.public_key().as_der())
}

fn secp256k1_generate() -> Result<SecretBytes, CryptoError> {
    // A uniformly random 32-byte string is a valid scalar (0 < k < n) except
    // with probability about 2^-128; a few draws make failure impossible in
    // practice without an unbounded loop.
    for _ in 0..8 {
        let candidate = random_secret(32)?;
        if let Ok(key) = k256::SecretKey::from_slice(&candidate) {
            let doc = key.to_pkcs8_der().map_err(|_| CryptoError)?;
            return Ok(Zeroizing::new(doc.as_bytes().to_vec()));
        }
    }
    Err(CryptoError)
}

// RFC 8410 §7 / §4: the DER of OneAsymmetricKey v1 and SubjectPublicKeyInfo for
// id-X25519 (1.3.101.110) are fixed byte strings followed by the 32-byte key.
const X25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];
const X25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
];

fn ml_dsa_key_pair(
    level: MlDsaLevel,
    private: &[u8],
) -> Result<signature::PqdsaKeyPair, CryptoError> {
    signature::PqdsaKeyPair::from_pkcs8(level.signing(), private).map_err(|_| CryptoError)
}

/// The encapsulation key `ek` inside an expanded decapsulation key (FIPS 203 §7.1,
/// Algorithm 16: dk = dk_PKE ‖ ek ‖ H(ek) ‖ z, with |dk_PKE| = 384·k, |ek| = 384·k + 32),
/// after checking the length and H(ek) = SHA3-256(ek) (the decapsulation key check of
/// §7.3).
fn ml_kem_encapsulation_key(level: MlKemLevel, dk: &[u8]) -> Result<&[u8], CryptoError> {
    let k = level.k();
    if dk.len() != level.decapsulation_key_len() {
        return Err(CryptoError);
    }
    let ek = &dk[384 * k..768 * k + 32];
    let hash = &dk[768 * k + 32..768 * k + 64];
    if digest::digest(&digest::SHA3_256, ek).as_ref() != hash {
        return Err(CryptoError);
    }
    Ok(ek)
}

/// SubjectPublicKeyInfo of an ML-KEM encapsulation key (draft-ietf-lamps-kyber-certificates
/// §4): SEQUENCE { SEQUENCE { OID id-alg-ml-kem-* }, BIT STRING (0 unused bits) ek }.
/// Every length here is between 256 and 65535, so each takes the two-byte long form.
fn ml_kem_spki(level: MlKemLevel, ek: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 12] = [
        0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04,
    ];
    let bit_string_len = ek.len() + 1;
    let inner_len = ALGORITHM.len() + 1 + 4 + bit_string_len;
    let mut der = Vec::with_capacity(4 + inner_len);
    der.extend_from_slice(&[0x30, 0x82]);
    der.extend_from_slice(&(inner_len as u16).to_be_bytes());
    der.extend_from_slice(&ALGORITHM);
    der.push(level.oid_arc());
    der.extend_from_slice(&[0x03, 0x82]);
    der.extend_from_slice(&(bit_string_len as u16).to_be_bytes());
    der.push(0x00);
    der.extend_from_slice(ek);
    der
}

fn x25519_secret(private: &[u8]) -> Result<x25519_dalek::StaticSecret, CryptoError> {
    let raw = private
        .strip_prefix(&X25519_PKCS8_PREFIX[..])
        .ok_or(CryptoError)?;
    if raw.len() != 32 {
        return Err(CryptoError);
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(raw);
    Ok(x25519_dalek::StaticSecret::from(*bytes))
}

fn x25519_spki(public: &[u8; 32]) -> Vec<u8> {
    let mut der = Vec::with_capacity(X25519_SPKI_PREFIX.len() + 32);
    der.extend_from_slice(&X25519_SPKI_PREFIX);
    der.extend_from_slice(public);
    der
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// Sign `message` (RAW) or its digest (DIGEST) with the private key.
/// ECDSA signatures are DER `Ecdsa-Sig-Value` (RFC 3279), as KMS returns;
/// RSA-PSS uses MGF1 with the message hash and a salt as long as the hash.
pub fn sign(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    message: &[u8],
    message_type: MessageType,
) -> Result<Vec<u8>, InputError> {
    let (spec, alg, input) = resolve_signing(spec, algorithm, message, message_type)?;
    match (spec, alg) {
        (Spec::Rsa(size), SigningAlgorithm::RsaPss(hash) | SigningAlgorithm::RsaPkcs1(hash)) => {
            let key = rsa_key_pair(size, private)?;
            let encoding = rsa_signing_encoding(alg, hash);
            let mut sig = vec![0u8; key.public_modulus_len()];
            match input {
                SigningInput::Raw(message) => {
                    key.sign(encoding, &lc_rand::SystemRandom::new(), message, &mut sig)
                }
                SigningInput::Digest(_) | SigningInput::ExternalMu(_) => {
                    key.sign_digest(encoding, &input.digest(hash)?, &mut sig)
                }
            }
            .map_err(|_| InputError::Crypto)?;
            Ok(sig)
        }
        (Spec::P256 | Spec::P384 | Spec::P521, SigningAlgorithm::Ecdsa(hash)) => {
            let alg = ecdsa_signing_algorithm(spec).ok_or(InputError::AlgorithmNotForKey)?;
            let key = signature::EcdsaKeyPair::from_pkcs8(alg, private)
                .map_err(|_| InputError::Crypto)?;
            let sig = match input {
                SigningInput::Raw(message) => key.sign(&lc_rand::SystemRandom::new(), message),
                SigningInput::Digest(_) | SigningInput::ExternalMu(_) => {
                    key.sign_digest(&input.digest(hash)?)
                }
            }
            .map_err(|_| InputError::Crypto)?;
            Ok(sig.as_ref().to_vec())
        }
        (Spec::Secp256k1, SigningAlgorithm::Ecdsa(hash)) => {
            let key =
                k256::ecdsa::SigningKey::from_pkcs8_der(private).map_err(|_| InputError::Crypto)?;
            let prehash = input.digest(hash)?;
            let sig: k256::ecdsa::Signature = key
                .sign_prehash(prehash.as_ref())
                .map_err(|_| InputError::Crypto)?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        (Spec::Ed25519, SigningAlgorithm::Ed25519) => {
            let key = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(private)
                .map_err(|_| InputError::Crypto)?;
            let sig = key.try_sign(message).map_err(|_| InputError::Crypto)?;
            Ok(sig.as_ref().to_vec())
        }
        (Spec::Ed25519, SigningAlgorithm::Ed25519ph) => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(private)
                .map_err(|_| InputError::Crypto)?;
            let prehash = PrecomputedSha512::new(&input.digest(Hash::Sha512)?)?;
            let sig = key
                .sign_prehashed(prehash, None)
                .map_err(|_| InputError::Crypto)?;
            Ok(sig.to_bytes().to_vec())
        }
        (Spec::MlDsa(level), SigningAlgorithm::MlDsa) => match input {
            SigningInput::ExternalMu(mu) => ml_dsa_external_mu::sign(level, private, mu),
            _ => {
                let key = ml_dsa_key_pair(level, private)?;
                let mut sig = vec![0u8; level.signing().signature_len()];
                let len = key
                    .sign(message, &mut sig)
                    .map_err(|_| InputError::Crypto)?;
                sig.truncate(len);
                Ok(sig)
            }
        },
        _ => Err(InputError::AlgorithmNotForKey),
    }
}

/// Verify a signature with the private key's public half. `Ok(false)` for a
/// signature that does not verify (including a malformed one).
pub fn verify(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    message: &[u8],
    message_type: MessageType,
    signature: &[u8],
) -> Result<bool, InputError> {
    // Refuse bad requests before touching key material.
    resolve_signing(spec, algorithm, message, message_type)?;
    let public = public_key_der(spec, private)?;
    verify_with_public_key(spec, &public, algorithm, message, message_type, signature)
}

/// [`verify`] against a DER SubjectPublicKeyInfo rather than a private key.
fn verify_with_public_key(
    spec: &str,
    public_spki: &[u8],
    algorithm: &str,
    message: &[u8],
    message_type: MessageType,
    signature: &[u8],
) -> Result<bool, InputError> {
    let (spec, alg, input) = resolve_signing(spec, algorithm, message, message_type)?;
    match (spec, alg) {
        (Spec::Rsa(_), SigningAlgorithm::RsaPss(hash) | SigningAlgorithm::RsaPkcs1(hash)) => {
            let verification = rsa_verification_algorithm(alg, hash);
            Ok(lc_verify(
                verification,
                public_spki,
                &input,
                hash,
                signature,
            )?)
        }
        (Spec::P256 | Spec::P384 | Spec::P521, SigningAlgorithm::Ecdsa(hash)) => {
            let verification: &'static signature::EcdsaVerificationAlgorithm = match spec {
                Spec::P256 => &signature::ECDSA_P256_SHA256_ASN1,
                Spec::P384 => &signature::ECDSA_P384_SHA384_ASN1,
                _ => &signature::ECDSA_P521_SHA512_ASN1,
            };
            Ok(lc_verify(
                verification,
                public_spki,
                &input,
                hash,
                signature,
            )?)
        }
        (Spec::Secp256k1, SigningAlgorithm::Ecdsa(hash)) => {
            let key = k256::ecdsa::VerifyingKey::from_public_key_der(public_spki)
                .map_err(|_| InputError::Crypto)?;
            let prehash = input.digest(hash)?;
            let Ok(sig) = k256::ecdsa::Signature::from_der(signature) else {
                return Ok(false);
            };
            // SEC 1 ECDSA accepts both s and n - s; k256 insists on low-S.
            Ok(key
                .verify_prehash(prehash.as_ref(), &sig.normalize_s())
                .is_ok())
        }
        (Spec::Ed25519, SigningAlgorithm::Ed25519) => {
            let key = signature::UnparsedPublicKey::new(&signature::ED25519, public_spki);
            Ok(key.verify(message, signature).is_ok())
        }
        (Spec::Ed25519, SigningAlgorithm::Ed25519ph) => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(public_spki)
                .map_err(|_| InputError::Crypto)?;
            let prehash = PrecomputedSha512::new(&input.digest(Hash::Sha512)?)?;
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return Ok(false);
            };
            Ok(key.verify_prehashed(prehash, None, &sig).is_ok())
        }
        (Spec::MlDsa(level), SigningAlgorithm::MlDsa) => match input {
            SigningInput::ExternalMu(mu) => {
                ml_dsa_external_mu::verify(level, public_spki, mu, signature)
            }
            _ => {
                let key = signature::UnparsedPublicKey::new(level.verification(), public_spki);
                Ok(key.verify(message, signature).is_ok())
            }
        },
        _ => Err(InputError::AlgorithmNotForKey),
    }
}

fn lc_verify(
    verification: &'static dyn VerificationAlgorithm,
    public_spki: &[u8],
    input: &SigningInput<'_>,
    hash: Hash,
    sig: &[u8],
) -> Result<bool, InputError> {
    let key = signature::UnparsedPublicKey::new(verification, public_spki);
    Ok(match input {
        SigningInput::Raw(message) => key.verify(message, sig).is_ok(),
        SigningInput::Digest(_) | SigningInput::ExternalMu(_) => {
            key.verify_digest(&input.digest(hash)?, sig).is_ok()
        }
    })
}

/// ML-DSA over a caller's μ (MessageType EXTERNAL_MU) with RustCrypto `ml-dsa`: see the
/// module docs for why not aws-lc-rs. The private material is aws-lc-rs's PKCS#8 seed
/// form, which `ml-dsa` reads too.
mod ml_dsa_external_mu {
    use super::{InputError, MlDsaLevel, ML_DSA_MU_LEN};
    use ml_dsa::common::{array::Array, typenum::U64};
    use ml_dsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use ml_dsa::{MlDsa44, MlDsa65, MlDsa87};

    type B64 = Array<u8, U64>;

    fn mu(bytes: &[u8]) -> Result<B64, InputError> {
        B64::try_from(bytes).map_err(|_| InputError::DigestLengthMismatch {
            expected: ML_DSA_MU_LEN,
            actual: bytes.len(),
        })
    }

    macro_rules! per_level {
        ($level:expr, $f:ident, $($arg:expr),*) => {
            match $level {
                MlDsaLevel::L44 => $f::<MlDsa44>($($arg),*),
                MlDsaLevel::L65 => $f::<MlDsa65>($($arg),*),
                MlDsaLevel::L87 => $f::<MlDsa87>($($arg),*),
            }
        };
    }

    pub(super) fn sign(
        level: MlDsaLevel,
        private: &[u8],
        mu: &[u8],
    ) -> Result<Vec<u8>, InputError> {
        let mu = self::mu(mu)?;
        per_level!(level, sign_with, private, &mu)
    }

    pub(super) fn verify(
        level: MlDsaLevel,
        public_spki: &[u8],
        mu: &[u8],
        signature: &[u8],
    ) -> Result<bool, InputError> {
        let mu = self::mu(mu)?;
        per_level!(level, verify_with, public_spki, &mu, signature)
    }

    fn sign_with<P>(private: &[u8], mu: &B64) -> Result<Vec<u8>, InputError>
    where
        P: ml_dsa::MlDsaParams,
        ml_dsa::SigningKey<P>: DecodePrivateKey,
    {
        let key =
            ml_dsa::SigningKey::<P>::from_pkcs8_der(private).map_err(|_| InputError::Crypto)?;
        // FIPS 204 Algorithm 2 with rnd = {0}^32 (its deterministic variant). `ml-dsa`
        // panics only if the rejection loop finds no signature within its bound, which
        // FIPS 204 Appendix C puts far below any practical probability.
        Ok(key
            .expanded_key()
            .sign_mu_deterministic(mu)
            .encode()
            .to_vec())
    }

    fn verify_with<P>(public_spki: &[u8], mu: &B64, signature: &[u8]) -> Result<bool, InputError>
    where
        P: ml_dsa::MlDsaParams,
        ml_dsa::VerifyingKey<P>: DecodePublicKey,
    {
        let key = ml_dsa::VerifyingKey::<P>::from_public_key_der(public_spki)
            .map_err(|_| InputError::Crypto)?;
        let Ok(sig) = ml_dsa::Signature::<P>::try_from(signature) else {
            return Ok(false);
        };
        Ok(key.verify_mu(mu, &sig))
    }
}

fn ecdsa_signing_algorithm(spec: Spec) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match spec {
        Spec::P256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        Spec::P384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        Spec::P521 => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        _ => None,
    }
}

fn rsa_signing_encoding(
    alg: SigningAlgorithm,
    hash: Hash,
) -> &'static signature::RsaSignatureEncoding {
    let pss = matches!(alg, SigningAlgorithm::RsaPss(_));
    match (pss, hash) {
        (true, Hash::Sha384) => &signature::RSA_PSS_SHA384,
        (true, Hash::Sha512) => &signature::RSA_PSS_SHA512,
        (true, _) => &signature::RSA_PSS_SHA256,
        (false, Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
        (false, Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
        (false, _) => &signature::RSA_PKCS1_SHA256,
    }
}

fn rsa_verification_algorithm(
    alg: SigningAlgorithm,
    hash: Hash,
) -> &'static signature::RsaParameters {
    let pss = matches!(alg, SigningAlgorithm::RsaPss(_));
    match (pss, hash) {
        (true, Hash::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (true, Hash::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        (true, _) => &signature::RSA_PSS_2048_8192_SHA256,
        (false, Hash::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (false, Hash::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (false, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
    }
}

/// A SHA-512 digest computed elsewhere, presented as the SHA-512 hasher that
/// ed25519-dalek's prehash API takes: it ignores input and finalizes to the
/// stored digest. dalek only ever finalizes the message hasher it is given
/// (RFC 8032 §5.1.6 step 1: PH(M) is the input); the RFC 8032 §7.3 vector in
/// the tests pins that down.
#[derive(Clone)]
struct PrecomputedSha512([u8; 64]);

/// Required by the `Digest` blanket impl; a fresh one finalizes to zeros and
/// is never what gets signed (the tests would catch it).
impl Default for PrecomputedSha512 {
    fn default() -> Self {
        PrecomputedSha512([0; 64])
    }
}

impl PrecomputedSha512 {
    fn new(digest: &digest::Digest) -> Result<Self, InputError> {
        let bytes: [u8; 64] = digest.as_ref().try_into().map_err(|_| InputError::Crypto)?;
        Ok(PrecomputedSha512(bytes))
    }
}

impl dalek_digest::HashMarker for PrecomputedSha512 {}

impl dalek_digest::OutputSizeUser for PrecomputedSha512 {
    type OutputSize = dalek_digest::consts::U64;
}

impl dalek_digest::Update for PrecomputedSha512 {
    fn update(&mut self, _data: &[u8]) {}
}

impl dalek_digest::FixedOutput for PrecomputedSha512 {
    fn finalize_into(self, out: &mut dalek_digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

// ---------------------------------------------------------------------------
// RSA encryption
// ---------------------------------------------------------------------------

/// The `EncryptionAlgorithms` KMS lists for a key spec (RSA only here;
/// SYMMETRIC_DEFAULT is not this module's).
pub fn encryption_algorithms(spec: &str) -> &'static [&'static str] {
    match parse_spec(spec) {
        Some(Spec::Rsa(_)) => &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
        _ => &[],
    }
}

/// The key size, the OAEP parameters and the OAEP hash length (hLen).
fn resolve_encryption(
    spec: &str,
    algorithm: &str,
) -> Result<(RsaSize, &'static lc_rsa::OaepAlgorithm, usize), InputError> {
    let Some(Spec::Rsa(size)) = parse_spec(spec) else {
        return Err(InputError::AlgorithmNotForKey);
    };
    match algorithm {
        // SHA-1 serves only as OAEP's label hash and MGF1 hash here (RFC 8017
        // §7.1), as at KMS; it signs nothing.
        "RSAES_OAEP_SHA_1" => Ok((size, &lc_rsa::OAEP_SHA1_MGF1SHA1, 20)),
        "RSAES_OAEP_SHA_256" => Ok((size, &lc_rsa::OAEP_SHA256_MGF1SHA256, 32)),
        _ => Err(InputError::AlgorithmNotForKey),
    }
}

/// Largest plaintext KMS's Encrypt takes for an RSA key and OAEP algorithm:
/// k − 2·hLen − 2 (RFC 8017 §7.1.1) — RSA_2048 214/190, RSA_3072 342/318,
/// RSA_4096 470/446 bytes for RSAES_OAEP_SHA_1/RSAES_OAEP_SHA_256.
pub fn rsa_max_plaintext(spec: &str, algorithm: &str) -> Option<usize> {
    let (size, _, hash_len) = resolve_encryption(spec, algorithm).ok()?;
    Some(size.bytes() - 2 * hash_len - 2)
}

/// RSAES-OAEP encryption with the key's public half (MGF1 with the same hash,
/// empty label), as KMS's Encrypt does for RSA keys.
pub fn rsa_encrypt(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, InputError> {
    let (size, oaep, _) = resolve_encryption(spec, algorithm)?;
    let max = rsa_max_plaintext(spec, algorithm).ok_or(InputError::AlgorithmNotForKey)?;
    if plaintext.len() > max {
        return Err(InputError::MessageTooLong);
    }
    let key = rsa_decrypting_key(size, private)?;
    let public =
        lc_rsa::OaepPublicEncryptingKey::new(key.public_key()).map_err(|_| InputError::Crypto)?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let len = public
        .encrypt(oaep, plaintext, &mut out, None)
        .map_err(|_| InputError::Crypto)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// RSAES-OAEP decryption (MGF1 with the same hash, empty label). Every
/// failure — wrong length, bad padding, wrong key — is the same
/// [`InputError::Crypto`].
pub fn rsa_decrypt(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    ciphertext: &[u8],
) -> Result<SecretBytes, InputError> {
    let (size, oaep, _) = resolve_encryption(spec, algorithm)?;
    let key = rsa_decrypting_key(size, private)?;
    if ciphertext.len() != key.key_size_bytes() {
        return Err(InputError::Crypto);
    }
    let key = lc_rsa::OaepPrivateDecryptingKey::new(key).map_err(|_| InputError::Crypto)?;
    let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
    let len = key
        .decrypt(oaep, ciphertext, &mut out, None)
        .map_err(|_| InputError::Crypto)?
        .len();
    out.truncate(len);
    Ok(out)
}

fn rsa_decrypting_key(
    size: RsaSize,
    private: &[u8],
) -> Result<lc_rsa::PrivateDecryptingKey, InputError> {
    let key = lc_rsa::PrivateDecryptingKey::from_pkcs8(private).map_err(|_| InputError::Crypto)?;
    if key.key_size_bytes() != size.bytes() {
        return Err(InputError::Crypto);
    }
    Ok(key)
}

// ---------------------------------------------------------------------------
// HMAC
// ---------------------------------------------------------------------------

/// The `MacAlgorithms` KMS lists for an HMAC key spec: exactly one each.
pub fn mac_algorithms(spec: &str) -> &'static [&'static str] {
    match parse_spec(spec) {
        Some(Spec::Hmac(Hash::Sha224)) => &["HMAC_SHA_224"],
        Some(Spec::Hmac(Hash::Sha256)) => &["HMAC_SHA_256"],
        Some(Spec::Hmac(Hash::Sha384)) => &["HMAC_SHA_384"],
        Some(Spec::Hmac(Hash::Sha512)) => &["HMAC_SHA_512"],
        _ => &[],
    }
}

fn hmac_key(spec: &str, key: &[u8], algorithm: &str) -> Result<hmac::Key, InputError> {
    let alg = match (parse_spec(spec), algorithm) {
        (Some(Spec::Hmac(Hash::Sha224)), "HMAC_SHA_224") => hmac::HMAC_SHA224,
        (Some(Spec::Hmac(Hash::Sha256)), "HMAC_SHA_256") => hmac::HMAC_SHA256,
        (Some(Spec::Hmac(Hash::Sha384)), "HMAC_SHA_384") => hmac::HMAC_SHA384,
        (Some(Spec::Hmac(Hash::Sha512)), "HMAC_SHA_512") => hmac::HMAC_SHA512,
        _ => return Err(InputError::AlgorithmNotForKey),
    };
    // Key length is the key store's business (generated keys are the spec's
    // length; imports are validated on import). An empty key is never one.
    if key.is_empty() {
        return Err(InputError::Crypto);
    }
    Ok(hmac::Key::new(alg, key))
}

/// HMAC (RFC 2104) of `message`.
pub fn generate_mac(
    spec: &str,
    key: &[u8],
    algorithm: &str,
    message: &[u8],
) -> Result<Vec<u8>, InputError> {
    let key = hmac_key(spec, key, algorithm)?;
    Ok(hmac::sign(&key, message).as_ref().to_vec())
}

/// Constant-time check of `mac` against the HMAC of `message`; `Ok(false)`
/// for a wrong (or wrong-length) MAC.
pub fn verify_mac(
    spec: &str,
    key: &[u8],
    algorithm: &str,
    message: &[u8],
    mac: &[u8],
) -> Result<bool, InputError> {
    let key = hmac_key(spec, key, algorithm)?;
    Ok(hmac::verify(&key, message, mac).is_ok())
}

// ---------------------------------------------------------------------------
// Key agreement
// ---------------------------------------------------------------------------

/// The `KeyAgreementAlgorithms` KMS lists for a key spec.
pub fn key_agreement_algorithms(spec: &str) -> &'static [&'static str] {
    match parse_spec(spec) {
        Some(Spec::P256 | Spec::P384 | Spec::P521 | Spec::X25519) => &["ECDH"],
        _ => &[],
    }
}

/// ECDH ("ECDH", as KMS DeriveSharedSecret): the raw shared secret — the
/// x-coordinate for NIST curves (SP 800-56A Rev. 3 §5.7.1.2), the X25519
/// output (RFC 7748 §6.1) for X25519. The peer key is DER
/// SubjectPublicKeyInfo on the key's own curve.
pub fn derive_shared_secret(
    spec: &str,
    private: &[u8],
    peer_public_spki_der: &[u8],
) -> Result<SecretBytes, InputError> {
    match parse_spec(spec) {
        Some(Spec::P256) => nist_ecdh(&agreement::ECDH_P256, private, peer_public_spki_der),
        Some(Spec::P384) => nist_ecdh(&agreement::ECDH_P384, private, peer_public_spki_der),
        Some(Spec::P521) => nist_ecdh(&agreement::ECDH_P521, private, peer_public_spki_der),
        Some(Spec::X25519) => {
            let secret = x25519_secret(private)?;
            let raw = peer_public_spki_der
                .strip_prefix(&X25519_SPKI_PREFIX[..])
                .ok_or(InputError::Crypto)?;
            let peer: [u8; 32] = raw.try_into().map_err(|_| InputError::Crypto)?;
            let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
            // RFC 7748 §6.1: refuse the all-zero output of a low-order point.
            if !shared.was_contributory() {
                return Err(InputError::Crypto);
            }
            Ok(Zeroizing::new(shared.as_bytes().to_vec()))
        }
        _ => Err(InputError::AlgorithmNotForKey),
    }
}

fn nist_ecdh(
    alg: &'static agreement::Algorithm,
    private: &[u8],
    peer_spki: &[u8],
) -> Result<SecretBytes, InputError> {
    let key = agreement::PrivateKey::from_private_key_der(alg, private)
        .map_err(|_| InputError::Crypto)?;
    let peer =
        agreement::ParsedPublicKey::try_from(agreement::UnparsedPublicKey::new(alg, peer_spki))
            .map_err(|_| InputError::Crypto)?;
    // aws-lc-rs also takes bare SEC 1 points; KMS takes SubjectPublicKeyInfo only.
    if peer.format() != agreement::ParsedPublicKeyFormat::X509 {
        return Err(InputError::Crypto);
    }
    agreement::agree(&key, peer, InputError::Crypto, |secret| {
        Ok(Zeroizing::new(secret.to_vec()))
    })
}

// ---------------------------------------------------------------------------
// Key encapsulation (ML-KEM)
// ---------------------------------------------------------------------------

/// The `EncapsulationAlgorithms` KMS lists for a key spec.
pub fn encapsulation_algorithms(spec: &str) -> &'static [&'static str] {
    match parse_spec(spec) {
        Some(Spec::MlKem(_)) => &["ML_KEM"],
        _ => &[],
    }
}

fn ml_kem_level(spec: &str) -> Result<MlKemLevel, InputError> {
    match parse_spec(spec) {
        Some(Spec::MlKem(level)) => Ok(level),
        _ => Err(InputError::AlgorithmNotForKey),
    }
}

/// ML-KEM.Encaps (FIPS 203 Algorithm 20) with the key's encapsulation key: the
/// ciphertext and the 32-byte shared secret, as KMS's Encapsulate returns them.
pub fn encapsulate(spec: &str, private: &[u8]) -> Result<(Vec<u8>, SecretBytes), InputError> {
    let level = ml_kem_level(spec)?;
    let ek = ml_kem_encapsulation_key(level, private)?;
    let key = kem::EncapsulationKey::new(level.algorithm(), ek).map_err(|_| InputError::Crypto)?;
    let (ciphertext, secret) = key.encapsulate().map_err(|_| InputError::Crypto)?;
    Ok((
        ciphertext.as_ref().to_vec(),
        Zeroizing::new(secret.as_ref().to_vec()),
    ))
}

/// ML-KEM.Decaps (FIPS 203 Algorithm 21). A ciphertext of the wrong length is
/// [`InputError::CiphertextLengthMismatch`]; any other gives 32 bytes — the shared secret,
/// or for a ciphertext not made with this key the implicit-rejection value — as KMS does.
pub fn decapsulate(
    spec: &str,
    private: &[u8],
    ciphertext: &[u8],
) -> Result<SecretBytes, InputError> {
    let level = ml_kem_level(spec)?;
    let expected = level.ciphertext_len();
    if ciphertext.len() != expected {
        return Err(InputError::CiphertextLengthMismatch {
            expected,
            actual: ciphertext.len(),
        });
    }
    ml_kem_encapsulation_key(level, private)?;
    let key =
        kem::DecapsulationKey::new(level.algorithm(), private).map_err(|_| InputError::Crypto)?;
    let secret = key
        .decapsulate(kem::Ciphertext::from(ciphertext))
        .map_err(|_| InputError::Crypto)?;
    Ok(Zeroizing::new(secret.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::Pkcs8V1Der;

    fn h(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn sha(alg: &'static digest::Algorithm, m: &[u8]) -> Vec<u8> {
        digest::digest(alg, m).as_ref().to_vec()
    }

    fn flipped(sig: &[u8]) -> Vec<u8> {
        let mut bad = sig.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        bad
    }

    // -----------------------------------------------------------------------
    // Known-answer vectors
    // -----------------------------------------------------------------------

    /// RFC 4231 §4.2 and §4.3 (test cases 1 and 2).
    #[test]
    fn hmac_rfc4231_cases_1_and_2() {
        let cases: [(Vec<u8>, &[u8], [&str; 4]); 2] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
        ];
        let specs = [
            ("HMAC_224", "HMAC_SHA_224"),
            ("HMAC_256", "HMAC_SHA_256"),
            ("HMAC_384", "HMAC_SHA_384"),
            ("HMAC_512", "HMAC_SHA_512"),
        ];
        for (key, data, expected) in &cases {
            for ((spec, alg), want) in specs.iter().zip(expected) {
                let mac = generate_mac(spec, key, alg, data).unwrap();
                assert_eq!(mac, h(want), "{spec}");
                assert_eq!(verify_mac(spec, key, alg, data, &mac), Ok(true));
                assert_eq!(
                    verify_mac(spec, key, alg, data, &flipped(&mac)),
                    Ok(false),
                    "{spec}: wrong MAC"
                );
                assert_eq!(
                    verify_mac(spec, key, alg, data, &mac[..mac.len() - 1]),
                    Ok(false),
                    "{spec}: short MAC"
                );
                assert_eq!(
                    verify_mac(spec, key, alg, b"other", &mac),
                    Ok(false),
                    "{spec}: other message"
                );
            }
        }
    }

    /// PKCS#8 v1 (RFC 8410 §7) of an Ed25519 seed.
    fn ed25519_pkcs8(seed: &[u8]) -> Vec<u8> {
        [h("302e020100300506032b657004220420"), seed.to_vec()].concat()
    }

    /// RFC 8032 §7.1 TEST 1, 2, 3 (pure Ed25519).
    #[test]
    fn ed25519_rfc8032_tests_1_to_3() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];
        for (seed, public, message, expected) in vectors {
            let private = ed25519_pkcs8(&h(seed));
            let spki = public_key_der("ECC_NIST_EDWARDS25519", &private).unwrap();
            assert_eq!(spki, [h("302a300506032b6570032100"), h(public)].concat());
            let sig = sign(
                "ECC_NIST_EDWARDS25519",
                &private,
                "ED25519_SHA_512",
                &h(message),
                MessageType::Raw,
            )
            .unwrap();
            assert_eq!(sig, h(expected));
            let ok = |s: &[u8], m: &[u8]| {
                verify(
                    "ECC_NIST_EDWARDS25519",
                    &private,
                    "ED25519_SHA_512",
                    m,
                    MessageType::Raw,
                    s,
                )
            };
            assert_eq!(ok(&sig, &h(message)), Ok(true));
            assert_eq!(ok(&flipped(&sig), &h(message)), Ok(false));
            assert_eq!(ok(&sig, b"not the message"), Ok(false));
        }
    }

    /// RFC 8032 §7.3 TEST abc (Ed25519ph, empty context), RAW and DIGEST.
    #[test]
    fn ed25519ph_rfc8032_test_abc() {
        let private = ed25519_pkcs8(&h(
            "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        ));
        let spki = public_key_der("ECC_NIST_EDWARDS25519", &private).unwrap();
        assert_eq!(
            spki,
            [
                h("302a300506032b6570032100"),
                h("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
            ]
            .concat()
        );
        let expected = h("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406");
        let spec = "ECC_NIST_EDWARDS25519";
        let alg = "ED25519_PH_SHA_512";
        let digest = sha(&digest::SHA512, b"abc");

        assert_eq!(
            sign(spec, &private, alg, b"abc", MessageType::Raw).unwrap(),
            expected
        );
        assert_eq!(
            sign(spec, &private, alg, &digest, MessageType::Digest).unwrap(),
            expected
        );
        assert_eq!(
            verify(spec, &private, alg, b"abc", MessageType::Raw, &expected),
            Ok(true)
        );
        assert_eq!(
            verify(spec, &private, alg, &digest, MessageType::Digest, &expected),
            Ok(true)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                alg,
                b"abc",
                MessageType::Raw,
                &flipped(&expected)
            ),
            Ok(false)
        );
        assert_eq!(
            verify(spec, &private, alg, b"abd", MessageType::Raw, &expected),
            Ok(false)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                alg,
                b"abc",
                MessageType::Raw,
                &expected[..63]
            ),
            Ok(false)
        );
        // Ed25519ph and pure Ed25519 signatures are not interchangeable.
        assert_eq!(
            verify(
                spec,
                &private,
                "ED25519_SHA_512",
                b"abc",
                MessageType::Raw,
                &expected
            ),
            Ok(false)
        );
        assert_eq!(
            sign(spec, &private, alg, &digest[..32], MessageType::Digest),
            Err(InputError::DigestLengthMismatch {
                expected: 64,
                actual: 32
            })
        );
    }

    /// RFC 7748 §6.1: Alice's and Bob's keys and their shared secret.
    #[test]
    fn x25519_rfc7748_section_6_1() {
        let pkcs8 = |k: &str| [h("302e020100300506032b656e04220420"), h(k)].concat();
        let spki = |k: &str| [h("302a300506032b656e032100"), h(k)].concat();
        let alice = pkcs8("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob = pkcs8("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let alice_pub = spki("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_pub = spki("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

        assert_eq!(public_key_der("X25519", &alice).unwrap(), alice_pub);
        assert_eq!(public_key_der("X25519", &bob).unwrap(), bob_pub);
        assert_eq!(
            *derive_shared_secret("X25519", &alice, &bob_pub).unwrap(),
            shared
        );
        assert_eq!(
            *derive_shared_secret("X25519", &bob, &alice_pub).unwrap(),
            shared
        );
    }

    /// Wycheproof ecdsa_secp256r1_sha256_test.json (testvectors_v1): tcId 1, 3
    /// (group 1) and 5-8, 10 (group 2), checked with RAW and with DIGEST.
    #[test]
    fn ecdsa_p256_wycheproof() {
        let key1 = h("3059301306072a8648ce3d020106082a8648ce3d0301070342000404aaec73635726f213fb8a9e64da3b8632e41495a944d0045b522eba7240fad587d9315798aaa3a5ba01775787ced05eaaf7b4e09fc81d6d1aa546e8365d525d");
        let key2 = h("3059301306072a8648ce3d020106082a8648ce3d030107034200042927b10512bae3eddcfe467828128bad2903269919f7086069c8c4df6c732838c7787964eaac00e5921fb1498a60f4606766b3d9685001558d1a974e7341513e");
        let cases: [(u32, &[u8], &str, &str, bool); 7] = [
            (1, &key1, "", "3045022100b292a619339f6e567a305c951c0dcbcc42d16e47f219f9e98e76e09d8770b34a02200177e60492c5a8242f76f07bfe3661bde59ec2a17ce5bd2dab2abebdf89a62e2", true),
            (3, &key1, "313233343030", "3046022100a8ea150cb80125d7381c4c1f1da8e9de2711f9917060406a73d7904519e51388022100f3ab9fa68bd47973a73b2d40480c2ba50c22c9d76ec217257288293285449b86", true),
            (5, &key2, "313233343030", "304402202ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e1802204cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76", true),
            (6, &key2, "313233343030", "304402202ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e180220b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false),
            (7, &key2, "313233343030", "304502202ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e18022100b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", true),
            (8, &key2, "313233343030", "30814502202ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e18022100b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false),
            (10, &key2, "313233343030", "304602202ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e18022100b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false),
        ];
        for (tc, key, msg, sig, valid) in cases {
            let (msg, sig) = (h(msg), h(sig));
            let raw = verify_with_public_key(
                "ECC_NIST_P256",
                key,
                "ECDSA_SHA_256",
                &msg,
                MessageType::Raw,
                &sig,
            );
            assert_eq!(raw, Ok(valid), "tcId {tc} RAW");
            let dig = verify_with_public_key(
                "ECC_NIST_P256",
                key,
                "ECDSA_SHA_256",
                &sha(&digest::SHA256, &msg),
                MessageType::Digest,
                &sig,
            );
            assert_eq!(dig, Ok(valid), "tcId {tc} DIGEST");
        }
    }

    /// Wycheproof ecdsa_secp256k1_sha256_test.json (testvectors_v1): tcId 1, 3,
    /// 5-8. tcId 1 and 5 have high S: valid ECDSA, which k256 alone rejects.
    #[test]
    fn ecdsa_secp256k1_wycheproof() {
        let key1 = h("3056301006072a8648ce3d020106052b8104000a03420004782c8ed17e3b2a783b5464f33b09652a71c678e05ec51e84e2bcfc663a3de963af9acb4280b8c7f7c42f4ef9aba6245ec1ec1712fd38a0fa96418d8cd6aa6152");
        let key2 = h("3056301006072a8648ce3d020106052b8104000a03420004b838ff44e5bc177bf21189d0766082fc9d843226887fc9760371100b7ee20a6ff0c9d75bfba7b31a6bca1974496eeb56de357071955d83c4b1badaa0b21832e9");
        let cases: [(u32, &[u8], &str, &str, bool); 6] = [
            (1, &key1, "", "3046022100f80ae4f96cdbc9d853f83d47aae225bf407d51c56b7776cd67d0dc195d99a9dc022100b303e26be1f73465315221f0b331528807a1a9b6eb068ede6eebeaaa49af8a36", true),
            (3, &key1, "313233343030", "3045022100d035ee1f17fdb0b2681b163e33c359932659990af77dca632012b30b27a057b302201939d9f3b2858bc13e3474cb50e6a82be44faa71940f876c1cba4c3e989202b6", true),
            (5, &key2, "313233343030", "3046022100813ef79ccefa9a56f7ba805f0e478584fe5f0dd5f567bc09b5123ccbc9832365022100900e75ad233fcc908509dbff5922647db37c21f4afd3203ae8dc4ae7794b0f87", true),
            (6, &key2, "313233343030", "30440220813ef79ccefa9a56f7ba805f0e478584fe5f0dd5f567bc09b5123ccbc983236502206ff18a52dcc0336f7af62400a6dd9b810732baf1ff758000d6f613a556eb31ba", false),
            (7, &key2, "313233343030", "3045022100813ef79ccefa9a56f7ba805f0e478584fe5f0dd5f567bc09b5123ccbc983236502206ff18a52dcc0336f7af62400a6dd9b810732baf1ff758000d6f613a556eb31ba", true),
            (8, &key2, "313233343030", "308145022100813ef79ccefa9a56f7ba805f0e478584fe5f0dd5f567bc09b5123ccbc983236502206ff18a52dcc0336f7af62400a6dd9b810732baf1ff758000d6f613a556eb31ba", false),
        ];
        for (tc, key, msg, sig, valid) in cases {
            let (msg, sig) = (h(msg), h(sig));
            let raw = verify_with_public_key(
                "ECC_SECG_P256K1",
                key,
                "ECDSA_SHA_256",
                &msg,
                MessageType::Raw,
                &sig,
            );
            assert_eq!(raw, Ok(valid), "tcId {tc} RAW");
            let dig = verify_with_public_key(
                "ECC_SECG_P256K1",
                key,
                "ECDSA_SHA_256",
                &sha(&digest::SHA256, &msg),
                MessageType::Digest,
                &sig,
            );
            assert_eq!(dig, Ok(valid), "tcId {tc} DIGEST");
        }
    }

    /// The RSA-2048 key shared by Wycheproof's rsa_pss_2048_sha256_mgf1_32,
    /// rsa_signature_2048_sha256 and rsa_oaep_2048_sha256_mgf1sha256 files
    /// (privateKeyPkcs8 / publicKeyDer).
    const WYCHEPROOF_RSA_PKCS8: &str = "308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100a2b451a07d0aa5f96e455671513550514a8a5b462ebef717094fa1fee82224e637f9746d3f7cafd31878d80325b6ef5a1700f65903b469429e89d6eac8845097b5ab393189db92512ed8a7711a1253facd20f79c15e8247f3d3e42e46e48c98e254a2fe9765313a03eff8f17e1a029397a1fa26a8dce26f490ed81299615d9814c22da610428e09c7d9658594266f5c021d0fceca08d945a12be82de4d1ece6b4c03145b5d3495d4ed5411eb878daf05fd7afc3e09ada0f1126422f590975a1969816f48698bcbba1b4d9cae79d460d8f9f85e7975005d9bc22c4e5ac0f7c1a45d12569a62807d3b9a02e5a530e773066f453d1f5b4c2e9cf7820283f742b9d502030100010282010024cdc62317f5d72a6f6ba6cc9632899b01d1ff28867d72f61688995bc855a4e420a8405250089bdb13cf8e09543827b748b9d27fbb2b4d9e20af8c5a6a862796d1a4cc18ad16ea678bc1bd4a83bbbe9c5e57453b5ce7388e41a3ba4ce2b77b4438a229e954f720dae0353dc088ac8a76b26dc276f8e1b7851ddd6398ad16ff2e78195123b9b036e945c38c9d12434f6df76fe22359eb3e1ac9c011678fc926fad3ae475a4fffff55feb2d147e9c894f4c0e29a599e762462482d968bf42780945fc0d2c31c573c4431b8f4fe8b8c67bec815abd44f7a86edca1c2308737358d2c2ae5e2e0e2dadf730980262377e58b13b7d9992060a0bc870ccfdb4a9319ee102818100dc431050f782e894fb5248247d98cb7d58b8d1e24f3b55d041c56e4de086b0d5bb028bda42eeb5d234d5681e5809d415e6a289ad4cfbf78f978f6c35814f50eebff1c5b80a69f788e81e6bab5ddaa78369d659d143ec6f17e79813a575cfad9c569156b90113e2e9110ad9e7b48a1c9348a6e653321191290ea36cfb3a5b18f102818100bd1a81e7977f9898122273ae3222b598ea5fb19eb4eabc38308a5e32196603b2e500ffb79f5b886816611debc472fac45544070beb057c941378a6868af3b7a03d3f9880ec47d5e089b94fbde542aba9ae8d72c57088d7abf5b131f39098f7bc160f90536abc9492fd4e06f3ed7299d4b97bb03677207d95669f140cfbc20f2502818100a94b528b28f291599121d91952ffd1c7f21d7c1479d99d478885fb161870ee1218bf08472612dbe5497e8d9c650688e09c786961ae3e2c354dc48ae34514759c4c23c4588488961dc06b414e61c0e1e7fbbd2923d31532fe289f96da220711e58c14019808e00414276933bb07e4efb9b4a9b37656917205209f33f09515d7c10281803af0e72a933aef09ff2503df78bafed531c02ff1a2bc437c540cdcbd4ad35435cf511763596543480629b114ca7f780ff7efa32ea0cb6e000d6d9ea1f2ef71fd9cf9948422a165557e37e755edfe70d90b920502eb478bc98a63f788ce3a0f856d6ede7251a383bfa8fa480a81a925af7b3cc538c4bab8c9f7597ffb68011d8d0281802640fbfbcfefb163ee7a87b6483a66ee41f956d90fa8a7939bfc042ee0924b1b7993d0445f758d51933e85179c0320b0c968b48a91c38b5be923e1097c0c562f88d42294b6a2759bafa5428a74f1270874e45f6fcc60f21602de5eccd143cf31241f5921b5ad3983fb54ef17be3b285367e50c999c67247b552fe4bfce945f7b";
    const WYCHEPROOF_RSA_SPKI: &str = "30820122300d06092a864886f70d01010105000382010f003082010a0282010100a2b451a07d0aa5f96e455671513550514a8a5b462ebef717094fa1fee82224e637f9746d3f7cafd31878d80325b6ef5a1700f65903b469429e89d6eac8845097b5ab393189db92512ed8a7711a1253facd20f79c15e8247f3d3e42e46e48c98e254a2fe9765313a03eff8f17e1a029397a1fa26a8dce26f490ed81299615d9814c22da610428e09c7d9658594266f5c021d0fceca08d945a12be82de4d1ece6b4c03145b5d3495d4ed5411eb878daf05fd7afc3e09ada0f1126422f590975a1969816f48698bcbba1b4d9cae79d460d8f9f85e7975005d9bc22c4e5ac0f7c1a45d12569a62807d3b9a02e5a530e773066f453d1f5b4c2e9cf7820283f742b9d50203010001";

    /// Wycheproof rsa_pss_2048_sha256_mgf1_32_test.json tcId 1, 4 (valid),
    /// 80, 99 (invalid) and rsa_signature_2048_sha256_test.json tcId 1, 4
    /// (valid), 9 (invalid, BER), verified through `verify` with the private key.
    #[test]
    fn rsa_signatures_wycheproof() {
        let private = h(WYCHEPROOF_RSA_PKCS8);
        assert_eq!(
            public_key_der("RSA_2048", &private).unwrap(),
            h(WYCHEPROOF_RSA_SPKI)
        );
        let pss: [(u32, &str, String, bool); 4] = [
            (1, "", "4f01e0c12b08625ecac89a69231906edf826380f37c959a96690d046316d68ffce9d5c471694fcebfc6b45534864689256e4fc81c78e583f675d0c94b449647451e81beff01a11a516d5e5ce3f1a910437cb8a3a5096b19fb15f4524a35b23d89cdba12cf5b71aac1047b28c562df7c5542c34ce23a182cf7e0e231934b17294799d44877a1d68ef1b8f073619b7618e6b7c22db20030d98cf591ffc3d4da5f58613ecd5ecfc3b40a1d02f40891ca43695cd4c088b05a8054c89c595a47e274816f35384226f74459ee63e25a1bfc03c360490552ec38343f8ace502f065303b00bc0ec320711b211fde92e57feb9013c3609342495ec0d7cabdec21e54acc38".to_string(), true),
            (4, "313233343030", "68caf07e71ee654ffabf07d342fc4059deb4f7e5970746c423b1e8f668d5332275cc35eb61270aebd27855b1e80d59def47fe8882867fd33c2308c91976baa0b1df952caa78db4828ab81e79949bf145cbdfd1c4987ed036f81e8442081016f20fa4b587574884ca6f6045959ce3501ae7c02b1902ec1d241ef28dee356c0d30d28a950f1fbc683ee7d9aad26b048c13426fe3975d5638afeb5b9c1a99d162d3a5810e8b074d7a2eae2be52b577151f76e1f734b0a956ef4f22be64dc20a81ad1316e4f79dff5fc41fc08a20bc612283a88415d41595bfea66d59de7ac12e230f72244ad9905aef0ead3fa41ed70bf4218863d5f041292f2d14ce0a7271c6d36".to_string(), true),
            (80, "313233343030", "838d0ad34f2393aec53682ed48f937a458a32216a74dcc4a1e591a538119c3b56cad78b1c4b722948373c51c04a50e46fb5f3034f43c5d260364617e6f03af7d75d66baf3dfa1ca94e75e77d304c63ea5015cdd7fb1e1cdfbd6b5ebef2b2addf697f14c97cf9b5cbb1bab7f612b3a428d32cefbb788bdb70729e53d5b8cd14f586aa2b9410bbae2d093bd11f491469479eb640847514d72269cddab484d882aaa9761839aca9851b3d409211de83df742674d6305cc3a71143fa5077bce9d3c8da1f6da0df5c271f048ba589e5c34a23ef12747299d9dc4299589364f2137ace59781e3f01011ae145a5e1af20c74516e0b56d729e49b3de310c197e7a760efa".to_string(), false),
            (99, "313233343030", "00".repeat(256), false),
        ];
        for (tc, msg, sig, valid) in &pss {
            let (msg, sig) = (h(msg), h(sig));
            assert_eq!(
                verify(
                    "RSA_2048",
                    &private,
                    "RSASSA_PSS_SHA_256",
                    &msg,
                    MessageType::Raw,
                    &sig
                ),
                Ok(*valid),
                "PSS tcId {tc} RAW"
            );
            assert_eq!(
                verify(
                    "RSA_2048",
                    &private,
                    "RSASSA_PSS_SHA_256",
                    &sha(&digest::SHA256, &msg),
                    MessageType::Digest,
                    &sig
                ),
                Ok(*valid),
                "PSS tcId {tc} DIGEST"
            );
            // A PSS signature is no PKCS#1 v1.5 signature.
            assert_eq!(
                verify(
                    "RSA_2048",
                    &private,
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    &msg,
                    MessageType::Raw,
                    &sig
                ),
                Ok(false)
            );
        }
        let pkcs1: [(u32, &str, &str, bool); 3] = [
            (1, "", "840f5dac53106dd1f9c57219224cf51289290c42f20466875ba8e830ac5690e541536fcc8ab03b731f82bf66d83f194e7e180b3963ec7a2f3f7904a7ce49aed47da4d4b79421eaf937d301b3e696169297b797c32c076a12be4de0b58e003c5123051a84a10c62f8dac2f42a8640008eb3c7cccd6760ff5b51b689763922582845f048fb8150e5a7a6ca2eccc7bdc85349ad5b26c52137a79fa3fe5c29ab5cd7615013219c1941b6708e9c3c23feff5febaf0c8ebca5750b54e3e6e99a3e876b396f27860b7f3ec4e9191703c6332d944f6f69751167680c79c4f6b57f1cc8755d24b6ec158ccdbacdb23107a33cb6b332516c13274d1f9dccc21dced869e486", true),
            (4, "313233343030", "1758eb94588e6fc4f50c1be1afcaa41027869f304cad513b1fb12c2f446d63cdc05c4830a7e3e630da7b2da4f7867cc173bf6420f9732277282596de41ded32e21d0cc31441174da8765f57419c7764ea758f55bc17646eb100c435d1ac0eed6fc7ba6de5f832094ee2f479979765e05ac9976788db3c241a9e32a0da864f0019a87646ba623d63f4411af5dee1be9ec488c7e3e1b231479de70b9ac5f78a17b1f4120aece45f26c07e7bb345fdfeb05e14bcaacc614672a465fc523624cb19f66f9c6c3f642b832ca44cb25176d679f0e05606c3fed022cac24c2bf960a406d48818e3eb7ed53b0446032469047dfed95fc18088c92d91d93722c47f88163a8", true),
            (9, "313233343030", "8a0e82d4f334aca72a718b6f8f643f69c6048d619d5eba71263a5d2d3ac7a7af133b780c7595ca2c982c006e861948f543cd0210c758691f9626842c25de2843ea314ca8eff285d47e0cffa54180af416004017034962a80a5959c3d3f1bfc154a4824462a93c014f6dfe920824f414a6e30e0e5944d480b99949ec7bf64c4a7461575933b17d7d6b0178b5192392ace3ed8469e8ac1dacae51ad5d3ad73dcb213e056d04596e64d8c0703def3110c7cecc93ba8ac8059f0f3d66b89d8712c62b41d407e4b4a104f4569558b0290c213cad6d0653898b9df8f4a453ab07d13bfb7598d505abbd0c4987e4f1ac66e1a523e113e370ab7cf990f0cc63f50f4f0a4", false),
        ];
        for (tc, msg, sig, valid) in pkcs1 {
            let (msg, sig) = (h(msg), h(sig));
            assert_eq!(
                verify(
                    "RSA_2048",
                    &private,
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    &msg,
                    MessageType::Raw,
                    &sig
                ),
                Ok(valid),
                "PKCS1 tcId {tc} RAW"
            );
            assert_eq!(
                verify(
                    "RSA_2048",
                    &private,
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    &sha(&digest::SHA256, &msg),
                    MessageType::Digest,
                    &sig
                ),
                Ok(valid),
                "PKCS1 tcId {tc} DIGEST"
            );
            // PKCS#1 v1.5 signing is deterministic: a valid vector is reproduced exactly.
            if valid {
                assert_eq!(
                    sign(
                        "RSA_2048",
                        &private,
                        "RSASSA_PKCS1_V1_5_SHA_256",
                        &msg,
                        MessageType::Raw
                    )
                    .unwrap(),
                    sig
                );
            }
        }
    }

    /// Wycheproof rsa_oaep_2048_sha256_mgf1sha256_test.json tcId 1, 4, and
    /// rsa_oaep_2048_sha1_mgf1sha1_test.json tcId 4 (valid) and 8 (made with
    /// label 0000000000000000: KMS uses the empty label, so it must fail).
    #[test]
    fn rsa_oaep_wycheproof() {
        let private = h(WYCHEPROOF_RSA_PKCS8);
        let ok = [
            ("", "6e62bf24d95aff6868afec2a92a445b6458f16f688c19fe1212f66a63137831653cedd359d8cff4dd485d77dfd55812c181373201f54aafd65730d2a304e623455d51125d891e65d97fce52341cae45fb64c38a384a1c621e2713ee6794633f029a9fd4d774f56551eac2176162e162640f25eab873a3451c475570f19228bcede4c67c370a75ed7fabccd538c9819eff182481b10d42f1a9f6a05373b8cf9b71818d467bd3b8ebacb619e8ad42916e600c043effceb3855bc48a629e60ae886f51b2a7876b0e623fb2ce68af4b039242f963adb0e4240aed0ed07f65f1ee7c0cc77d210d0c2d1dc10c81b881aa0c9c9e9499665cf2970d2ccfeeb3191531765"),
            ("313233343030", "0da290b0bf71a1141b2adc62b5b42b07fc52520cb05d1f39ccca7b7c22d379a6c2f2d93143d057050140527a1e5638243938b531ec3de7014b0151301e49b9fa433482a02abdfd94193dc9c70157e557776a69ded01ecbeac405133595c61165a428b6284729a4746b47d2bbaca9d7432c3b5693591cfee488eb3c68ddb6cde0dd61cfc6952423f994abecee34f5683732b29934a2c498ad48cdd30c149177189f48eefd9cc7232df18be11ff5f7e3af7319e3115997c599e2d8f7f4f663dcc40032d403436d3058a5ea66473660f0e195281ec6eba997d2a951ca6ca5f3c112715c89da1d3dfb20a21940594ed10ade90ed7452b753757d7241cb8a803c373a"),
        ];
        for (msg, ct) in ok {
            assert_eq!(
                *rsa_decrypt("RSA_2048", &private, "RSAES_OAEP_SHA_256", &h(ct)).unwrap(),
                h(msg)
            );
            // The same ciphertext under the other OAEP hash is garbage.
            assert_eq!(
                rsa_decrypt("RSA_2048", &private, "RSAES_OAEP_SHA_1", &h(ct)),
                Err(InputError::Crypto)
            );
        }

        let sha1_key = h("308204bc020100300d06092a864886f70d0101010500048204a6308204a20201000282010100bd31c7a02691d2d9587ef6a946ff788544ccadd4b2988ad62086792a6bf96c8616b4ad13317d2270b901d0fcd1d880cb8f52fb87304a5258c11b38dfeae8df670aeee7ea1d0d9df8e00e80847e41e5989ed402d44e78b30fef17b5671d3adbf8685e4dc204499ecd1863e1d5aff28a7cf66eadf31fec9236c120add13451522c647c9832a672cd64d328c1c322183f4661d09bda60b8dd5f0328da5420821424afdabb1a80c5d12763a1b0238cd89d0742bfc50b6a2fcb701d824218f9826f4f78a23a2b5aa42ace7f175376fb6cbdb2bad293ba583d4d31c6b8f9029e46b13689249855f505756e00e225a6a45a18769bd8d2b3a4acb9f1c23d3e51882561e50203010001028201000747d520ca9b2dfc0335cf94301140b8102fb838c92ea99917e354e25709602dc0cdef231ff26ad2dfabbc391e723072a4ef52929f3f1cf0216e44c0093030f8ac29096faef28933bc9b924287014e2e935e2145be4752ccb82cb7646271936979cab73f521eeb27855ac2a410834ae5082eb62ef6f9899ee5cbb624a8d8c04ab7edcf78fe135d0f808f63b5de6e071779bf1d9eaaf8d3ef965486f2c52625e6e57a651c7bbd0197c99c057b3860a3260c864a11b3cf22ba44de3a3b3f3117e64ebf9a91f626ebb3f3c26d1b0bb80753468d4bf6a997b28335f20ed8c384d7558360a9ae9755661fa3749846b174e6bf330e52d09941f6ccd7de5004779f9bb902818100fe3d238d376a3856d9592fd4961c17a7fb0fa39d442e9df22e7eda115c648c5cb738df89ea92d8378558d0d9c1cf3d8bff740d3743a0140a6a7523e9176c2953b2c11d7f44691cf8bec2b34fb59c649535983319488118c03118ae7445e70df466ce98671260f05d5068ce777da97e2ba84779490500ceb4ff7f62ceca9a147f02818100be814af26bf3c27115bc7595d0d12a1af7713feca877ae6e6d858825eda3d192704774f42e1ae1b67f1739e8c45a0476388070fa545b7cc96b8a44003bc8d07fde73f5bcdd18268395dcc2842b5023ff14b352382607b7179a5ea330840fc45045d86e0acc4feb135f0ab9b7ce6b8eb5f5a575f2a2a8de299c0d3f506df4879b02818061bb4cf4572e0cf44ddefc0503a34ef0b31142fb0c9fc2f5bb2be656302732d1dd590e8d6cd0002fefa1c1bf43c28fcd4668ed3fa64e5e05d700aaca4ac7b867455af924d83e73f5a7171f68efce6bd7f3df4b1d5802d069e935acb263c0bb5b8d3db3d64379624cecc12d453fd82cf9495a18649a78c1fd500e3f04715ba3af0281806649dbe920a7a8ceb982108cd9ab857527498aae52a2b86918ab6b381a4a2cbbf94794f78b4de9c5e8a59af56d807c06d23dbcebdca1a6f62ba4f8f03b298f32294a9036d16c2739de1cc3e0ddb4d12f2479487b57882afa246c0e297daf4d94607c5e51b3f4715f5c57d0f26d867901209db02010d0a541284640a9b9f0636302818039ec606f5c9f1f33d964606e128e9e90cff932772c5715aa759816d504efe2c46206f3379aa61d31f88e726b50dd80b8ce8558a0d7408525f58c3399ce32e239d70941f12d21e7761c043e0b02220d25ffd03571c7ae5bbd59c31f48120676f9d7c370a749d8491bdfcea01662a136c85d349b6c710fc6f6ebf8a7a79b62adc3");
        let ct = h("25a918a0c7985a72f18f6b6216d0e2d19a9b42a4d5b680e995c3c5c584966e29c6179877cfd0317f9e4dcdc87f76714994e4407cd868842350e28f328b3f33746a897ea9995575f328be7f9912369482ae1a66ff5b7a1c8ac8fd4e5771e58077b54a55db6c6849ff288d50de0ee1e45bfdf81ffaed16971f19abae660338a3a9240a0b732984fadcd28a85c680f0dac8b73306481a096f700706e91f7c100ce64e1c6bbabd419807dc167f1f924edc6f44a69b75a7c72989b25ce35480433bc456c6afa93a0e9b4156d75863f9440ae442eefd213b8a3f53a065daa8cd0206886d1544c3bfecaf62659cfa591da5e920d7d4370a9aabf7f9983fade101da2dba");
        assert_eq!(
            *rsa_decrypt("RSA_2048", &sha1_key, "RSAES_OAEP_SHA_1", &ct).unwrap(),
            h("313233343030")
        );
        let labelled = h("4d0cb9e23ea2f25cd93f6a4a5b9189156178572214c2bbc773158ed82b83cdfe7ac1e96d662afd46a9225b9e8d1ded274e00048c058d4cb66cccf4eb6c4ebaf30b97e3ff17a21223cded8708524bf75e3dec075833dc953dfd9a1341072f1485c60018f92bd41cedd0510085d818a5cb4df32c447294f4245385e1e5c4627c41450c1dfd22f34f96514aed1565976735e321c266300de6b93dd93e4db4e521b1a269947cb79bccd472cd40e3fd430726723cb97bca50e610bd81daed31fc164c18ef378f68e405ee6d978f97cc042dd266c90b909ba52128824fea7f4496ad56e03fa4aeb528d2fd3d9bfae8295e1a5306b389654b1d7058890b5dbd6770ff5b");
        assert_eq!(
            rsa_decrypt("RSA_2048", &sha1_key, "RSAES_OAEP_SHA_1", &labelled),
            Err(InputError::Crypto)
        );
    }

    /// Wycheproof ecdh_secp256r1_test.json tcId 1 and 4 (shared x = p - 3).
    #[test]
    fn ecdh_p256_wycheproof() {
        let cases = [
            (
                "3059301306072a8648ce3d020106082a8648ce3d0301070342000462d5bd3372af75fe85a040715d0f502428e07046868b0bfdfa61d731afe44f26ac333a93a9e70a81cd5a95b5bf8d13990eb741c8c38872b4a07d275a014e30cf",
                "0612465c89a023ab17855b0a6bcebfd3febb53aef84138647b5352e02c10c346",
                "53020d908b0219328b658b525f26780e3ae12bcd952bb25a93bc0895e1714285",
            ),
            (
                "3059301306072a8648ce3d020106082a8648ce3d03010703420004a1ecc24bf0d0053d23f5fd80ddf1735a1925039dc1176c581a7e795163c8b9ba2cb5a4e4d5109f4527575e3137b83d79a9bcb3faeff90d2aca2bed71bb523e7e",
                "0a0d622a47e48f6bc1038ace438c6f528aa00ad2bd1da5f13ee46bf5f633d71a",
                "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
            ),
        ];
        for (public, private, shared) in cases {
            let key = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &h(private))
                .unwrap();
            let pkcs8: Pkcs8V1Der<'static> = key.as_der().unwrap();
            assert_eq!(
                *derive_shared_secret("ECC_NIST_P256", pkcs8.as_ref(), &h(public)).unwrap(),
                h(shared)
            );
        }
    }

    // -----------------------------------------------------------------------
    // Cross-checks against independent implementations
    // -----------------------------------------------------------------------

    #[test]
    fn ecdsa_nist_signatures_verify_in_rustcrypto() {
        use p256::ecdsa::signature::{hazmat::PrehashVerifier, Verifier};
        use p256::pkcs8::DecodePublicKey;
        let message = b"keyledger asymmetric signing";
        for (spec, alg, hash) in [
            ("ECC_NIST_P256", "ECDSA_SHA_256", &digest::SHA256),
            ("ECC_NIST_P384", "ECDSA_SHA_384", &digest::SHA384),
            ("ECC_NIST_P521", "ECDSA_SHA_512", &digest::SHA512),
        ] {
            let private = generate_private_key(spec).unwrap();
            let spki = public_key_der(spec, &private).unwrap();
            let prehash = sha(hash, message);
            let raw = sign(spec, &private, alg, message, MessageType::Raw).unwrap();
            let dig = sign(spec, &private, alg, &prehash, MessageType::Digest).unwrap();
            for sig in [&raw, &dig] {
                match spec {
                    "ECC_NIST_P256" => {
                        let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
                        let s = p256::ecdsa::Signature::from_der(sig).unwrap();
                        vk.verify(message, &s).unwrap();
                        vk.verify_prehash(&prehash, &s).unwrap();
                    }
                    "ECC_NIST_P384" => {
                        let vk = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
                        let s = p384::ecdsa::Signature::from_der(sig).unwrap();
                        vk.verify(message, &s).unwrap();
                        vk.verify_prehash(&prehash, &s).unwrap();
                    }
                    _ => {
                        let vk = p521::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
                        let s = p521::ecdsa::Signature::from_der(sig).unwrap();
                        vk.verify(message, &s).unwrap();
                        vk.verify_prehash(&prehash, &s).unwrap();
                    }
                }
                assert_eq!(
                    verify(spec, &private, alg, message, MessageType::Raw, sig),
                    Ok(true),
                    "{spec}"
                );
                assert_eq!(
                    verify(spec, &private, alg, &prehash, MessageType::Digest, sig),
                    Ok(true),
                    "{spec}"
                );
                assert_eq!(
                    verify(
                        spec,
                        &private,
                        alg,
                        message,
                        MessageType::Raw,
                        &flipped(sig)
                    ),
                    Ok(false),
                    "{spec}"
                );
                assert_eq!(
                    verify(
                        spec,
                        &private,
                        alg,
                        b"another message",
                        MessageType::Raw,
                        sig
                    ),
                    Ok(false),
                    "{spec}"
                );
            }
        }
    }

    #[test]
    fn secp256k1_sign_and_verify() {
        let spec = "ECC_SECG_P256K1";
        let private = generate_private_key(spec).unwrap();
        let spki = public_key_der(spec, &private).unwrap();
        assert!(
            spki.starts_with(&h("3056301006072a8648ce3d020106052b8104000a034200")),
            "id-ecPublicKey, secp256k1"
        );
        let message = b"secp256k1 message";
        let prehash = sha(&digest::SHA256, message);
        let raw = sign(spec, &private, "ECDSA_SHA_256", message, MessageType::Raw).unwrap();
        let dig = sign(
            spec,
            &private,
            "ECDSA_SHA_256",
            &prehash,
            MessageType::Digest,
        )
        .unwrap();
        // RFC 6979: deterministic, so RAW and DIGEST of the same message agree.
        assert_eq!(raw, dig);
        assert_eq!(
            verify(
                spec,
                &private,
                "ECDSA_SHA_256",
                message,
                MessageType::Raw,
                &raw
            ),
            Ok(true)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                "ECDSA_SHA_256",
                &prehash,
                MessageType::Digest,
                &raw
            ),
            Ok(true)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                "ECDSA_SHA_256",
                message,
                MessageType::Raw,
                &flipped(&raw)
            ),
            Ok(false)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                "ECDSA_SHA_256",
                message,
                MessageType::Raw,
                b"\x30\x00"
            ),
            Ok(false)
        );
        // The high-S twin of our signature verifies too.
        let sig = k256::ecdsa::Signature::from_der(&raw).unwrap();
        let (r, s) = sig.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        assert_ne!(high.to_der().as_bytes(), &raw[..]);
        assert_eq!(
            verify(
                spec,
                &private,
                "ECDSA_SHA_256",
                message,
                MessageType::Raw,
                high.to_der().as_bytes()
            ),
            Ok(true)
        );
    }

    #[test]
    fn ed25519_signatures_verify_in_dalek() {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        let spec = "ECC_NIST_EDWARDS25519";
        let private = generate_private_key(spec).unwrap();
        let spki = public_key_der(spec, &private).unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_public_key_der(&spki).unwrap();
        let message = b"pure Ed25519, signed by aws-lc";
        let sig = sign(spec, &private, "ED25519_SHA_512", message, MessageType::Raw).unwrap();
        vk.verify_strict(
            message,
            &ed25519_dalek::Signature::from_slice(&sig).unwrap(),
        )
        .unwrap();
        // Ed25519ph made by dalek from the same PKCS#8 checks out through aws-lc's public key.
        let ph = sign(
            spec,
            &private,
            "ED25519_PH_SHA_512",
            message,
            MessageType::Raw,
        )
        .unwrap();
        assert_eq!(
            verify(
                spec,
                &private,
                "ED25519_PH_SHA_512",
                message,
                MessageType::Raw,
                &ph
            ),
            Ok(true)
        );
        assert_eq!(
            verify(
                spec,
                &private,
                "ED25519_PH_SHA_512",
                message,
                MessageType::Raw,
                &flipped(&ph)
            ),
            Ok(false)
        );
    }

    /// The `rsa` crate's verification of a KMS signing algorithm (test oracle only).
    fn rsa_crate_verify(
        pk: &rsa::RsaPublicKey,
        alg: &str,
        prehash: &[u8],
        sig: &[u8],
    ) -> rsa::Result<()> {
        use rsa::sha2::{Sha256, Sha384, Sha512};
        match alg {
            "RSASSA_PSS_SHA_256" => pk.verify(rsa::Pss::new::<Sha256>(), prehash, sig),
            "RSASSA_PSS_SHA_384" => pk.verify(rsa::Pss::new::<Sha384>(), prehash, sig),
            "RSASSA_PSS_SHA_512" => pk.verify(rsa::Pss::new::<Sha512>(), prehash, sig),
            "RSASSA_PKCS1_V1_5_SHA_256" => {
                pk.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), prehash, sig)
            }
            "RSASSA_PKCS1_V1_5_SHA_384" => {
                pk.verify(rsa::Pkcs1v15Sign::new::<Sha384>(), prehash, sig)
            }
            "RSASSA_PKCS1_V1_5_SHA_512" => {
                pk.verify(rsa::Pkcs1v15Sign::new::<Sha512>(), prehash, sig)
            }
            other => panic!("not an RSA signing algorithm: {other}"),
        }
    }

    #[test]
    fn rsa_signatures_and_oaep_interoperate_with_rsa_crate() {
        use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
        use rsa::sha2::Sha256;
        let private = h(WYCHEPROOF_RSA_PKCS8);
        let pk =
            rsa::RsaPublicKey::from_public_key_der(&public_key_der("RSA_2048", &private).unwrap())
                .unwrap();
        let message = b"RSA message";
        for alg in RSA_SIGNING {
            let hash = match &alg[alg.len() - 3..] {
                "256" => &digest::SHA256,
                "384" => &digest::SHA384,
                _ => &digest::SHA512,
            };
            let prehash = sha(hash, message);
            let raw = sign("RSA_2048", &private, alg, message, MessageType::Raw).unwrap();
            let dig = sign("RSA_2048", &private, alg, &prehash, MessageType::Digest).unwrap();
            for sig in [&raw, &dig] {
                assert_eq!(sig.len(), 256);
                rsa_crate_verify(&pk, alg, &prehash, sig).unwrap_or_else(|e| panic!("{alg}: {e}"));
                assert_eq!(
                    verify("RSA_2048", &private, alg, message, MessageType::Raw, sig),
                    Ok(true),
                    "{alg}"
                );
                assert_eq!(
                    verify(
                        "RSA_2048",
                        &private,
                        alg,
                        &prehash,
                        MessageType::Digest,
                        sig
                    ),
                    Ok(true),
                    "{alg}"
                );
                assert_eq!(
                    verify(
                        "RSA_2048",
                        &private,
                        alg,
                        message,
                        MessageType::Raw,
                        &flipped(sig)
                    ),
                    Ok(false),
                    "{alg}"
                );
            }
        }

        // OAEP-SHA-256 made by the rsa crate decrypts here, and the other way round.
        let plaintext = b"data key bytes, 32 of them......";
        let ct = pk
            .encrypt(
                &mut rsa::rand_core::OsRng,
                rsa::Oaep::new::<Sha256>(),
                plaintext,
            )
            .unwrap();
        assert_eq!(
            *rsa_decrypt("RSA_2048", &private, "RSAES_OAEP_SHA_256", &ct).unwrap(),
            plaintext
        );
        let ours = rsa_encrypt("RSA_2048", &private, "RSAES_OAEP_SHA_256", plaintext).unwrap();
        let sk = rsa::RsaPrivateKey::from_pkcs8_der(&private).unwrap();
        assert_eq!(
            sk.decrypt(rsa::Oaep::new::<Sha256>(), &ours).unwrap(),
            plaintext
        );
        // SHA-1 OAEP round trip (the KAT above pins its decryption).
        let ours = rsa_encrypt("RSA_2048", &private, "RSAES_OAEP_SHA_1", plaintext).unwrap();
        assert_eq!(
            *rsa_decrypt("RSA_2048", &private, "RSAES_OAEP_SHA_1", &ours).unwrap(),
            plaintext
        );
    }

    #[test]
    fn ecdh_agrees_with_rustcrypto() {
        use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
        // P-256
        let ours = generate_private_key("ECC_NIST_P256").unwrap();
        let ours_pub =
            p256::PublicKey::from_public_key_der(&public_key_der("ECC_NIST_P256", &ours).unwrap())
                .unwrap();
        let theirs = p256::SecretKey::from_slice(&[0x42; 32]).unwrap();
        let theirs_spki = theirs.public_key().to_public_key_der().unwrap();
        let expected = p256::ecdh::diffie_hellman(theirs.to_nonzero_scalar(), ours_pub.as_affine());
        let got = derive_shared_secret("ECC_NIST_P256", &ours, theirs_spki.as_bytes()).unwrap();
        assert_eq!(&got[..], &expected.raw_secret_bytes()[..]);
        // P-384
        let ours = generate_private_key("ECC_NIST_P384").unwrap();
        let ours_pub =
            p384::PublicKey::from_public_key_der(&public_key_der("ECC_NIST_P384", &ours).unwrap())
                .unwrap();
        let theirs = p384::SecretKey::from_slice(&[0x42; 48]).unwrap();
        let theirs_spki = theirs.public_key().to_public_key_der().unwrap();
        let expected = p384::ecdh::diffie_hellman(theirs.to_nonzero_scalar(), ours_pub.as_affine());
        let got = derive_shared_secret("ECC_NIST_P384", &ours, theirs_spki.as_bytes()).unwrap();
        assert_eq!(&got[..], &expected.raw_secret_bytes()[..]);
        // P-521
        let ours = generate_private_key("ECC_NIST_P521").unwrap();
        let ours_pub =
            p521::PublicKey::from_public_key_der(&public_key_der("ECC_NIST_P521", &ours).unwrap())
                .unwrap();
        let mut scalar = [0x42; 66];
        scalar[0] = 0;
        let theirs = p521::SecretKey::from_slice(&scalar).unwrap();
        let theirs_spki = theirs.public_key().to_public_key_der().unwrap();
        let expected = p521::ecdh::diffie_hellman(theirs.to_nonzero_scalar(), ours_pub.as_affine());
        let got = derive_shared_secret("ECC_NIST_P521", &ours, theirs_spki.as_bytes()).unwrap();
        assert_eq!(got.len(), 66);
        assert_eq!(&got[..], &expected.raw_secret_bytes()[..]);
    }

    #[test]
    fn x25519_agrees_with_aws_lc() {
        let ours = generate_private_key("X25519").unwrap();
        let ours_spki = public_key_der("X25519", &ours).unwrap();
        let theirs = agreement::PrivateKey::generate(&agreement::X25519).unwrap();
        let theirs_spki = theirs.compute_public_key().unwrap().as_der().unwrap();
        let got = derive_shared_secret("X25519", &ours, theirs_spki.as_ref()).unwrap();
        let expected = agreement::agree(
            &theirs,
            agreement::UnparsedPublicKey::new(&agreement::X25519, &ours_spki[12..]),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        assert_eq!(*got, expected);
    }

    // -----------------------------------------------------------------------
    // Refusals and failures
    // -----------------------------------------------------------------------

    // -----------------------------------------------------------------------
    // ML-DSA (FIPS 204) and ML-KEM (FIPS 203)
    // -----------------------------------------------------------------------

    fn vector(json: &str) -> serde_json::Value {
        serde_json::from_str(json).unwrap()
    }

    const ML_DSA_SPECS: [&str; 3] = ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"];
    const ML_KEM_SPECS: [&str; 3] = ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"];

    /// Wycheproof ML-DSA-44 verify tcId 1: the public key, message and signature verify
    /// (RAW), and a changed signature or message does not.
    #[test]
    fn ml_dsa_44_wycheproof_verify() {
        let v = vector(include_str!(
            "../../tests/vectors/mldsa_44_verify_wycheproof_tc1.json"
        ));
        let spki = h(v["publicKeyDer"].as_str().unwrap());
        let msg = h(v["msg"].as_str().unwrap());
        let sig = h(v["sig"].as_str().unwrap());
        let ok = |m: &[u8], s: &[u8]| {
            verify_with_public_key(
                "ML_DSA_44",
                &spki,
                "ML_DSA_SHAKE_256",
                m,
                MessageType::Raw,
                s,
            )
        };
        assert_eq!(ok(&msg, &sig), Ok(true));
        assert_eq!(ok(&msg, &flipped(&sig)), Ok(false));
        assert_eq!(ok(b"Hello world!", &sig), Ok(false));
        assert_eq!(ok(&msg, &sig[..sig.len() - 1]), Ok(false));
        // The same signature over its μ (EXTERNAL_MU), computed by RustCrypto from the key.
        let key = ml_dsa::VerifyingKey::<ml_dsa::MlDsa44>::from_public_key_der(&spki).unwrap();
        let mu = key
            .compute_mu(
                |shake| {
                    ml_dsa::signature::digest::Update::update(shake, &msg);
                    Ok(())
                },
                b"",
            )
            .unwrap();
        assert_eq!(
            verify_with_public_key(
                "ML_DSA_44",
                &spki,
                "ML_DSA_SHAKE_256",
                &mu,
                MessageType::ExternalMu,
                &sig
            ),
            Ok(true)
        );
    }

    /// Wycheproof ML-KEM-512 tcId 2: the decapsulation key expanded from the seed (by
    /// RustCrypto `ml-kem`) decapsulates the ciphertext to the expected shared secret, and
    /// our SubjectPublicKeyInfo carries the vector's encapsulation key.
    #[test]
    #[allow(deprecated)]
    fn ml_kem_512_wycheproof_decapsulate() {
        use ml_kem::ExpandedKeyEncoding as _;
        let v = vector(include_str!(
            "../../tests/vectors/mlkem_512_wycheproof_tc2.json"
        ));
        let seed: [u8; 64] = h(v["seed"].as_str().unwrap()).try_into().unwrap();
        let dk = ml_kem::DecapsulationKey::<ml_kem::MlKem512>::from_seed(seed.into());
        let expanded = dk.to_expanded_bytes().to_vec();
        assert_eq!(expanded.len(), 1632);
        let c = h(v["c"].as_str().unwrap());
        let k = h(v["K"].as_str().unwrap());
        assert_eq!(*decapsulate("ML_KEM_512", &expanded, &c).unwrap(), k);
        let spki = public_key_der("ML_KEM_512", &expanded).unwrap();
        assert_eq!(spki.len(), 822);
        let ek_prefix = h(v["ekPrefix"].as_str().unwrap());
        assert_eq!(&spki[22..38], &ek_prefix[..]);
        // Implicit rejection: a changed ciphertext gives some other 32 bytes, not an error.
        let other = decapsulate("ML_KEM_512", &expanded, &flipped(&c)).unwrap();
        assert_eq!(other.len(), 32);
        assert_ne!(*other, k);
        // A changed H(ek) in the stored key is refused.
        let mut bad = expanded.clone();
        bad[768 + 800] ^= 1;
        assert_eq!(decapsulate("ML_KEM_512", &bad, &c), Err(InputError::Crypto));
    }

    #[test]
    fn ml_dsa_signatures_verify_in_rustcrypto_and_external_mu_matches_raw() {
        use ml_dsa::pkcs8::DecodePublicKey as _;
        fn rustcrypto_verifies<P>(spki: &[u8], msg: &[u8], sig: &[u8]) -> bool
        where
            P: ml_dsa::MlDsaParams,
            ml_dsa::VerifyingKey<P>: ml_dsa::pkcs8::DecodePublicKey,
        {
            let key = ml_dsa::VerifyingKey::<P>::from_public_key_der(spki).unwrap();
            let Ok(sig) = ml_dsa::Signature::<P>::try_from(sig) else {
                return false;
            };
            key.verify_with_context(msg, b"", &sig)
        }
        fn mu_of<P>(spki: &[u8], msg: &[u8]) -> Vec<u8>
        where
            P: ml_dsa::MlDsaParams,
            ml_dsa::VerifyingKey<P>: ml_dsa::pkcs8::DecodePublicKey,
        {
            let key = ml_dsa::VerifyingKey::<P>::from_public_key_der(spki).unwrap();
            key.compute_mu(
                |shake| {
                    ml_dsa::signature::digest::Update::update(shake, msg);
                    Ok(())
                },
                b"",
            )
            .unwrap()
            .to_vec()
        }
        type Verifier = fn(&[u8], &[u8], &[u8]) -> bool;
        let alg = "ML_DSA_SHAKE_256";
        let msg = b"keyledger post-quantum";
        for (spec, sig_len) in ML_DSA_SPECS.iter().zip([2420, 3309, 4627]) {
            let private = generate_private_key(spec).unwrap();
            let spki = public_key_der(spec, &private).unwrap();
            let (verifies, mu): (Verifier, Vec<u8>) = match *spec {
                "ML_DSA_44" => (
                    rustcrypto_verifies::<ml_dsa::MlDsa44>,
                    mu_of::<ml_dsa::MlDsa44>(&spki, msg),
                ),
                "ML_DSA_65" => (
                    rustcrypto_verifies::<ml_dsa::MlDsa65>,
                    mu_of::<ml_dsa::MlDsa65>(&spki, msg),
                ),
                _ => (
                    rustcrypto_verifies::<ml_dsa::MlDsa87>,
                    mu_of::<ml_dsa::MlDsa87>(&spki, msg),
                ),
            };
            let raw = sign(spec, &private, alg, msg, MessageType::Raw).unwrap();
            assert_eq!(raw.len(), sig_len, "{spec}");
            assert!(
                verifies(&spki, msg, &raw),
                "{spec}: RustCrypto verifies ours"
            );
            assert!(!verifies(&spki, b"other", &raw), "{spec}");
            assert!(!verifies(&spki, msg, &flipped(&raw)), "{spec}");
            let external = sign(spec, &private, alg, &mu, MessageType::ExternalMu).unwrap();
            assert!(
                verifies(&spki, msg, &external),
                "{spec}: μ signs the message"
            );
            for sig in [&raw, &external] {
                assert_eq!(
                    verify(spec, &private, alg, msg, MessageType::Raw, sig),
                    Ok(true)
                );
                assert_eq!(
                    verify(spec, &private, alg, &mu, MessageType::ExternalMu, sig),
                    Ok(true)
                );
                assert_eq!(
                    verify(spec, &private, alg, b"other", MessageType::Raw, sig),
                    Ok(false)
                );
                assert_eq!(
                    verify(spec, &private, alg, msg, MessageType::Raw, &flipped(sig)),
                    Ok(false)
                );
            }
            assert_eq!(
                sign(spec, &private, alg, &mu[..32], MessageType::ExternalMu),
                Err(InputError::DigestLengthMismatch {
                    expected: 64,
                    actual: 32
                })
            );
            assert_eq!(
                sign(spec, &private, alg, &mu, MessageType::Digest),
                Err(InputError::AlgorithmNotForKey)
            );
            assert_eq!(signing_algorithms(spec), &["ML_DSA_SHAKE_256"]);
        }
        // EXTERNAL_MU is ML-DSA's only.
        let p256 = generate_private_key("ECC_NIST_P256").unwrap();
        assert_eq!(
            sign(
                "ECC_NIST_P256",
                &p256,
                "ECDSA_SHA_256",
                &[0; 64],
                MessageType::ExternalMu
            ),
            Err(InputError::AlgorithmNotForKey)
        );
    }

    #[test]
    fn ml_kem_encapsulations_interoperate_with_rustcrypto() {
        use ml_kem::pkcs8::DecodePublicKey as _;
        for (spec, (dk_len, ct_len)) in
            ML_KEM_SPECS
                .iter()
                .zip([(1632, 768), (2400, 1088), (3168, 1568)])
        {
            let private = generate_private_key(spec).unwrap();
            assert_eq!(private.len(), dk_len, "{spec}");
            let spki = public_key_der(spec, &private).unwrap();
            // An encapsulation by RustCrypto against our public key decapsulates here.
            let m = [7u8; 32];
            let (ct, shared) = match *spec {
                "ML_KEM_512" => {
                    let ek =
                        ml_kem::EncapsulationKey::<ml_kem::MlKem512>::from_public_key_der(&spki)
                            .unwrap();
                    let (c, k) = ek.encapsulate_deterministic(&m.into());
                    (c.to_vec(), k.to_vec())
                }
                "ML_KEM_768" => {
                    let ek =
                        ml_kem::EncapsulationKey::<ml_kem::MlKem768>::from_public_key_der(&spki)
                            .unwrap();
                    let (c, k) = ek.encapsulate_deterministic(&m.into());
                    (c.to_vec(), k.to_vec())
                }
                _ => {
                    let ek =
                        ml_kem::EncapsulationKey::<ml_kem::MlKem1024>::from_public_key_der(&spki)
                            .unwrap();
                    let (c, k) = ek.encapsulate_deterministic(&m.into());
                    (c.to_vec(), k.to_vec())
                }
            };
            assert_eq!(ct.len(), ct_len, "{spec}");
            assert_eq!(*decapsulate(spec, &private, &ct).unwrap(), shared, "{spec}");
            // Our own encapsulation round-trips, and each is fresh.
            let (ct1, s1) = encapsulate(spec, &private).unwrap();
            let (ct2, s2) = encapsulate(spec, &private).unwrap();
            assert_eq!(ct1.len(), ct_len);
            assert_eq!(s1.len(), 32);
            assert_ne!(ct1, ct2);
            assert_ne!(*s1, *s2);
            assert_eq!(*decapsulate(spec, &private, &ct1).unwrap(), *s1);
            assert_eq!(
                decapsulate(spec, &private, &ct1[1..]),
                Err(InputError::CiphertextLengthMismatch {
                    expected: ct_len,
                    actual: ct_len - 1
                })
            );
            assert_eq!(encapsulation_algorithms(spec), &["ML_KEM"]);
            assert!(signing_algorithms(spec).is_empty());
        }
        // Another spec's key is not an ML-KEM key, and the lengths must match the spec.
        let p256 = generate_private_key("ECC_NIST_P256").unwrap();
        assert_eq!(
            encapsulate("ECC_NIST_P256", &p256).map(|_| ()),
            Err(InputError::AlgorithmNotForKey)
        );
        let k768 = generate_private_key("ML_KEM_768").unwrap();
        assert_eq!(
            encapsulate("ML_KEM_512", &k768).map(|_| ()),
            Err(InputError::Crypto)
        );
        // A data key pair's public key is the SubjectPublicKeyInfo GetPublicKey gives an
        // ML-KEM key of the same spec (same header, then the encapsulation key).
        let (private, public) = generate_data_key_pair("ML_KEM_768").unwrap();
        let kms_key = public_key_der("ML_KEM_768", &k768).unwrap();
        assert_eq!(public.len(), kms_key.len());
        assert_eq!(public[..22], kms_key[..22]);
        assert_eq!(private.len(), 86, "PKCS#8 with the 64-byte seed only");
        assert_ne!(generate_data_key_pair("ML_KEM_768").unwrap().1, public);
    }

    #[test]
    fn digest_of_wrong_length_is_refused() {
        let p256 = generate_private_key("ECC_NIST_P256").unwrap();
        let k1 = generate_private_key("ECC_SECG_P256K1").unwrap();
        let rsa = h(WYCHEPROOF_RSA_PKCS8);
        let d48 = [7u8; 48];
        let mismatch =
            |expected, actual| Some(InputError::DigestLengthMismatch { expected, actual });
        assert_eq!(
            sign(
                "ECC_NIST_P256",
                &p256,
                "ECDSA_SHA_256",
                &d48,
                MessageType::Digest
            )
            .err(),
            mismatch(32, 48)
        );
        assert_eq!(
            verify(
                "ECC_NIST_P256",
                &p256,
                "ECDSA_SHA_256",
                &d48,
                MessageType::Digest,
                &[0x30]
            )
            .err(),
            mismatch(32, 48)
        );
        assert_eq!(
            sign(
                "ECC_SECG_P256K1",
                &k1,
                "ECDSA_SHA_256",
                &d48[..31],
                MessageType::Digest
            )
            .err(),
            mismatch(32, 31)
        );
        assert_eq!(
            sign(
                "RSA_2048",
                &rsa,
                "RSASSA_PSS_SHA_512",
                &d48,
                MessageType::Digest
            )
            .err(),
            mismatch(64, 48)
        );
        assert_eq!(
            sign(
                "RSA_2048",
                &rsa,
                "RSASSA_PKCS1_V1_5_SHA_384",
                &[],
                MessageType::Digest
            )
            .err(),
            mismatch(48, 0)
        );
        // Checked before the key: garbage key material still gets the input error.
        assert_eq!(
            sign(
                "ECC_NIST_P384",
                b"junk",
                "ECDSA_SHA_384",
                &[0; 32],
                MessageType::Digest
            )
            .err(),
            mismatch(48, 32)
        );
    }

    #[test]
    fn algorithm_not_for_key_is_refused() {
        let p256 = generate_private_key("ECC_NIST_P256").unwrap();
        let ed = generate_private_key("ECC_NIST_EDWARDS25519").unwrap();
        let rsa = h(WYCHEPROOF_RSA_PKCS8);
        let refused = Some(InputError::AlgorithmNotForKey);
        assert_eq!(
            sign(
                "ECC_NIST_P256",
                &p256,
                "ECDSA_SHA_384",
                b"m",
                MessageType::Raw
            )
            .err(),
            refused
        );
        assert_eq!(
            sign(
                "ECC_NIST_P256",
                &p256,
                "RSASSA_PSS_SHA_256",
                b"m",
                MessageType::Raw
            )
            .err(),
            refused
        );
        assert_eq!(
            sign("RSA_2048", &rsa, "ECDSA_SHA_256", b"m", MessageType::Raw).err(),
            refused
        );
        assert_eq!(
            sign("RSA_2048", &rsa, "RSASSA_PSS_SHA_1", b"m", MessageType::Raw).err(),
            refused
        );
        assert_eq!(
            verify(
                "ECC_NIST_P256",
                &p256,
                "ED25519_SHA_512",
                b"m",
                MessageType::Raw,
                &[0; 64]
            )
            .err(),
            refused
        );
        assert_eq!(
            sign("HMAC_256", &[1; 32], "HMAC_SHA_256", b"m", MessageType::Raw).err(),
            refused
        );
        assert_eq!(
            sign(
                "SYMMETRIC_DEFAULT",
                &[1; 32],
                "ECDSA_SHA_256",
                b"m",
                MessageType::Raw
            )
            .err(),
            refused
        );
        // Pure Ed25519 has no DIGEST form at KMS.
        assert_eq!(
            sign(
                "ECC_NIST_EDWARDS25519",
                &ed,
                "ED25519_SHA_512",
                &[0; 64],
                MessageType::Digest
            )
            .err(),
            refused
        );
        assert_eq!(
            rsa_encrypt("ECC_NIST_P256", &p256, "RSAES_OAEP_SHA_256", b"m").err(),
            refused
        );
        assert_eq!(
            rsa_encrypt("RSA_2048", &rsa, "RSAES_PKCS1_V1_5", b"m").err(),
            refused
        );
        assert!(matches!(
            rsa_decrypt("RSA_2048", &rsa, "SYMMETRIC_DEFAULT", &[0; 256]),
            Err(InputError::AlgorithmNotForKey)
        ));
        assert_eq!(
            generate_mac("HMAC_256", &[1; 32], "HMAC_SHA_512", b"m").err(),
            refused
        );
        assert_eq!(
            verify_mac("ECC_NIST_P256", &p256, "HMAC_SHA_256", b"m", &[0; 32]).err(),
            refused
        );
        assert!(matches!(
            derive_shared_secret("ECC_SECG_P256K1", &[], &[]),
            Err(InputError::AlgorithmNotForKey)
        ));
        assert!(matches!(
            derive_shared_secret("RSA_2048", &rsa, &[]),
            Err(InputError::AlgorithmNotForKey)
        ));
    }

    #[test]
    fn rsa_plaintext_limits_match_kms() {
        let table = [
            ("RSA_2048", 214, 190),
            ("RSA_3072", 342, 318),
            ("RSA_4096", 470, 446),
        ];
        for (spec, sha1, sha256) in table {
            assert_eq!(rsa_max_plaintext(spec, "RSAES_OAEP_SHA_1"), Some(sha1));
            assert_eq!(rsa_max_plaintext(spec, "RSAES_OAEP_SHA_256"), Some(sha256));
        }
        assert_eq!(
            rsa_max_plaintext("ECC_NIST_P256", "RSAES_OAEP_SHA_256"),
            None
        );
        assert_eq!(rsa_max_plaintext("RSA_2048", "SYMMETRIC_DEFAULT"), None);

        let private = h(WYCHEPROOF_RSA_PKCS8);
        for (alg, max) in [("RSAES_OAEP_SHA_1", 214), ("RSAES_OAEP_SHA_256", 190)] {
            let longest = vec![0xa5; max];
            let ct = rsa_encrypt("RSA_2048", &private, alg, &longest).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(
                *rsa_decrypt("RSA_2048", &private, alg, &ct).unwrap(),
                longest
            );
            assert_eq!(
                rsa_encrypt("RSA_2048", &private, alg, &vec![0xa5; max + 1]),
                Err(InputError::MessageTooLong)
            );
            // Tampered, truncated and over-long ciphertexts all fail the same way.
            assert_eq!(
                rsa_decrypt("RSA_2048", &private, alg, &flipped(&ct)),
                Err(InputError::Crypto)
            );
            assert_eq!(
                rsa_decrypt("RSA_2048", &private, alg, &ct[1..]),
                Err(InputError::Crypto)
            );
            assert_eq!(
                rsa_decrypt("RSA_2048", &private, alg, &[ct.clone(), vec![0]].concat()),
                Err(InputError::Crypto)
            );
        }
        // Empty plaintext is fine.
        let ct = rsa_encrypt("RSA_2048", &private, "RSAES_OAEP_SHA_256", b"").unwrap();
        assert!(rsa_decrypt("RSA_2048", &private, "RSAES_OAEP_SHA_256", &ct)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn key_material_must_match_the_spec() {
        let p384 = generate_private_key("ECC_NIST_P384").unwrap();
        let rsa = h(WYCHEPROOF_RSA_PKCS8);
        let ed = generate_private_key("ECC_NIST_EDWARDS25519").unwrap();
        assert_eq!(
            sign(
                "ECC_NIST_P256",
                &p384,
                "ECDSA_SHA_256",
                b"m",
                MessageType::Raw
            ),
            Err(InputError::Crypto)
        );
        assert_eq!(
            sign(
                "ECC_SECG_P256K1",
                &p384,
                "ECDSA_SHA_256",
                b"m",
                MessageType::Raw
            ),
            Err(InputError::Crypto)
        );
        assert_eq!(
            sign(
                "RSA_3072",
                &rsa,
                "RSASSA_PSS_SHA_256",
                b"m",
                MessageType::Raw
            ),
            Err(InputError::Crypto)
        );
        assert_eq!(
            rsa_encrypt("RSA_4096", &rsa, "RSAES_OAEP_SHA_256", b"m"),
            Err(InputError::Crypto)
        );
        assert_eq!(
            sign(
                "ECC_NIST_EDWARDS25519",
                &p384,
                "ED25519_PH_SHA_512",
                b"m",
                MessageType::Raw
            ),
            Err(InputError::Crypto)
        );
        assert_eq!(
            verify(
                "ECC_NIST_P384",
                b"not DER",
                "ECDSA_SHA_384",
                b"m",
                MessageType::Raw,
                &[0x30]
            ),
            Err(InputError::Crypto)
        );
        assert_eq!(public_key_der("ECC_NIST_P256", &p384), Err(CryptoError));
        assert_eq!(public_key_der("X25519", &ed), Err(CryptoError));
        assert_eq!(public_key_der("HMAC_256", &[1; 32]), Err(CryptoError));
        assert_eq!(
            public_key_der("SYMMETRIC_DEFAULT", &[1; 32]),
            Err(CryptoError)
        );
        assert_eq!(
            generate_mac("HMAC_256", &[], "HMAC_SHA_256", b"m"),
            Err(InputError::Crypto)
        );
    }

    #[test]
    fn unusable_peer_keys_are_refused() {
        let p256 = generate_private_key("ECC_NIST_P256").unwrap();
        let p384 = generate_private_key("ECC_NIST_P384").unwrap();
        let x = generate_private_key("X25519").unwrap();
        let p384_pub = public_key_der("ECC_NIST_P384", &p384).unwrap();
        let p256_pub = public_key_der("ECC_NIST_P256", &p256).unwrap();
        // Another curve.
        assert!(matches!(
            derive_shared_secret("ECC_NIST_P256", &p256, &p384_pub),
            Err(InputError::Crypto)
        ));
        assert!(matches!(
            derive_shared_secret("X25519", &x, &p256_pub),
            Err(InputError::Crypto)
        ));
        // A bare SEC 1 point (the SPKI's BIT STRING contents) is not SPKI.
        assert!(matches!(
            derive_shared_secret("ECC_NIST_P256", &p256, &p256_pub[p256_pub.len() - 65..]),
            Err(InputError::Crypto)
        ));
        // Off-curve point: last coordinate byte changed.
        assert!(matches!(
            derive_shared_secret("ECC_NIST_P256", &p256, &flipped(&p256_pub)),
            Err(InputError::Crypto)
        ));
        // X25519 low-order point u = 0 (RFC 7748 §6.1: all-zero output).
        let zero = [h("302a300506032b656e032100"), vec![0; 32]].concat();
        assert!(matches!(
            derive_shared_secret("X25519", &x, &zero),
            Err(InputError::Crypto)
        ));
        // Bare 32-byte X25519 key.
        assert!(matches!(
            derive_shared_secret("X25519", &x, &zero[12..]),
            Err(InputError::Crypto)
        ));
        // Self-agreement works (sanity).
        let own = public_key_der("ECC_NIST_P256", &p256).unwrap();
        assert_eq!(
            derive_shared_secret("ECC_NIST_P256", &p256, &own)
                .unwrap()
                .len(),
            32
        );
    }

    // -----------------------------------------------------------------------
    // Generation, listings
    // -----------------------------------------------------------------------

    #[test]
    fn data_key_pairs_for_every_kms_key_pair_spec() {
        for (spec, alg) in [
            ("RSA_2048", "RSASSA_PSS_SHA_256"),
            ("ECC_NIST_P256", "ECDSA_SHA_256"),
            ("ECC_NIST_P384", "ECDSA_SHA_384"),
            ("ECC_NIST_P521", "ECDSA_SHA_512"),
            ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
            ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ] {
            let (private, public) = generate_data_key_pair(spec).unwrap();
            assert!(
                private.starts_with(&[0x30]) && public.starts_with(&[0x30]),
                "{spec}: DER"
            );
            assert_eq!(public_key_der(spec, &private).unwrap(), public, "{spec}");
            let sig = sign(spec, &private, alg, b"m", MessageType::Raw).unwrap();
            assert_eq!(
                verify_with_public_key(spec, &public, alg, b"m", MessageType::Raw, &sig),
                Ok(true),
                "{spec}"
            );
            let (again, _) = generate_data_key_pair(spec).unwrap();
            assert_ne!(*again, *private, "{spec}: fresh keys");
        }
        for spec in ["HMAC_256", "X25519", "SYMMETRIC_DEFAULT", "SM2", "RSA_1024"] {
            assert!(generate_data_key_pair(spec).is_err(), "{spec}");
        }
    }

    /// The one RSA-3072 and one RSA-4096 key generation of the suite.
    #[test]
    fn rsa_3072_and_4096_keys() {
        for (spec, max) in [("RSA_3072", 318), ("RSA_4096", 446)] {
            let (private, public) = generate_data_key_pair(spec).unwrap();
            let bytes = if spec == "RSA_3072" { 384 } else { 512 };
            let sig = sign(
                spec,
                &private,
                "RSASSA_PSS_SHA_512",
                &[9; 64],
                MessageType::Digest,
            )
            .unwrap();
            assert_eq!(sig.len(), bytes);
            assert_eq!(
                verify_with_public_key(
                    spec,
                    &public,
                    "RSASSA_PSS_SHA_512",
                    &[9; 64],
                    MessageType::Digest,
                    &sig
                ),
                Ok(true)
            );
            let longest = vec![1u8; max];
            let ct = rsa_encrypt(spec, &private, "RSAES_OAEP_SHA_256", &longest).unwrap();
            assert_eq!(ct.len(), bytes);
            assert_eq!(
                *rsa_decrypt(spec, &private, "RSAES_OAEP_SHA_256", &ct).unwrap(),
                longest
            );
            assert_eq!(
                rsa_encrypt(spec, &private, "RSAES_OAEP_SHA_256", &vec![1u8; max + 1]),
                Err(InputError::MessageTooLong)
            );
            // The other sizes' specs refuse this key.
            let other = if spec == "RSA_3072" {
                "RSA_4096"
            } else {
                "RSA_3072"
            };
            assert_eq!(public_key_der(other, &private), Err(CryptoError));
        }
    }

    #[test]
    fn hmac_keys_have_kms_lengths() {
        for (spec, alg, len) in [
            ("HMAC_224", "HMAC_SHA_224", 28),
            ("HMAC_256", "HMAC_SHA_256", 32),
            ("HMAC_384", "HMAC_SHA_384", 48),
            ("HMAC_512", "HMAC_SHA_512", 64),
        ] {
            let key = generate_private_key(spec).unwrap();
            assert_eq!(key.len(), len, "{spec}");
            assert_ne!(*key, *generate_private_key(spec).unwrap());
            let mac = generate_mac(spec, &key, alg, b"message").unwrap();
            assert_eq!(mac.len(), len);
            assert_eq!(verify_mac(spec, &key, alg, b"message", &mac), Ok(true));
            assert_eq!(
                verify_mac(spec, &key, alg, b"message", &flipped(&mac)),
                Ok(false)
            );
        }
    }

    #[test]
    fn listings_match_kms() {
        assert_eq!(signing_algorithms("RSA_3072"), RSA_SIGNING);
        assert_eq!(signing_algorithms("ECC_NIST_P256"), ["ECDSA_SHA_256"]);
        assert_eq!(signing_algorithms("ECC_SECG_P256K1"), ["ECDSA_SHA_256"]);
        assert_eq!(signing_algorithms("ECC_NIST_P384"), ["ECDSA_SHA_384"]);
        assert_eq!(signing_algorithms("ECC_NIST_P521"), ["ECDSA_SHA_512"]);
        assert_eq!(
            signing_algorithms("ECC_NIST_EDWARDS25519"),
            ["ED25519_PH_SHA_512", "ED25519_SHA_512"]
        );
        assert!(
            signing_algorithms("HMAC_256").is_empty() && signing_algorithms("X25519").is_empty()
        );
        assert_eq!(
            encryption_algorithms("RSA_4096"),
            ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        );
        assert!(encryption_algorithms("ECC_NIST_P256").is_empty());
        assert_eq!(mac_algorithms("HMAC_384"), ["HMAC_SHA_384"]);
        assert!(mac_algorithms("RSA_2048").is_empty());
        for spec in ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "X25519"] {
            assert_eq!(key_agreement_algorithms(spec), ["ECDH"]);
        }
        assert!(key_agreement_algorithms("ECC_SECG_P256K1").is_empty());
        assert!(key_agreement_algorithms("ECC_NIST_EDWARDS25519").is_empty());
        for spec in [
            "HMAC_224",
            "RSA_2048",
            "ECC_NIST_P256",
            "ECC_NIST_EDWARDS25519",
            "X25519",
        ] {
            assert!(generate_private_key(spec).is_ok(), "{spec}");
        }
        assert_eq!(generate_private_key("SYMMETRIC_DEFAULT"), Err(CryptoError));
    }

    #[test]
    fn errors_say_nothing_secret() {
        let shown = format!("{:?} {}", InputError::Crypto, InputError::Crypto);
        assert_eq!(shown, "Crypto cryptographic operation failed");
        let mismatch = InputError::DigestLengthMismatch {
            expected: 32,
            actual: 31,
        };
        assert_eq!(
            mismatch.to_string(),
            "digest is 31 bytes; the algorithm's hash is 32 bytes"
        );
    }
}
