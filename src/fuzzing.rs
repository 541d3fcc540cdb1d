//! What must hold of the parsers at the edge for *any* input, checked by the fuzz targets
//! (`fuzz/`), the corpus replay test (`tests/fuzz_corpus.rs`) and the property tests
//! (`tests/parser_properties.rs`) alike. Each check feeds bytes to the real parser —
//! nothing here parses on its own — and asserts more than "no panic": a parse that succeeds
//! survives a round trip, a normalised path is a fixed point, a refusal is short. A failed
//! check panics; that is the finding.
//!
//! Not part of the service: `#[doc(hidden)]`, and nothing in the server calls it.

use crate::app::request::{decode_shape, SHAPED_OPERATIONS};
use crate::crypto::ciphertext;
use crate::crypto::secret::SecretKey;
use crate::domain::events::Envelope;
use crate::domain::ids::KeyId;
use crate::domain::policy::{Context, Policy, PolicyKind, Principal, Request};
use crate::http::sigv4;

/// One check: panics on an input the parser mishandles.
pub type Check = fn(&[u8]);

/// Every check, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, Check)] = &[
    ("aws_json", aws_json),
    ("ciphertext", ciphertext_blob),
    ("policy", policy),
    ("sigv4", sigv4_headers),
    ("event", event),
];

