//! keyledger: an audit-first, event-sourced key management service that speaks
//! the AWS KMS protocol.
//!
//! # Layout
//! - [`domain`]: the pure command side — ids, the key and alias aggregates,
//!   events, `decide`/`apply`, the key-state table. No I/O, clock, randomness
//!   or crypto.
//! - [`crypto`]: the only code that touches key bytes — XChaCha20-Poly1305,
//!   the ciphertext format, encryption context, root key, keyring, and the
//!   asymmetric/HMAC/key-agreement primitives.
//! - [`ledger`]: the append-only, hash-chained log — the store trait, the
//!   group-commit writer, the SQLite store and its checkpointer.
//! - [`projections`]: folds over the log — key state, aliases, credentials.
//! - [`app`]: the command handler (authenticate → resolve → decide + crypto →
//!   append → reply): symmetric operations, lifecycle, asymmetric operations,
//!   point-in-time history, the scheduler, the CloudTrail record, bootstrap.
//! - [`http`]: the AWS JSON 1.1 endpoint, the native `/v1/` REST API, SigV4,
//!   error mapping, `/healthz`.
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
