//! Offline verification of a keyledger ledger.
//!
//! This crate is the one definition of the ledger's hash chain: the server
//! (`keyledger`) calls [`chain_hash`] when it appends, and [`verify_sqlite`]
//! re-derives the chain from the stored rows alone — no server, no keys.
//!
//! The chain (DESIGN.md invariant 3): `hash_n = BLAKE3(hash_{n-1} ‖ canonical_bytes(event_n))`
//! with `hash_0 = [0; 32]` and `canonical_bytes = position as u64 big-endian ‖ event JSON`,
//! so an edit, deletion, insertion or reordering of any stored event changes
//! every hash after it.
#![forbid(unsafe_code)]

pub mod billing;
pub mod cli;
pub mod columns;
pub mod export;
pub mod trail;
pub mod verify;

pub use verify::{
    is_postgres_url, verify_ledger, verify_location, verify_postgres, verify_rows, verify_sqlite,
    without_userinfo, ChainVerifier, StoredRow, Verified, VerifyError, VerifyOptions,
    EVENT_COLUMNS,
};

/// The hash before the first event.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// `BLAKE3(prev ‖ position_be ‖ data)`: the hash of the event at `position`.
pub fn chain_hash(prev: &[u8; 32], position: u64, data: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(&position.to_be_bytes());
    hasher.update(data);
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_hash_binds_previous_hash_position_and_data() {
        let a = chain_hash(&GENESIS_HASH, 1, b"{}");
        assert_ne!(a, chain_hash(&GENESIS_HASH, 2, b"{}"));
        assert_ne!(a, chain_hash(&GENESIS_HASH, 1, b"{ }"));
        assert_ne!(a, chain_hash(&[1u8; 32], 1, b"{}"));
        // Known answer: guards against an accidental change of the definition,
        // which would make every existing ledger fail verification.
        let mut input = Vec::new();
        input.extend_from_slice(&GENESIS_HASH);
        input.extend_from_slice(&1u64.to_be_bytes());
        input.extend_from_slice(b"{}");
        assert_eq!(a, *blake3::hash(&input).as_bytes());
    }
}