/// The check of the fuzz target `name`.
pub fn target(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Longest refusal message a caller may get back for a body or a document (they are
/// recorded in the ledger for good, and must not echo the input).
const MAX_MESSAGE: usize = 1024;

// ---------------------------------------------------------------------------------------
// a. AWS JSON request bodies

/// The body as every operation with a typed shape decodes it.
///
/// - A body that decodes is UTF-8, and decoding the same JSON written out again gives the
///   same request (no dependence on spacing, escapes or member order).
/// - A refusal is a `SerializationException` with a short message that quotes none of the
///   body's longer strings.
pub fn aws_json(body: &[u8]) {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let long_strings = value.as_ref().map(long_strings).unwrap_or_default();
    for &operation in SHAPED_OPERATIONS {
        let decoded = decode_shape(operation, body).expect("SHAPED_OPERATIONS all have shapes");
        match decoded {
            Ok(request) => {
                if body.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                assert!(
                    std::str::from_utf8(body).is_ok(),
                    "{operation}: decoded a body that is not UTF-8"
                );
                // serde_json skips an ignored member without reading its number (`1e999`
                // passes there and nowhere else): such a body has no `Value` to re-write.
                let Some(value) = value.as_ref() else {
                    continue;
                };
                let again = decode_shape(operation, value.to_string().as_bytes())
                    .expect("SHAPED_OPERATIONS all have shapes")
                    .unwrap_or_else(|e| panic!("{operation}: re-written body refused: {e}"));
                assert_eq!(
                    request, again,
                    "{operation}: re-written body decodes otherwise"
                );
            }
            Err(crate::app::ApiError::Serialization(message)) => {
                assert!(
                    message.len() <= MAX_MESSAGE,
                    "{operation}: {} byte message",
                    message.len()
                );
                for s in &long_strings {
                    assert!(
                        !message.contains(s.as_str()),
                        "{operation}: message quotes the body: {message}"
                    );
                }
            }
            Err(other) => panic!("{operation}: a body is refused as {other:?}"),
        }
    }
}

/// Strings (members' names and values) of 24 characters or more anywhere in `value`.
fn long_strings(value: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if s.len() >= 24 => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(members) => {
                for (name, v) in members {
                    if name.len() >= 24 {
                        out.push(name.clone());
                    }
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// b. Ciphertext blobs

/// The blob through [`ciphertext::parse_header`] and [`ciphertext::decrypt`].
///
/// - A header that parses names a key id that prints and parses back to itself, and a blob
///   encrypted for that key id and version parses to the same key id and version and
///   decrypts.
/// - A blob whose header does not parse never decrypts.
pub fn ciphertext_blob(blob: &[u8]) {
    let material = SecretKey::from_bytes([7; 32]);
    let decrypted = ciphertext::decrypt(&material, blob, b"");
    match ciphertext::parse_header(blob) {
        Ok(header) => {
            assert_eq!(
                KeyId::parse(&header.key_id.to_string()),
                Some(header.key_id)
            );
            let sealed = ciphertext::encrypt(&material, &header.key_id, header.version, b"c", b"p");
            let again = ciphertext::parse_header(&sealed).expect("our own blob parses");
            assert_eq!(
                (again.key_id, again.version),
                (header.key_id, header.version)
            );
            let opened = ciphertext::decrypt(&material, &sealed, b"c").expect("our own blob opens");
            assert_eq!(&opened[..], b"p");
        }
        Err(_) => assert!(decrypted.is_err(), "a blob without a header decrypted"),
    }
}

// ---------------------------------------------------------------------------------------
// c. Policy documents

/// The document parsed as each kind of policy.
///
/// - A document that parses, written out again as JSON (members reordered, spacing and
///   escapes changed), parses to a policy with the same version, id and statements that
///   decides a handful of requests the same way.
/// - A refusal's message is short.
pub fn policy(document: &[u8]) {
    let Ok(text) = std::str::from_utf8(document) else {
        return;
    };
    for kind in [PolicyKind::Key, PolicyKind::Trust, PolicyKind::Identity] {
        match Policy::parse(text, kind) {
            Ok(policy) => {
                assert_eq!(policy.kind(), kind);
                let value: serde_json::Value =
                    serde_json::from_str(text).expect("a parsed policy is JSON");
                let again = Policy::parse(&value.to_string(), kind)
                    .unwrap_or_else(|e| panic!("re-written {kind:?} policy refused: {e}"));
                assert_eq!(policy.version(), again.version());
                assert_eq!(policy.id(), again.id());
                assert_eq!(
                    policy.statement_ids().collect::<Vec<_>>(),
                    again.statement_ids().collect::<Vec<_>>()
                );
                for_each_request(|request| {
                    assert_eq!(
                        policy.evaluate(request),
                        again.evaluate(request),
                        "re-written {kind:?} policy decides {} on {} otherwise",
                        request.action,
                        request.resource
                    );
                });
            }
            Err(e) => assert!(e.0.len() <= MAX_MESSAGE, "{} byte message", e.0.len()),
        }
    }
}

/// A few requests that between them meet most of the grammar: a root caller and a role
/// session, kms/sts/iam actions, a key ARN and `*`, and common condition keys.
fn for_each_request(mut check: impl FnMut(&Request<'_>)) {
    let root = Principal {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:root".into(),
        session_arn: None,
        root: true,
    };
    let session = Principal {
        account: "444455556666".into(),
        arn: "arn:aws:iam::444455556666:role/admin".into(),
        session_arn: Some("arn:aws:sts::444455556666:assumed-role/admin/s".into()),
        root: false,
    };
    let mut context = Context::new();
    context.set_one("kms:CallerAccount", "111122223333");
    context.set_one("kms:EncryptionContext:Dept", "Finance");
    context.set(
        "kms:EncryptionContextKeys",
        vec!["Dept".into(), "Team".into()],
    );
    context.set_one("aws:SourceIp", "10.1.2.3");
    context.set_one("aws:CurrentTime", "2026-12-03T06:00:00Z");
    context.set_one("aws:SecureTransport", "true");
    context.set_one("kms:GrantIsForAWSResource", "false");
    context.set_one("aws:PrincipalArn", "arn:aws:iam::444455556666:role/admin");
    let empty = Context::new();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for principal in [&root, &session] {
        for action in [
            "kms:Encrypt",
            "kms:CreateGrant",
            "sts:AssumeRole",
            "iam:CreateUser",
        ] {
            for resource in [key, "*"] {
                for context in [&context, &empty] {
                    check(&Request {
                        principal,
                        action,
                        resource,
                        context,
                    });
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// d. SigV4

/// The input as one header value to each SigV4 parser, and as lines — `Authorization`,
/// `X-Amz-Date`, path, query, then `name:value` headers — to the canonical request.
///
/// - An `Authorization` header that parses, written out in the canonical form, parses to
///   the same thing.
/// - An `X-Amz-Date` that parses formats back to itself.
/// - A normalised path starts with `/`, has no empty, `.` or `..` segments, and is its own
///   normalisation.
/// - A request signed by [`sigv4::authorization_header`] verifies.
pub fn sigv4_headers(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    authorization(text);
    amz_date(text);
    path(text);

    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or_default();
    let date = lines.next().unwrap_or_default();
    let raw_path = lines.next().unwrap_or_default();
    let query = lines.next().unwrap_or_default();
    let headers: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once(':')).collect();
    authorization(header);
    amz_date(date);
    path(raw_path);

    // Whatever the header and date lines say, the canonical request of these parts is
    // written or refused without a panic, and verification answers.
    let payload = sigv4::sha256_hex(input);
    let key = sigv4::derive_signing_key(b"secret", "20261203", "us-east-1", "kms");
    let parts = sigv4::RequestParts {
        method: "POST",
        path: raw_path,
        query,
        headers: &headers,
        payload_sha256_hex: &payload,
    };
    if let Ok(auth) = sigv4::parse_authorization(header) {
        let _ = sigv4::canonical_request(&parts, auth.signed_headers);
        let _ = sigv4::verify(&parts, &auth, date, &key);
    }

    // What we sign, we verify: for header names SigV4 can carry and a well-formed date.
    if sigv4::parse_amz_date(date).is_err()
        || !headers.iter().all(|(name, _)| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        })
    {
        return;
    }
    let mut with_host = headers.clone();
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        with_host.push(("host", "kms.us-east-1.amazonaws.com"));
    }
    let parts = sigv4::RequestParts {
        headers: &with_host,
        ..parts
    };
    let key = sigv4::derive_signing_key(b"secret", &date[..8], "us-east-1", "kms");
    let signed = sigv4::authorization_header(&parts, "AKIDEXAMPLE", &key, date, "us-east-1", "kms");
    let auth = sigv4::parse_authorization(&signed)
        .unwrap_or_else(|e| panic!("our own Authorization header is refused: {e}: {signed}"));
    if let Err(e) = sigv4::verify(&parts, &auth, date, &key) {
        panic!("a request we signed does not verify: {e}");
    }
}

fn authorization(header: &str) {
    let Ok(auth) = sigv4::parse_authorization(header) else {
        return;
    };
    let canonical = format!(
        "{} Credential={}/{}/{}/{}/{}, SignedHeaders={}, Signature={}",
        sigv4::ALGORITHM,
        auth.access_key_id,
        auth.date,
        auth.region,
        auth.service,
        sigv4::SCOPE_TERMINATOR,
        auth.signed_headers,
        hex::encode(auth.signature)
    );
    let again = sigv4::parse_authorization(&canonical)
        .unwrap_or_else(|e| panic!("canonical form refused: {e}: {canonical}"));
    assert_eq!(auth, again, "{canonical}");
}

fn amz_date(text: &str) {
    if let Ok(t) = sigv4::parse_amz_date(text) {
        assert_eq!(sigv4::format_amz_date(t), text);
    }
}

fn path(raw: &str) {
    let normal = sigv4::normalize_path(raw);
    assert!(normal.starts_with('/'), "{raw:?} → {normal:?}");
    let inner = &normal[1..];
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if !inner.is_empty() {
        assert!(
            inner.split('/').all(|s| !matches!(s, "" | "." | "..")),
            "{raw:?} → {normal:?}"
        );
    }
    assert_eq!(
        sigv4::normalize_path(&normal),
        normal,
        "not idempotent on {raw:?}"
    );
}

// ---------------------------------------------------------------------------------------
// e. Stored events

/// The bytes as a stored event's data, through [`Envelope::decode`] (what replay and the
/// projections read) and `replay::columns::derive` (what `verify` and the SQLite reader
/// derive a ledger row's indexed columns with).
///
/// - An envelope that decodes writes out again, and the written bytes decode to an equal
///   envelope and then write out to the same bytes.
/// - The columns of those written bytes derive (always, for a lifecycle event), and agree
///   with the envelope.
pub fn event(data: &[u8]) {
    let _ = replay::columns::derive(data);
    let Ok(envelope) = Envelope::decode(data) else {
        return;
    };
    let written = serde_json::to_vec(&envelope).expect("a decoded envelope serialises");
    let again = Envelope::decode(&written)
        .unwrap_or_else(|e| panic!("a re-written envelope is refused: {e}"));
    // serde_json's `float_roundtrip` feature (Cargo.toml) makes floats byte-stable too.
    assert!(
        serde_json::to_vec(&again).expect("a decoded envelope serialises") == written,
        "writing is not stable"
    );
    // Equality of the typed values for lifecycle events; CloudTrail bodies are compared as
    // bytes above.
    if envelope.lifecycle().is_some() {
        assert_eq!(envelope, again);
    }
    let columns = match replay::columns::derive(&written) {
        Ok(columns) => columns,
        // A usage event's CloudTrail body is free JSON to the decoder; `verify` reads its
        // `resources` and `userIdentity` and refuses a body where they have the wrong shape.
        // Lifecycle bodies are typed: theirs always derive.
        Err(_) if envelope.lifecycle().is_none() => return,
        Err(e) => panic!("columns of a written lifecycle envelope: {e}"),
    };
    assert_eq!(columns.event_name, envelope.event_name);
    assert_eq!(columns.stream.as_deref(), envelope.stream.as_deref());
    assert_eq!(
        columns.stream_version,
        envelope.stream_version.map(|v| v as i64)
    );
    assert_eq!(columns.event_id, envelope.event_id.to_string());
    assert_eq!(columns.time_ns, envelope.time.unix_timestamp_nanos() as i64);
    assert_eq!(
        columns.error_code.as_deref(),
        envelope.error_code.as_deref()
    );
}
