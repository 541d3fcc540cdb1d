//! keyledger: an audit-first, event-sourced key management service that speaks
//! the AWS KMS protocol.
//!
//! # Layout
//! - [`domain`]: the pure command side — ids, the key and alias aggregates,
//!   events, `decide`/`apply`, the key-state table, IAM policy documents (parse once,
//!   evaluate without JSON) and KMS's authorization over key policy, identity policies
//!   and grants. No I/O, clock, randomness or crypto.
//! - [`crypto`]: the only code that touches key bytes — the AEADs (XChaCha20-Poly1305;
//!   AES-256-GCM in FIPS mode), the ciphertext formats, encryption context, root key,
//!   keyring, AssumeRole's sealed session tokens, the asymmetric/HMAC/key-agreement
//!   primitives, and the process's mode, standard or FIPS (`mode`).
//! - [`ledger`]: the append-only, hash-chained log — the store contract (the store
//!   assigns positions, checks stream versions, chains hashes), the reader (reads and
//!   tailing), the group-commit writer, the SQLite and in-memory stores, the seam
//!   through which SQL read models are kept in the append transaction, and the owner-only
//!   modes of the files it keeps (`files`).
//! - [`projections`]: folds over the log — in memory: key state, aliases, identities
//!   (accounts, users, roles, inline policies, access keys: `credentials`), the trail's
//!   note key; in SQL tables: `key_usage`, `trail_index`, `billing`,
//!   `compliance`.
//! - [`app`]: the command handler (authenticate → resolve → authorize → decide + crypto
//!   → append → reply): the operations' declarations (`catalog`), the one place requests
//!   meet policies (`authz`), keys, symmetric and asymmetric operations, lifecycle,
//!   grants, AWS managed keys, IAM and STS (`iam`: users, roles, access keys, policies,
//!   AssumeRole, accounts), point-in-time history, the scheduler, the CloudTrail record,
//!   bootstrap, the trail's evidence and queries, the billing and compliance reports
//!   (and their HTML pages), every bound on what a request may carry (`limits`), and
//!   the request quotas (`quotas`: token buckets per account, Region and class).
//! - [`http`]: the AWS JSON 1.1 endpoint, the IAM/STS query protocol (XML), the native
//!   `/v1/` REST API (trail, evidence, reports, accounts), CloudTrail LookupEvents, SigV4,
//!   error mapping, `/healthz`, `/readyz`, `/metrics`, TLS (`tls`: rustls, reloadable
//!   certificate); the admin CLI's small client.
//! - [`config`]: settings from flags, environment and a TOML file.
//! - `fuzzing` (hidden): what the edge parsers must do with any input, checked by the fuzz
//!   targets in `fuzz/`, the corpus replay test and the property tests.
//!
//! The hash chain, the trail's Merkle tree and the billing fold are each defined once, in
//! the `replay` crate, which also verifies a ledger or an export offline and recomputes a
//! bill from an export.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod crypto;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod projections;
