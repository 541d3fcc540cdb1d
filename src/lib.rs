//! keyledger: an audit-first, event-sourced key management service that speaks
//! the AWS KMS protocol.
//!
//! # Layout
//! - [`domain`]: the pure command side — ids, the key aggregate, events,
//!   `decide`/`apply`. No I/O, clock, randomness or crypto.
//! - [`crypto`]: the only code that touches key bytes — AEAD, ciphertext
//!   format, encryption context, root key, keyring.
//! - [`ledger`]: the append-only, hash-chained log — the store trait, the
//!   group-commit writer, the SQLite store.
//! - [`projections`]: folds over the log — key state, credentials.
//! - [`app`]: the command handler (authenticate → resolve → decide + crypto →
//!   append → reply) and the data-dir bootstrap.
//! - [`http`]: the AWS JSON 1.1 endpoint, SigV4, error mapping, `/healthz`.
//! - [`config`]: settings from flags, environment and a TOML file.
//!
//! The hash chain itself is defined once, in the `replay` crate, which also
//! verifies a ledger offline.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod ledger;
pub mod projections;
