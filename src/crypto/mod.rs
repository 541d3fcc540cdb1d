//! The only code that touches key bytes: secret types, the AEAD, the
//! ciphertext blob format, canonical encryption context, root-key providers
//! and the keyring.

pub mod aead;
pub mod asymmetric;
pub mod ciphertext;
pub mod context;
pub mod import;
pub mod keyring;
pub mod mode;
pub mod root_key;
pub mod secret;
pub mod session_token;

/// A cryptographic failure. Deliberately opaque: it never says why or where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cryptographic operation failed")]
pub struct CryptoError;
