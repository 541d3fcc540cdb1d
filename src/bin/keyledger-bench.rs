//! `keyledger-bench`: a closed-loop load generator for a keyledger server on this machine.
//!
//! It creates the keys the selected workloads need (signed `CreateKey`s), then runs each
//! workload in turn against the same server: N tasks, each with its own keep-alive HTTP/1.1
//! connection, send one request at a time for a warm-up and then for the measured duration.
//! Every KMS request is signed on the fly with SigV4, as a real client would (the derived
//! signing key is cached per date, the `X-Amz-Date` string per second).
//!
//! With `--primitives` (or `--workload all`) it first measures, in-process and on one core,
//! the raw rate of the primitive behind each workload (the same `keyledger::crypto` calls
//! the server makes), so each HTTP rate can be read against what one core can do.
//!
//! Output (stdout), one line per primitive and per workload, then ratio lines:
//!
//! ```text
//! primitive xchacha20poly1305-256B rate=1234567.8/s ops=1234568 duration=1.00s
//! healthz   connections=64 duration=10.0s requests=...
//! encrypt   connections=64 duration=10.0s requests=412345 rate=41234.5/s p50=1.21ms p99=4.80ms max=17.30ms errors=0
//! sign-p256 connections=64 duration=10.0s requests=...
//! ratio encrypt/healthz=0.47 sign-p256/healthz=0.25
//! ratio sign-p256/encrypt=0.52 (target >= 0.50)
//! ratio encrypt/primitive=0.03
//! ratio sign-p256/primitive=0.71
//! ```
//!
//! The first ratio line sets every workload against healthz (or the first workload); then,
//! if encrypt ran, one line per other workload against encrypt from the same run (with the
//! target where the issue sets one); then, if primitives were measured, each workload's
//! HTTP rate over its primitive's single-core rate. Missed targets are noted on stderr and
//! do not change the exit status.
//!
//! A request counts when it completes inside the measured window; `rate` is those requests
//! divided by the window. Latencies cover every counted request that got an HTTP response.
//! Errors: a connection or I/O failure, a timeout, an unparsable response, a status other
//! than 200, or a 200 whose body the workload rejects. Exit status: 0 if no workload had
//! errors, 1 if one did (or completed nothing), 2 if the run could not start.
//!
//! # Adding a workload
//! A workload is a name plus a [`RequestGen`] that writes one complete request (and may
//! check a 200 response body): add a [`WorkloadDef`] to [`WORKLOADS`]. Signed KMS calls go
//! through [`Signer::kms_request`]; what a workload needs from the server (its [`Need`]s) is
//! created up front in [`Fixtures::create`]. A primitive to compare it with goes in
//! [`PRIMITIVES`].
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use clap::{CommandFactory, FromArgMatches, Parser};
use keyledger::crypto::aead;
use keyledger::crypto::asymmetric::{self as asym, MessageType};
use keyledger::crypto::secret::SecretKey;
use keyledger::http::sigv4::{self, SigningKey};
use rand::{RngCore, SeedableRng};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const SERVICE: &str = "kms";
const JSON_1_1: &str = "application/x-amz-json-1.1";
/// A request slower than this is an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed connect, so a dead server does not turn the run into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(20);
/// How long to wait for `/healthz` to say 200 before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const MAX_DURATION_SECS: f64 = 3600.0;
const MAX_WARMUP_SECS: f64 = 600.0;
/// Bytes of the random message (plaintext) in every Encrypt, Sign, Verify and GenerateMac.
const MESSAGE_BYTES: usize = 256;
/// How long each primitive is measured, after an uncounted warm-up.
const PRIMITIVE_DURATION: Duration = Duration::from_secs(1);
const PRIMITIVE_WARMUP: Duration = Duration::from_millis(100);
/// `--workload` value that selects every workload (and `--primitives`).
const ALL: &str = "all";

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/// Load generator for keyledger (AWS KMS JSON 1.1 over HTTP/1.1, SigV4-signed).
///
/// Creates the keys the selected workloads need with signed CreateKeys, then runs each
/// workload in turn against the same server: CONNECTIONS tasks, each with its own keep-alive
/// connection and one request in flight, for WARMUP seconds (not counted) and then DURATION
/// seconds. Prints one line per workload and then `ratio` lines. Exits 1 if any workload had
/// errors, 2 if the run could not start; a missed target does not change the exit status.
#[derive(Parser, Debug)]
#[command(name = "keyledger-bench", version)]
struct Args {
    /// Server to load, `http://HOST[:PORT]`. Only loopback hosts are accepted
    /// (127.0.0.0/8, localhost, ::1).
    #[arg(long, value_name = "URL")]
    endpoint: String,

    /// The admin-credentials.json that `keyledger serve` wrote in its data dir
    /// ({"access_key_id","secret_access_key","account_id","region"}).
    #[arg(long, value_name = "FILE")]
    credentials: PathBuf,

    /// Concurrent connections (one task and one keep-alive TCP connection each).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    connections: u32,

    /// Measured seconds per workload (at most 3600).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    duration: f64,

    /// Warm-up seconds per workload before measuring (at most 600).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    warmup: f64,

    /// Comma-separated workloads, run one after the other (see the list below);
    /// `all` runs every workload and implies --primitives.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "encrypt,healthz",
        value_name = "LIST"
    )]
    workload: Vec<String>,

    /// Tokio worker threads for the generator (it shares the machine with the server).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    threads: u32,

    /// Before the HTTP workloads, measure each raw primitive (XChaCha20-Poly1305, ECDSA
    /// P-256 sign and verify, Ed25519 sign, RSA-2048 PSS sign, HMAC-SHA-256) in-process,
    /// single-threaded, for about a second each.
    #[arg(long)]
    primitives: bool,
}

