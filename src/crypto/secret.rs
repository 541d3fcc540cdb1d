//! Secret bytes: zeroized on drop, never printed.

use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// A 256-bit secret key (root key, shredding key, key material).
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        SecretKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// Take 32 bytes from a slice that is then the caller's to clear.
    pub fn from_slice(bytes: &[u8]) -> Option<SecretKey> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(SecretKey(array))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").finish_non_exhaustive()
    }
}

/// Plaintext or other secret bytes of any length, zeroized on drop.
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// `n` random bytes: from the operating system, or from AWS-LC's DRBG in FIPS mode.
pub fn random_bytes(n: usize) -> SecretBytes {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    fill_random(&mut bytes);
    bytes
}

/// Fill `out` with key-grade randomness (the operating system's, or the FIPS module's DRBG).
pub fn fill_random(out: &mut [u8]) {
    super::mode::fill_random(out, |out| rand::rngs::OsRng.fill_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_nothing_secret() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            SecretKey::generate().expose(),
            SecretKey::generate().expose()
        );
    }
}