fn workload_help() -> String {
    let mut s = String::from("Workloads (default encrypt,healthz):\n");
    for w in WORKLOADS {
        let _ = writeln!(s, "  {:<14}{}", w.name, w.about);
    }
    let _ = writeln!(
        s,
        "  {ALL:<14}every workload above, in this order, plus --primitives"
    );
    s.push_str("\nPrimitives (--primitives; one core, in-process, ~1 s each):\n");
    for p in PRIMITIVES {
        let _ = writeln!(s, "  {:<26}{}", p.name, p.about);
    }
    s.push_str(
        "\nOutput: `primitive NAME rate=.../s ...` per primitive, one line per workload, e.g.\n  \
         encrypt   connections=64 duration=10.0s requests=412345 rate=41234.5/s p50=1.21ms \
         p99=4.80ms max=17.30ms errors=0\n\
         then `ratio A/B=...` for each workload A against healthz (or the first workload); \
         if encrypt ran, `ratio A/encrypt=...` for each other workload (with the target where \
         there is one:",
    );
    for (name, target) in TARGETS {
        let _ = write!(s, " {name} >= {target:.2}");
    }
    s.push_str(
        "); if primitives were measured, `ratio A/primitive=...`, the HTTP rate over the \
         single-core primitive rate.",
    );
    s
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

/// Produces the requests of one workload, for one connection (each task owns one).
trait RequestGen: Send {
    /// Appends one complete HTTP/1.1 request (head and body) to `out`.
    fn request(&mut self, signer: &mut Signer, out: &mut Vec<u8>);

    /// Checks the body of a 200 response; `Err` counts the request as an error.
    fn check(&self, _body: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Something a workload needs from the server, created once before measuring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    /// A `SYMMETRIC_DEFAULT` key.
    SymmetricKey,
    /// An `ECC_NIST_P256` `SIGN_VERIFY` key.
    P256Key,
    /// An `ECC_NIST_EDWARDS25519` `SIGN_VERIFY` key.
    Ed25519Key,
    /// An `RSA_2048` `SIGN_VERIFY` key.
    Rsa2048Key,
    /// An `HMAC_256` `GENERATE_VERIFY_MAC` key.
    Hmac256Key,
    /// A `SYMMETRIC_DEFAULT` key with [`realistic_policy`] (5 statements, one
    /// encryption-context condition) instead of the default key policy.
    PolicyKey,
    /// One random message signed once with the P-256 key (`ECDSA_SHA_256`, RAW).
    P256Signature,
    /// Event ids of checkpointed events (from the first entry bundle of the trail).
    TrailEvents,
    /// Event ids spread over the whole checkpointed trail, one per entry bundle read (up to
    /// [`SPREAD_BUNDLES`] bundles, evenly spaced): each proof needs a leaf tile of its own.
    SpreadTrailEvents,
}

impl Need {
    /// Keys in creation order, each with its `CreateKey` body.
    const KEYS: [(Need, &'static str); 5] = [
        (Need::SymmetricKey, r#"{"Description":"bench"}"#),
        (
            Need::P256Key,
            r#"{"Description":"bench","KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#,
        ),
        (
            Need::Ed25519Key,
            r#"{"Description":"bench","KeySpec":"ECC_NIST_EDWARDS25519","KeyUsage":"SIGN_VERIFY"}"#,
        ),
        (
            Need::Rsa2048Key,
            r#"{"Description":"bench","KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY"}"#,
        ),
        (
            Need::Hmac256Key,
            r#"{"Description":"bench","KeySpec":"HMAC_256","KeyUsage":"GENERATE_VERIFY_MAC"}"#,
        ),
    ];
}

/// A message and its signature, base64 as they go in a request.
struct SignedMessage {
    message_b64: String,
    signature_b64: String,
}

/// What the selected workloads need from the server, created once before measuring.
struct Fixtures {
    /// Key ids, one per key [`Need`] of the selected workloads.
    keys: Vec<(Need, String)>,
    /// For [`Need::P256Signature`].
    p256_signed: Option<SignedMessage>,
    /// For [`Need::TrailEvents`].
    trail_event_ids: Vec<String>,
    /// For [`Need::SpreadTrailEvents`].
    spread_event_ids: Vec<String>,
}

impl Fixtures {
    async fn create(
        endpoint: &Endpoint,
        signer: &mut Signer,
        needs: &[Need],
    ) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for (need, body) in Need::KEYS {
            let wanted = needs.contains(&need)
                || (need == Need::P256Key && needs.contains(&Need::P256Signature));
            if !wanted {
                continue;
            }
            let created = kms_call(endpoint, signer, "TrentService.CreateKey", body.as_bytes())
                .await
                .with_context(|| format!("CreateKey {body}"))?;
            let key_id = created
                .pointer("/KeyMetadata/KeyId")
                .and_then(|v| v.as_str())
                .ok_or_else(|| anyhow!("CreateKey response has no KeyMetadata.KeyId: {created}"))?
                .to_owned();
            eprintln!("# fixture {need:?} {key_id}");
            keys.push((need, key_id));
        }
        if needs.contains(&Need::PolicyKey) {
            let body = serde_json::json!({
                "Description": "bench, realistic policy",
                "Policy": realistic_policy(&signer.creds.account_id),
            })
            .to_string();
            let created = kms_call(endpoint, signer, "TrentService.CreateKey", body.as_bytes())
                .await
                .context("CreateKey with the realistic policy")?;
            let key_id = created
                .pointer("/KeyMetadata/KeyId")
                .and_then(|v| v.as_str())
                .ok_or_else(|| anyhow!("CreateKey response has no KeyMetadata.KeyId: {created}"))?
                .to_owned();
            eprintln!("# fixture {:?} {key_id}", Need::PolicyKey);
            keys.push((Need::PolicyKey, key_id));
        }
        let mut fixtures = Self {
            keys,
            p256_signed: None,
            trail_event_ids: Vec::new(),
            spread_event_ids: Vec::new(),
        };
        if needs.contains(&Need::P256Signature) {
            let mut message = [0u8; MESSAGE_BYTES];
            rand::thread_rng().fill_bytes(&mut message);
            let message_b64 = base64::engine::general_purpose::STANDARD.encode(message);
            let body = serde_json::json!({
                "KeyId": fixtures.key_id(Need::P256Key),
                "Message": message_b64,
                "MessageType": "RAW",
                "SigningAlgorithm": "ECDSA_SHA_256",
            });
            let signed = kms_call(
                endpoint,
                signer,
                "TrentService.Sign",
                body.to_string().as_bytes(),
            )
            .await
            .context("Sign (the verify-p256 fixture)")?;
            let signature_b64 = signed
                .get("Signature")
                .and_then(|v| v.as_str())
                .ok_or_else(|| anyhow!("Sign response has no Signature: {signed}"))?
                .to_owned();
            fixtures.p256_signed = Some(SignedMessage {
                message_b64,
                signature_b64,
            });
        }
        if needs.contains(&Need::TrailEvents) {
            fixtures.trail_event_ids = trail_event_ids(endpoint, signer).await?;
        }
        if needs.contains(&Need::SpreadTrailEvents) {
            fixtures.spread_event_ids = spread_event_ids(endpoint, signer).await?;
        }
        Ok(fixtures)
    }

    /// The id of a key created for `need`; the selected workloads declared it.
    fn key_id(&self, need: Need) -> &str {
        self.keys
            .iter()
            .find(|(n, _)| *n == need)
            .map(|(_, id)| id.as_str())
            .unwrap_or_else(|| panic!("no {need:?} fixture: a workload does not declare it"))
    }
}

/// A key policy as a team would write one: the account's root, key administrators, key
/// users under an encryption-context condition, grants for AWS resources, and a deny for
/// other accounts. The bench's admin is allowed through the first statement.
fn realistic_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "bench-realistic",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{account}:role/KeyAdmin")},
             "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*",
                        "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*",
                        "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
             "Resource": "*"},
            {"Sid": "Allow use of the key", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{account}:role/App")},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                        "kms:GenerateDataKey*", "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:app": "bench"}}},
            {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{account}:role/App")},
             "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
             "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
            {"Sid": "Deny other accounts", "Effect": "Deny", "Principal": "*",
             "Action": "kms:*", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:CallerAccount": account}}}
        ]
    })
    .to_string()
}

struct WorkloadDef {
    name: &'static str,
    about: &'static str,
    /// What [`Fixtures::create`] must make for it.
    needs: &'static [Need],
    /// One generator per connection.
    new: fn(&Fixtures) -> Box<dyn RequestGen>,
}

const WORKLOADS: &[WorkloadDef] = &[
    WorkloadDef {
        name: "healthz",
        about: "GET /healthz, unsigned (the HTTP floor)",
        needs: &[],
        new: Healthz::boxed,
    },
    WorkloadDef {
        name: "encrypt",
        about: "signed TrentService.Encrypt of 256 random bytes under a symmetric key",
        needs: &[Need::SymmetricKey],
        new: RandomMessage::encrypt,
    },
    WorkloadDef {
        name: "encrypt-context",
        about: "encrypt with EncryptionContext app=bench, under the default key policy",
        needs: &[Need::SymmetricKey],
        new: RandomMessage::encrypt_with_context,
    },
    WorkloadDef {
        name: "encrypt-policy",
        about:
            "encrypt, under a key with a realistic 5-statement policy, EncryptionContext app=bench",
        needs: &[Need::PolicyKey],
        new: RandomMessage::encrypt_under_policy,
    },
    WorkloadDef {
        name: "sign-p256",
        about: "TrentService.Sign, ECC_NIST_P256 key, ECDSA_SHA_256, RAW 256 random bytes",
        needs: &[Need::P256Key],
        new: RandomMessage::sign_p256,
    },
    WorkloadDef {
        name: "sign-ed25519",
        about:
            "TrentService.Sign, ECC_NIST_EDWARDS25519 key, ED25519_SHA_512, RAW 256 random bytes",
        needs: &[Need::Ed25519Key],
        new: RandomMessage::sign_ed25519,
    },
    WorkloadDef {
        name: "sign-rsa2048",
        about: "TrentService.Sign, RSA_2048 key, RSASSA_PSS_SHA_256, RAW 256 random bytes",
        needs: &[Need::Rsa2048Key],
        new: RandomMessage::sign_rsa2048,
    },
    WorkloadDef {
        name: "verify-p256",
        about: "TrentService.Verify, ECC_NIST_P256 key, ECDSA_SHA_256, one 256-byte message \
                and signature made at setup",
        needs: &[Need::P256Key, Need::P256Signature],
        new: VerifyFixed::verify_p256,
    },
    WorkloadDef {
        name: "inclusion",
        about: "signed GET /v1/trail/events/{id}/inclusion of the first (up to) 256 events, \
                against the newest checkpoint",
        needs: &[Need::TrailEvents],
        new: Inclusion::boxed,
    },
    WorkloadDef {
        name: "inclusion-spread",
        about: "signed GET /v1/trail/events/{id}/inclusion of events spread over the whole \
                checkpointed trail (one per entry bundle, up to 512 bundles), in turn: the \
                first proof in each leaf tile reads it from the database",
        needs: &[Need::SpreadTrailEvents],
        new: Inclusion::spread,
    },
    WorkloadDef {
        name: "mac",
        about: "TrentService.GenerateMac, HMAC_256 key, HMAC_SHA_256 of 256 random bytes",
        needs: &[Need::Hmac256Key],
        new: RandomMessage::mac,
    },
];

/// Targets from the issue: workload rate over encrypt rate, same run.
const TARGETS: &[(&str, f64)] = &[("sign-p256", 0.50), ("mac", 0.90)];

/// Targets between two workloads other than encrypt: (workload, against, target). The
/// realistic key policy against the default one, the requests otherwise the same.
const PAIR_TARGETS: &[(&str, &str, f64)] = &[("encrypt-policy", "encrypt-context", 0.95)];

fn workload(name: &str) -> Option<&'static WorkloadDef> {
    WORKLOADS.iter().find(|w| w.name == name)
}

struct Healthz;

impl Healthz {
    fn boxed(_: &Fixtures) -> Box<dyn RequestGen> {
        Box::new(Healthz)
    }
}

impl RequestGen for Healthz {
    fn request(&mut self, signer: &mut Signer, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n",
            signer.host
        );
    }
}

/// A signed KMS call whose body is a fixed JSON prefix, 256 fresh random bytes in base64
/// and `"}`; a 200 body must contain `expect`.
struct RandomMessage {
    target: &'static str,
    /// `{"KeyId":"<id>",...,"<Field>":"` — built (and the key id JSON-escaped) once.
    prefix: String,
    expect: &'static str,
    rng: rand::rngs::StdRng,
    message: [u8; MESSAGE_BYTES],
    body: String,
}

impl RandomMessage {
    /// `fields` are JSON members (each followed by a comma) between KeyId and the message.
    fn boxed(
        target: &'static str,
        key_id: &str,
        fields: &str,
        message_field: &str,
        expect: &'static str,
    ) -> Box<dyn RequestGen> {
        let key = serde_json::to_string(key_id).expect("a string serialises");
        Box::new(RandomMessage {
            target,
            prefix: format!(r#"{{"KeyId":{key},{fields}"{message_field}":""#),
            expect,
            rng: rand::rngs::StdRng::from_entropy(),
            message: [0; MESSAGE_BYTES],
            body: String::with_capacity(512),
        })
    }

    fn encrypt(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::boxed(
            "TrentService.Encrypt",
            f.key_id(Need::SymmetricKey),
            "",
            "Plaintext",
            "\"CiphertextBlob\"",
        )
    }

    fn encrypt_with_context(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::boxed(
            "TrentService.Encrypt",
            f.key_id(Need::SymmetricKey),
            r#""EncryptionContext":{"app":"bench"},"#,
            "Plaintext",
            "\"CiphertextBlob\"",
        )
    }

    fn encrypt_under_policy(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::boxed(
            "TrentService.Encrypt",
            f.key_id(Need::PolicyKey),
            r#""EncryptionContext":{"app":"bench"},"#,
            "Plaintext",
            "\"CiphertextBlob\"",
        )
    }

    fn sign(key_id: &str, algorithm: &str) -> Box<dyn RequestGen> {
        Self::boxed(
            "TrentService.Sign",
            key_id,
            &format!(r#""MessageType":"RAW","SigningAlgorithm":"{algorithm}","#),
            "Message",
            "\"Signature\"",
        )
    }

    fn sign_p256(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::sign(f.key_id(Need::P256Key), "ECDSA_SHA_256")
    }

    fn sign_ed25519(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::sign(f.key_id(Need::Ed25519Key), "ED25519_SHA_512")
    }

    fn sign_rsa2048(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::sign(f.key_id(Need::Rsa2048Key), "RSASSA_PSS_SHA_256")
    }

    fn mac(f: &Fixtures) -> Box<dyn RequestGen> {
        Self::boxed(
            "TrentService.GenerateMac",
            f.key_id(Need::Hmac256Key),
            r#""MacAlgorithm":"HMAC_SHA_256","#,
            "Message",
            "\"Mac\"",
        )
    }
}

impl RequestGen for RandomMessage {
    fn request(&mut self, signer: &mut Signer, out: &mut Vec<u8>) {
        self.rng.fill_bytes(&mut self.message);
        self.body.clear();
        self.body.push_str(&self.prefix);
        base64::engine::general_purpose::STANDARD.encode_string(self.message, &mut self.body);
        self.body.push_str("\"}");
        signer.kms_request(out, self.target, self.body.as_bytes());
    }

    fn check(&self, body: &[u8]) -> Result<(), String> {
        expect_in(body, self.expect)
    }
}

/// Inclusion proofs of known events, in turn.
struct Inclusion {
    paths: Vec<String>,
    next: usize,
}

impl Inclusion {
    fn of(ids: &[String]) -> Box<dyn RequestGen> {
        Box::new(Inclusion {
            paths: ids
                .iter()
                .map(|id| format!("/v1/trail/events/{id}/inclusion"))
                .collect(),
            next: 0,
        })
    }

    fn boxed(f: &Fixtures) -> Box<dyn RequestGen> {
        Inclusion::of(&f.trail_event_ids)
    }

    fn spread(f: &Fixtures) -> Box<dyn RequestGen> {
        Inclusion::of(&f.spread_event_ids)
    }
}

impl RequestGen for Inclusion {
    fn request(&mut self, signer: &mut Signer, out: &mut Vec<u8>) {
        let path = &self.paths[self.next % self.paths.len()];
        self.next += 1;
        signer.get_request(out, path);
    }

    fn check(&self, body: &[u8]) -> Result<(), String> {
        expect_in(body, "\"inclusion_path\"")
    }
}

/// A signed GET; the body of a 200.
async fn signed_get(
    endpoint: &Endpoint,
    signer: &mut Signer,
    path: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut request = Vec::new();
    signer.get_request(&mut request, path);
    let response = one_shot(endpoint, &request)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if response.status != 200 {
        bail!(
            "GET {path}: HTTP {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    Ok(response.body)
}

/// The newest checkpoint's tree size.
async fn checkpointed_size(endpoint: &Endpoint, signer: &mut Signer) -> anyhow::Result<u64> {
    let note = signed_get(endpoint, signer, "/v1/trail/checkpoint").await?;
    String::from_utf8_lossy(&note)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| anyhow!("the checkpoint has no size line"))
}

/// The event ids in entry bundle `n` (full: the checkpoint covers it).
async fn bundle_event_ids(
    endpoint: &Endpoint,
    signer: &mut Signer,
    bundle: &str,
) -> anyhow::Result<Vec<String>> {
    let bytes = signed_get(
        endpoint,
        signer,
        &format!("/v1/trail/tlog/tile/entries/{bundle}"),
    )
    .await?;
    let mut ids = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let entry: serde_json::Value = serde_json::from_slice(&rest[2..2 + len])?;
        if let Some(id) = entry["event_id"].as_str() {
            ids.push(id.to_owned());
        }
        rest = &rest[2 + len..];
    }
    Ok(ids)
}

/// The event ids in the trail's first entry bundle, as far as the newest checkpoint goes.
async fn trail_event_ids(endpoint: &Endpoint, signer: &mut Signer) -> anyhow::Result<Vec<String>> {
    let size = checkpointed_size(endpoint, signer).await?;
    let bundle = if size >= 256 {
        "000".to_owned()
    } else {
        format!("000.p/{size}")
    };
    let ids = bundle_event_ids(endpoint, signer, &bundle).await?;
    if ids.is_empty() {
        bail!("no checkpointed events");
    }
    Ok(ids)
}

/// Entry bundles `inclusion-spread` reads its events from, at most.
const SPREAD_BUNDLES: u64 = 512;

/// The first event of each of up to [`SPREAD_BUNDLES`] full entry bundles, evenly spaced
/// over the checkpointed trail.
async fn spread_event_ids(endpoint: &Endpoint, signer: &mut Signer) -> anyhow::Result<Vec<String>> {
    let full = checkpointed_size(endpoint, signer).await? / 256;
    if full == 0 {
        bail!("inclusion-spread needs at least 256 checkpointed events");
    }
    let step = full.div_ceil(SPREAD_BUNDLES);
    let mut ids = Vec::new();
    for n in (0..full).step_by(step as usize) {
        let bundle = bundle_event_ids(endpoint, signer, &replay::trail::tile_index_path(n)).await?;
        ids.extend(bundle.into_iter().next());
    }
    eprintln!(
        "# fixture {} events, one in every {step} entry bundles",
        ids.len()
    );
    Ok(ids)
}

/// The same signed KMS body every time; a 200 body must contain `expect`.
struct VerifyFixed {
    body: Vec<u8>,
    expect: &'static str,
}

impl VerifyFixed {
    fn verify_p256(f: &Fixtures) -> Box<dyn RequestGen> {
        let signed = f
            .p256_signed
            .as_ref()
            .expect("verify-p256 declares Need::P256Signature");
        let body = serde_json::json!({
            "KeyId": f.key_id(Need::P256Key),
            "Message": signed.message_b64,
            "MessageType": "RAW",
            "Signature": signed.signature_b64,
            "SigningAlgorithm": "ECDSA_SHA_256",
        });
        Box::new(VerifyFixed {
            body: body.to_string().into_bytes(),
            expect: "\"SignatureValid\":true",
        })
    }
}

impl RequestGen for VerifyFixed {
    fn request(&mut self, signer: &mut Signer, out: &mut Vec<u8>) {
        signer.kms_request(out, "TrentService.Verify", &self.body);
    }

    fn check(&self, body: &[u8]) -> Result<(), String> {
        expect_in(body, self.expect)
    }
}

fn expect_in(body: &[u8], expect: &str) -> Result<(), String> {
    if find(body, expect.as_bytes()).is_some() {
        Ok(())
    } else {
        Err(format!(
            "200 without {expect}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Raw primitives, in-process on one core
// ---------------------------------------------------------------------------------------------

struct PrimitiveDef {
    name: &'static str,
    about: &'static str,
    /// The workload whose server-side work this is.
    workload: &'static str,
}

const PRIMITIVES: &[PrimitiveDef] = &[
    PrimitiveDef {
        name: "xchacha20poly1305-256B",
        about: "crypto::aead::seal_xchacha of 256 bytes, empty AAD (encrypt)",
        workload: "encrypt",
    },
    PrimitiveDef {
        name: "aes256gcm-hkdf-256B",
        about: "crypto::aead::seal_gcm of 256 bytes, empty AAD: FIPS mode's construction \
                (HKDF-SHA256 per call, AES-256-GCM with the module's IV; decision 0015)",
        // The server's encrypt in FIPS mode; the ratio lines compare with the standard one.
        workload: "encrypt (FIPS mode)",
    },
    PrimitiveDef {
        name: "ecdsa-p256-sign",
        about: "asymmetric::sign ECC_NIST_P256 ECDSA_SHA_256 RAW 256 bytes (sign-p256)",
        workload: "sign-p256",
    },
    PrimitiveDef {
        name: "ed25519-sign",
        about: "asymmetric::sign ECC_NIST_EDWARDS25519 ED25519_SHA_512 RAW 256 bytes \
                (sign-ed25519)",
        workload: "sign-ed25519",
    },
    PrimitiveDef {
        name: "rsa2048-pss-sha256-sign",
        about: "asymmetric::sign RSA_2048 RSASSA_PSS_SHA_256 RAW 256 bytes (sign-rsa2048)",
        workload: "sign-rsa2048",
    },
    PrimitiveDef {
        name: "ecdsa-p256-verify",
        about: "asymmetric::verify ECC_NIST_P256 ECDSA_SHA_256 RAW 256 bytes (verify-p256)",
        workload: "verify-p256",
    },
    PrimitiveDef {
        name: "hmac-sha256-256B",
        about: "asymmetric::generate_mac HMAC_256 HMAC_SHA_256 of 256 bytes (mac)",
        workload: "mac",
    },
];

struct PrimitiveRate {
    def: &'static PrimitiveDef,
    rate: f64,
}

/// Runs `op` for [`PRIMITIVE_WARMUP`] uncounted, then for about [`PRIMITIVE_DURATION`];
/// returns (operations, seconds). Checks the clock once per batch, the batch doubling
/// until it takes a few milliseconds, so fast operations are not measured with the clock.
fn time_op(mut op: impl FnMut() -> bool) -> Result<(u64, f64), ()> {
    let run_for = |limit: Duration, op: &mut dyn FnMut() -> bool| -> Result<(u64, f64), ()> {
        let start = std::time::Instant::now();
        let mut batch: u64 = 1;
        let mut done: u64 = 0;
        loop {
            let batch_start = std::time::Instant::now();
            for _ in 0..batch {
                if !op() {
                    return Err(());
                }
            }
            done += batch;
            let now = std::time::Instant::now();
            let elapsed = now - start;
            if elapsed >= limit {
                return Ok((done, elapsed.as_secs_f64()));
            }
            if now - batch_start < Duration::from_millis(5) {
                batch *= 2;
            }
        }
    };
    run_for(PRIMITIVE_WARMUP, &mut op)?;
    run_for(PRIMITIVE_DURATION, &mut op)
}

/// Measures every primitive in [`PRIMITIVES`] on the calling thread; prints one line each.
fn measure_primitives() -> anyhow::Result<Vec<PrimitiveRate>> {
    use std::hint::black_box;

    let mut message = [0u8; MESSAGE_BYTES];
    rand::thread_rng().fill_bytes(&mut message);
    let generate = |spec: &str| {
        asym::generate_private_key(spec).map_err(|e| anyhow!("generating a {spec} key: {e}"))
    };
    let aead_key = SecretKey::generate();
    let p256 = generate("ECC_NIST_P256")?;
    let ed25519 = generate("ECC_NIST_EDWARDS25519")?;
    let rsa2048 = generate("RSA_2048")?;
    let hmac256 = generate("HMAC_256")?;
    let p256_signature = asym::sign(
        "ECC_NIST_P256",
        &p256,
        "ECDSA_SHA_256",
        &message,
        MessageType::Raw,
    )
    .map_err(|e| anyhow!("ECDSA P-256 sign: {e}"))?;

    let mut rates = Vec::with_capacity(PRIMITIVES.len());
    for def in PRIMITIVES {
        let sign = |spec: &str, key: &[u8], alg: &str| {
            asym::sign(spec, key, alg, black_box(&message), MessageType::Raw)
                .map(|s| {
                    black_box(s);
                })
                .is_ok()
        };
        let timed = match def.name {
            "xchacha20poly1305-256B" => time_op(|| {
                black_box(aead::seal_xchacha(&aead_key, &[], black_box(&message)));
                true
            }),
            "aes256gcm-hkdf-256B" => time_op(|| {
                black_box(aead::seal_gcm(&aead_key, &[], black_box(&message)));
                true
            }),
            "ecdsa-p256-sign" => time_op(|| sign("ECC_NIST_P256", &p256, "ECDSA_SHA_256")),
            "ed25519-sign" => {
                time_op(|| sign("ECC_NIST_EDWARDS25519", &ed25519, "ED25519_SHA_512"))
            }
            "rsa2048-pss-sha256-sign" => {
                time_op(|| sign("RSA_2048", &rsa2048, "RSASSA_PSS_SHA_256"))
            }
            "ecdsa-p256-verify" => time_op(|| {
                asym::verify(
                    "ECC_NIST_P256",
                    &p256,
                    "ECDSA_SHA_256",
                    black_box(&message),
                    MessageType::Raw,
                    &p256_signature,
                ) == Ok(true)
            }),
            "hmac-sha256-256B" => time_op(|| {
                asym::generate_mac("HMAC_256", &hmac256, "HMAC_SHA_256", black_box(&message))
                    .map(|m| {
                        black_box(m);
                    })
                    .is_ok()
            }),
            other => bail!("primitive {other} has no measurement"),
        };
        let (ops, secs) = timed.map_err(|()| anyhow!("primitive {} failed", def.name))?;
        let rate = ops as f64 / secs;
        println!(
            "primitive {} rate={rate:.1}/s ops={ops} duration={secs:.2}s",
            def.name
        );
        rates.push(PrimitiveRate { def, rate });
    }
    Ok(rates)
}

// ---------------------------------------------------------------------------------------------
// Endpoint and credentials
// ---------------------------------------------------------------------------------------------

struct Endpoint {
    /// The `Host` header: the URL's authority as given.
    host: String,
    addr: SocketAddr,
}

async fn parse_endpoint(url: &str) -> anyhow::Result<Endpoint> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("endpoint {url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !(path.is_empty() || path == "/") {
        bail!("endpoint {url:?}: a path is not supported (the KMS endpoint is POST /)");
    }
    if authority.is_empty() || authority.contains('@') {
        bail!("endpoint {url:?}: bad host");
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (h, after) = bracketed
            .split_once(']')
            .ok_or_else(|| anyhow!("endpoint {url:?}: unclosed ["))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| anyhow!("endpoint {url:?}: bad port"))?,
            ),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p
            .parse()
            .map_err(|_| anyhow!("endpoint {url:?}: bad port {p:?}"))?,
    };
    let refuse = || {
        anyhow!(
            "endpoint {url:?}: refusing a non-loopback host (only 127.0.0.0/8, localhost and ::1)"
        )
    };
    let addr = if host.eq_ignore_ascii_case("localhost") {
        tokio::net::lookup_host(("localhost", port))
            .await
            .context("resolving localhost")?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(refuse)?
    } else {
        let ip: IpAddr = host.parse().map_err(|_| refuse())?;
        if !ip.is_loopback() {
            return Err(refuse());
        }
        SocketAddr::new(ip, port)
    };
    Ok(Endpoint {
        host: authority.to_owned(),
        addr,
    })
}

#[derive(Deserialize)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
    region: String,
}

fn read_credentials(path: &Path) -> anyhow::Result<Credentials> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// SigV4 signing
// ---------------------------------------------------------------------------------------------

/// Signs KMS requests; one per task, so nothing is shared or locked.
#[derive(Clone)]
struct Signer {
    creds: Arc<Credentials>,
    host: Arc<str>,
    /// Unix second `amz_date` was formatted for.
    second: i64,
    amz_date: String,
    /// `YYYYMMDD` that `key` was derived for.
    key: Option<(String, SigningKey)>,
}

impl Signer {
    fn new(creds: Arc<Credentials>, host: &str) -> Self {
        Self {
            creds,
            host: host.into(),
            second: i64::MIN,
            amz_date: String::new(),
            key: None,
        }
    }

    fn refresh_clock(&mut self) {
        let now = OffsetDateTime::now_utc();
        let second = now.unix_timestamp();
        if second == self.second {
            return;
        }
        self.second = second;
        self.amz_date = sigv4::format_amz_date(now);
        let date = &self.amz_date[..8];
        if self.key.as_ref().map(|(d, _)| d.as_str()) != Some(date) {
            let key = sigv4::derive_signing_key(
                self.creds.secret_access_key.as_bytes(),
                date,
                &self.creds.region,
                SERVICE,
            );
            self.key = Some((date.to_owned(), key));
        }
    }

    /// Appends a signed `GET path` (no query) to `out`.
    fn get_request(&mut self, out: &mut Vec<u8>, path: &str) {
        self.refresh_clock();
        let (_, key) = self.key.as_ref().expect("refresh_clock derives a key");
        let payload_hash = sigv4::sha256_hex(b"");
        let headers = [
            ("host", &*self.host),
            ("x-amz-date", self.amz_date.as_str()),
        ];
        let parts = sigv4::RequestParts {
            method: "GET",
            path,
            query: "",
            headers: &headers,
            payload_sha256_hex: &payload_hash,
        };
        let authorization = sigv4::authorization_header(
            &parts,
            &self.creds.access_key_id,
            key,
            &self.amz_date,
            &self.creds.region,
            SERVICE,
        );
        let _ = write!(
            out,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Amz-Date: {}\r\nAuthorization: {authorization}\r\n\r\n",
            self.host, self.amz_date,
        );
    }

    /// Appends a signed `POST /` with `X-Amz-Target: target` and `body` to `out`.
    fn kms_request(&mut self, out: &mut Vec<u8>, target: &str, body: &[u8]) {
        self.refresh_clock();
        let (_, key) = self.key.as_ref().expect("refresh_clock derives a key");
        let payload_hash = sigv4::sha256_hex(body);
        let headers = [
            ("content-type", JSON_1_1),
            ("host", &*self.host),
            ("x-amz-date", self.amz_date.as_str()),
            ("x-amz-target", target),
        ];
        let parts = sigv4::RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload_sha256_hex: &payload_hash,
        };
        let authorization = sigv4::authorization_header(
            &parts,
            &self.creds.access_key_id,
            key,
            &self.amz_date,
            &self.creds.region,
            SERVICE,
        );
        let _ = write!(
            out,
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {JSON_1_1}\r\nX-Amz-Target: {target}\r\n\
             X-Amz-Date: {}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
            self.host,
            self.amz_date,
            body.len()
        );
        out.extend_from_slice(body);
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

enum Failure {
    Connect(std::io::Error),
    Io(std::io::Error),
    Closed,
    Parse(String),
    Timeout,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::Io(e) => write!(f, "i/o: {e}"),
            Failure::Closed => f.write_str("connection closed before a complete response"),
            Failure::Parse(m) => write!(f, "bad response: {m}"),
            Failure::Timeout => write!(f, "no response within {REQUEST_TIMEOUT:?}"),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` on `conn` (connecting first if there is none) and reads one response.
/// On any failure the connection is dropped; on `Connection: close` too, after the response.
async fn exchange(
    endpoint: &Endpoint,
    conn: &mut Option<Conn>,
    request: &[u8],
) -> Result<Response, Failure> {
    if conn.is_none() {
        let stream = TcpStream::connect(endpoint.addr)
            .await
            .map_err(Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        *conn = Some(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        });
    }
    let c = conn.as_mut().expect("just connected");
    let result = exchange_on(c, request).await;
    match &result {
        Ok((_, true)) | Err(_) => *conn = None,
        Ok((_, false)) => {}
    }
    result.map(|(r, _)| r)
}

async fn fill(c: &mut Conn) -> Result<(), Failure> {
    c.buf.reserve(8192);
    match c.stream.read_buf(&mut c.buf).await {
        Ok(0) => Err(Failure::Closed),
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::Io(e)),
    }
}

/// Returns the response and whether the connection must be closed after it.
async fn exchange_on(c: &mut Conn, request: &[u8]) -> Result<(Response, bool), Failure> {
    c.stream.write_all(request).await.map_err(Failure::Io)?;

    // Head, up to CRLFCRLF.
    let mut scanned = 0;
    let head_end = loop {
        if let Some(i) = find(&c.buf[scanned..], b"\r\n\r\n") {
            break scanned + i + 4;
        }
        scanned = c.buf.len().saturating_sub(3);
        if c.buf.len() > MAX_HEADER_BYTES {
            return Err(Failure::Parse("response head too large".into()));
        }
        fill(c).await?;
    };
    let head = std::str::from_utf8(&c.buf[..head_end])
        .map_err(|_| Failure::Parse("response head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut fields = status_line.splitn(3, ' ');
    let version = fields.next().unwrap_or_default();
    let status: u16 = match (version, fields.next().map(str::parse)) {
        ("HTTP/1.1" | "HTTP/1.0", Some(Ok(s))) => s,
        _ => return Err(Failure::Parse(format!("status line {status_line:?}"))),
    };
    let mut close = version == "HTTP/1.0";
    let mut content_length: Option<usize> = None;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Failure::Parse(format!("header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse()
                .map_err(|_| Failure::Parse(format!("Content-Length {value:?}")))?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Failure::Parse(format!(
                "Transfer-Encoding {value:?} is not supported"
            )));
        }
    }

    let body = match content_length {
        Some(n) if n > MAX_BODY_BYTES => {
            return Err(Failure::Parse(format!("body of {n} bytes is too large")))
        }
        Some(n) => {
            while c.buf.len() < head_end + n {
                fill(c).await?;
            }
            let body = c.buf[head_end..head_end + n].to_vec();
            c.buf.drain(..head_end + n);
            body
        }
        None if status == 204 || status == 304 || (100..200).contains(&status) => {
            c.buf.drain(..head_end);
            Vec::new()
        }
        None => {
            // Body delimited by the end of the connection.
            close = true;
            loop {
                if c.buf.len() > head_end + MAX_BODY_BYTES {
                    return Err(Failure::Parse("body too large".into()));
                }
                match fill(c).await {
                    Ok(()) => {}
                    Err(Failure::Closed) => break,
                    Err(e) => return Err(e),
                }
            }
            c.buf[head_end..].to_vec()
        }
    };
    Ok((Response { status, body }, close))
}

/// One request on a fresh connection, for setup.
async fn one_shot(endpoint: &Endpoint, request: &[u8]) -> Result<Response, Failure> {
    let mut conn = None;
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange(endpoint, &mut conn, request)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout),
    }
}

async fn wait_ready(endpoint: &Endpoint, signer: &mut Signer) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut request = Vec::new();
    Healthz.request(signer, &mut request);
    loop {
        let last = match one_shot(endpoint, &request).await {
            Ok(r) if r.status == 200 => return Ok(()),
            Ok(r) => format!("/healthz said {}", r.status),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!(
                "server at {} not ready after {READY_TIMEOUT:?}: {last}",
                endpoint.host
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A signed KMS call for setup; returns the parsed 200 response.
async fn kms_call(
    endpoint: &Endpoint,
    signer: &mut Signer,
    target: &str,
    body: &[u8],
) -> anyhow::Result<serde_json::Value> {
    let mut request = Vec::new();
    signer.kms_request(&mut request, target, body);
    let response = one_shot(endpoint, &request)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let text = String::from_utf8_lossy(&response.body);
    if response.status != 200 {
        bail!("HTTP {}: {text}", response.status);
    }
    serde_json::from_slice(&response.body).with_context(|| format!("response is not JSON: {text}"))
}

// ---------------------------------------------------------------------------------------------
// Running a workload
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    /// Microseconds, one per counted request that got a response.
    latencies_us: Vec<u32>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.latencies_us.extend_from_slice(&other.latencies_us);
        self.requests += other.requests;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn connection_task(
    endpoint: Arc<Endpoint>,
    mut gen: Box<dyn RequestGen>,
    mut signer: Signer,
    measure_start: Instant,
    end: Instant,
    capacity: usize,
) -> Stats {
    let mut stats = Stats {
        latencies_us: Vec::with_capacity(capacity),
        ..Stats::default()
    };
    let mut conn: Option<Conn> = None;
    let mut request = Vec::with_capacity(2048);
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        request.clear();
        gen.request(&mut signer, &mut request);
        // A request still running at `end` is not counted, so there is no point waiting longer.
        let deadline = (start + REQUEST_TIMEOUT).min(end);
        let result =
            match tokio::time::timeout_at(deadline, exchange(&endpoint, &mut conn, &request)).await
            {
                Ok(r) => r,
                Err(_) => {
                    conn = None;
                    Err(Failure::Timeout)
                }
            };
        let done = Instant::now();
        let counted = done >= measure_start && done < end;
        let latency = u32::try_from((done - start).as_micros()).unwrap_or(u32::MAX);
        let outcome: Result<(), String> = match &result {
            Ok(r) if r.status == 200 => gen.check(&r.body),
            Ok(r) => Err(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
            )),
            Err(e) => Err(e.to_string()),
        };
        if counted {
            stats.requests += 1;
            if result.is_ok() {
                stats.latencies_us.push(latency);
            }
            if let Err(message) = outcome {
                stats.errors += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(message);
                }
            }
        }
        if matches!(result, Err(Failure::Connect(_))) {
            tokio::time::sleep(CONNECT_BACKOFF.min(end.saturating_duration_since(Instant::now())))
                .await;
        }
    }
    stats
}

struct Summary {
    name: &'static str,
    rate: f64,
    errors: u64,
    requests: u64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

async fn run_workload(
    def: &'static WorkloadDef,
    fixtures: &Fixtures,
    endpoint: &Arc<Endpoint>,
    signer: &Signer,
    args: &Args,
) -> Summary {
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    eprintln!(
        "# {}: {} connections, warm-up {:.1}s, measuring {:.1}s",
        def.name, args.connections, args.warmup, args.duration
    );
    let t0 = Instant::now();
    let measure_start = t0 + warmup;
    let end = measure_start + duration;
    // A first guess (2000 requests/s per connection); the Vec grows if it is short.
    let capacity = ((args.duration * 2000.0) as usize).min(1 << 20);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(connection_task(
                endpoint.clone(),
                (def.new)(fixtures),
                signer.clone(),
                measure_start,
                end,
                capacity,
            ))
        })
        .collect();
    let mut stats = Stats::default();
    for task in tasks {
        match task.await {
            Ok(s) => stats.merge(s),
            Err(e) => {
                stats.errors += 1;
                stats
                    .first_error
                    .get_or_insert_with(|| format!("task failed: {e}"));
            }
        }
    }
    let mut lat = stats.latencies_us;
    lat.sort_unstable();
    let secs = duration.as_secs_f64();
    let rate = stats.requests as f64 / secs;
    let ms = |us: f64| us / 1000.0;
    // Names padded to a common column (at least 10 wide, and one space after the longest).
    let width = args
        .workload
        .iter()
        .map(|w| w.len() + 1)
        .max()
        .unwrap_or(0)
        .max(10);
    println!(
        "{:<width$}connections={} duration={:.1}s requests={} rate={:.1}/s p50={:.2}ms p99={:.2}ms max={:.2}ms errors={}",
        def.name,
        args.connections,
        secs,
        stats.requests,
        rate,
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().map_or(0.0, f64::from)),
        stats.errors
    );
    if let Some(e) = &stats.first_error {
        eprintln!("# {}: first error: {e}", def.name);
    }
    Summary {
        name: def.name,
        rate,
        errors: stats.errors,
        requests: stats.requests,
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let endpoint = Arc::new(parse_endpoint(&args.endpoint).await?);
    let creds = Arc::new(read_credentials(&args.credentials)?);
    let mut signer = Signer::new(creds, &endpoint.host);

    wait_ready(&endpoint, &mut signer).await?;
    eprintln!(
        "# endpoint {} ({}), threads {}",
        endpoint.host, endpoint.addr, args.threads
    );
    let needs: Vec<Need> = args
        .workload
        .iter()
        .flat_map(|name| workload(name).expect("validated in main").needs)
        .copied()
        .collect();
    let fixtures = Fixtures::create(&endpoint, &mut signer, &needs).await?;

    let primitives = if args.primitives {
        eprintln!(
            "# primitives: one thread, in-process, {:.1}s each",
            PRIMITIVE_DURATION.as_secs_f64()
        );
        tokio::task::spawn_blocking(measure_primitives)
            .await
            .context("primitive measurement")??
    } else {
        Vec::new()
    };

    let mut summaries = Vec::new();
    for name in &args.workload {
        let def = workload(name).expect("validated in main");
        summaries.push(run_workload(def, &fixtures, &endpoint, &signer, &args).await);
    }

    if summaries.len() > 1 {
        let base = summaries
            .iter()
            .find(|s| s.name == "healthz")
            .unwrap_or(&summaries[0]);
        let mut line = String::from("ratio");
        for s in summaries.iter().filter(|s| s.name != base.name) {
            let ratio = if base.rate > 0.0 {
                s.rate / base.rate
            } else {
                0.0
            };
            let _ = write!(line, " {}/{}={ratio:.2}", s.name, base.name);
        }
        println!("{line}");
    }
    print_ratios(&summaries, &primitives);

    let failed: Vec<_> = summaries
        .iter()
        .filter(|s| s.errors > 0 || s.requests == 0)
        .map(|s| s.name)
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "# workloads with errors or no completed requests: {}",
            failed.join(",")
        );
        Ok(ExitCode::from(1))
    }
}

/// Ratio lines against encrypt (same run) and against each workload's primitive.
fn print_ratios(summaries: &[Summary], primitives: &[PrimitiveRate]) {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    if let Some(encrypt) = summaries.iter().find(|s| s.name == "encrypt") {
        for s in summaries
            .iter()
            .filter(|s| s.name != "encrypt" && s.name != "healthz")
        {
            let r = ratio(s.rate, encrypt.rate);
            match TARGETS.iter().find(|(name, _)| *name == s.name) {
                Some((_, target)) => {
                    println!("ratio {}/encrypt={r:.2} (target >= {target:.2})", s.name);
                    if r < *target {
                        eprintln!("# target missed: {}/encrypt={r:.2} < {target:.2}", s.name);
                    }
                }
                None => println!("ratio {}/encrypt={r:.2}", s.name),
            }
        }
    }
    for (name, against, target) in PAIR_TARGETS {
        let rate = |n: &str| summaries.iter().find(|s| s.name == n).map(|s| s.rate);
        if let (Some(a), Some(b)) = (rate(name), rate(against)) {
            let r = ratio(a, b);
            println!("ratio {name}/{against}={r:.2} (target >= {target:.2})");
            if r < *target {
                eprintln!("# target missed: {name}/{against}={r:.2} < {target:.2}");
            }
        }
    }
    for s in summaries {
        if let Some(p) = primitives.iter().find(|p| p.def.workload == s.name) {
            println!(
                "ratio {}/primitive={:.2} ({} {:.1}/s on one core)",
                s.name,
                ratio(s.rate, p.rate),
                p.def.name,
                p.rate
            );
        }
    }
}

fn main() -> ExitCode {
    let matches = Args::command().after_help(workload_help()).get_matches();
    let mut args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let mut check = || -> anyhow::Result<()> {
        if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= MAX_DURATION_SECS)
        {
            bail!("--duration must be in (0, {MAX_DURATION_SECS}] seconds");
        }
        if !(args.warmup.is_finite() && args.warmup >= 0.0 && args.warmup <= MAX_WARMUP_SECS) {
            bail!("--warmup must be in [0, {MAX_WARMUP_SECS}] seconds");
        }
        if args.workload.is_empty() {
            bail!("--workload is empty");
        }
        if args.workload.iter().any(|w| w == ALL) {
            args.workload = WORKLOADS.iter().map(|w| w.name.to_owned()).collect();
            args.primitives = true;
        }
        for name in &args.workload {
            if workload(name).is_none() {
                let known: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
                bail!(
                    "unknown workload {name:?} (known: {}, {ALL})",
                    known.join(", ")
                );
            }
        }
        Ok(())
    };
    if let Err(e) = check() {
        eprintln!("keyledger-bench: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads as usize)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyledger-bench: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keyledger-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
