//! Parsing a request at the edge: the JSON body into its shape, AWS's validation
//! messages for lengths, ranges and enums, and the small helpers every operation's
//! record and reply use.
use super::ApiError;
use crate::domain::key::Key;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use time::OffsetDateTime;

pub(crate) const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // JSON text is UTF-8 (RFC 8259 section 8.1). serde_json checks only the strings it keeps:
    // without this, a member the shape ignores could carry any bytes, and one body would be
    // refused by one operation and taken by another (found by fuzzing: fuzz/README.md).
    let body = std::str::from_utf8(body).map_err(|e| {
        ApiError::Serialization(format!(
            "The request body could not be read: it is not UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let body = if body.bytes().all(|b| b.is_ascii_whitespace()) {
        "{}"
    } else {
        body
    };
    serde_json::from_str(body).map_err(|e| {
        ApiError::Serialization(format!(
            "The request body could not be read: {}",
            parse_error_message(&e)
        ))
    })
}

/// The operations whose request shapes live in [`shapes`](super::shapes), as the dispatcher
/// (`operations`) names them.
#[doc(hidden)]
pub const SHAPED_OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "EnableKey",
    "DisableKey",
    "ListKeys",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
];

/// `body` decoded by [`parse`] into the shape the dispatcher gives `operation`, printed with
/// `Debug` (blobs print their length only); `None` for an operation not in
/// [`SHAPED_OPERATIONS`]. The entry point of the fuzz targets and the corpus replay test.
#[doc(hidden)]
pub fn decode_shape(operation: &str, body: &[u8]) -> Option<Result<String, ApiError>> {
    use super::shapes::*;
    fn shown<T: DeserializeOwned + std::fmt::Debug>(body: &[u8]) -> Result<String, ApiError> {
        parse::<T>(body).map(|request| format!("{request:?}"))
    }
    Some(match operation {
        "CreateKey" => shown::<CreateKeyRequest>(body),
        "DescribeKey" | "EnableKey" | "DisableKey" => shown::<KeyIdRequest>(body),
        "ListKeys" => shown::<ListKeysRequest>(body),
        "Encrypt" => shown::<EncryptRequest>(body),
        "Decrypt" => shown::<DecryptRequest>(body),
        "ReEncrypt" => shown::<ReEncryptRequest>(body),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            shown::<GenerateDataKeyRequest>(body)
        }
        "GenerateRandom" => shown::<GenerateRandomRequest>(body),
        _ => return None,
    })
}

/// serde's message without the caller's values: serde quotes them (``invalid type: integer
/// `123`, expected a string``, `invalid type: string "…"`), and the message is recorded in
/// the ledger for good. What is kept: the kind of error, what was expected (the service's
/// own words), and where.
fn parse_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message);
    // The last `, expected `: serde's own. An earlier one can only be inside the caller's
    // quoted value, and what follows it there is theirs (found by fuzzing: fuzz/README.md).
    let (head, expected) = match text.rsplit_once(", expected ") {
        Some((head, expected)) => (head, Some(expected)),
        None => (text, None),
    };
    let head = head
        .find([':', '`', '"'])
        .map_or(head, |end| &head[..end])
        .trim_end();
    let mut message = head.to_owned();
    if let Some(expected) = expected {
        message.push_str(", expected ");
        message.extend(expected.chars().take(256));
    }
    format!("{message} at line {} column {}", e.line(), e.column())
}

pub(crate) fn epoch_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

pub(crate) fn check_length(
    member: &str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    if len < min {
        return Err(ApiError::constraint(
            member,
            None,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(ApiError::constraint(
            member,
            None,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An enum member: absent → `default`; unknown → AWS's enum-constraint ValidationException.
pub(crate) fn parse_enum<T>(
    member: &str,
    value: Option<&str>,
    default: T,
    parse: fn(&str) -> Option<T>,
    value_set: fn() -> String,
) -> Result<T, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => parse(v).ok_or_else(|| {
            ApiError::constraint(
                member,
                Some(v),
                &format!("Member must satisfy enum value set: {}", value_set()),
            )
        }),
    }
}

pub(crate) fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if value < min {
        return Err(ApiError::constraint(
            member,
            Some(&value.to_string()),
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(ApiError::constraint(
            member,
            Some(&value.to_string()),
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_key_id_param(member: &str, key_id: Option<&str>) -> Result<(), ApiError> {
    match key_id {
        None => Err(ApiError::missing(member)),
        Some(k) => check_length(member, k.len(), 1, super::limits::MAX_KEY_ID),
    }
}

/// An encryption context within [`limits`](super::limits)' bounds (pairs, and bytes of its
/// keys and values).
pub(crate) fn check_encryption_context(
    member: &str,
    context: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    use super::limits::{MAX_ENCRYPTION_CONTEXT_BYTES, MAX_ENCRYPTION_CONTEXT_PAIRS};
    let Some(context) = context else {
        return Ok(());
    };
    if context.len() > MAX_ENCRYPTION_CONTEXT_PAIRS {
        return Err(ApiError::constraint(
            member,
            None,
            &format!(
                "Map must have at most {MAX_ENCRYPTION_CONTEXT_PAIRS} entries (it has {})",
                context.len()
            ),
        ));
    }
    let bytes: usize = context.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ENCRYPTION_CONTEXT_BYTES {
        return Err(ApiError::constraint(
            member,
            None,
            &format!(
                "Keys and values must total at most {MAX_ENCRYPTION_CONTEXT_BYTES} bytes (they total {bytes})"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_grant_tokens(tokens: &Option<Vec<String>>) -> Result<(), ApiError> {
    if let Some(tokens) = tokens {
        if tokens.len() > 10 {
            return Err(ApiError::constraint(
                "grantTokens",
                None,
                "Member must have length less than or equal to 10",
            ));
        }
        for t in tokens {
            check_length("grantTokens.member", t.len(), 1, 8192)?;
        }
    }
    Ok(())
}

pub(crate) fn wrong_usage(key: &Key, operation: &str) -> ApiError {
    ApiError::InvalidKeyUsage(format!(
        "{} key usage is {} which is not valid for {operation}.",
        key.arn,
        key.usage.as_str()
    ))
}

/// A boolean condition value as IAM writes it.
pub(crate) fn bool_text(value: Option<bool>) -> &'static str {
    if value == Some(true) {
        "true"
    } else {
        "false"
    }
}

pub(crate) fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, value| !value.is_null());
    }
    v
}

/// Page through `items` after an opaque marker (the index of the next item).
pub(crate) fn page<'a, T>(
    items: &'a [T],
    limit: Option<i64>,
    (default, max): (i64, i64),
    marker: Option<&str>,
) -> Result<(Vec<&'a T>, Option<String>), ApiError> {
    let limit = limit.unwrap_or(default);
    check_range("limit", limit, 1, max)?;
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= items.len())
            .ok_or_else(|| ApiError::InvalidMarker("Invalid marker.".into()))?,
    };
    let end = (start + limit as usize).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].iter().collect(), next))
}

pub(crate) fn paged(mut response: Value, next: Option<String>) -> Value {
    response["Truncated"] = json!(next.is_some());
    if let Some(next) = next {
        response["NextMarker"] = json!(next);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Shape {
        key_id: Option<String>,
        number_of_bytes: Option<i64>,
        encryption_context: Option<std::collections::BTreeMap<String, String>>,
    }

    fn message(body: &str) -> String {
        match parse::<Shape>(body.as_bytes()) {
            Err(ApiError::Serialization(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_errors_never_quote_the_callers_values() {
        let m = message(r#"{"KeyId": 123456789}"#);
        assert!(!m.contains("123456789"), "{m}");
        assert!(m.contains("invalid type, expected a string"), "{m}");
        let secret = "s3cr3t-plaintext-value";
        for body in [
            format!(r#"{{"NumberOfBytes": "{secret}"}}"#),
            format!(r#"{{"EncryptionContext": {{"a": ["{secret}"]}}}}"#),
            format!(r#"{{"KeyId": "{secret}"#),
            format!(r#"{{"KeyId": {secret}}}"#),
            // fuzz/regressions/aws_json/expected_inside_the_value.json
            format!(r#""x, expected {secret}""#),
            format!(r#"{{"NumberOfBytes": "x, expected {secret}"}}"#),
            format!(r#"{{"KeyId": ["at line 1, expected {secret}"]}}"#),
        ] {
            let m = message(&body);
            assert!(!m.contains(secret), "{body}: {m}");
            assert!(m.contains(" at line 1 column "), "{m}");
        }
    }

    #[test]
    fn bodies_that_are_not_utf8_are_refused_even_in_ignored_members() {
        // fuzz/regressions/aws_json/ignored_member_not_utf8.json: `Shape` ignores `Other`.
        let body = b"{\"KeyId\": \"k\", \"Other\": \"caf\xef-\"}";
        match parse::<Shape>(body) {
            Err(ApiError::Serialization(m)) => {
                assert_eq!(
                    m,
                    "The request body could not be read: it is not UTF-8 (at byte 28)"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(parse::<Shape>("{\"KeyId\": \"k\", \"Other\": \"café\"}".as_bytes()).is_ok());
    }

    proptest::proptest! {
        /// Whatever the body, parsing answers (no panic) and a failure's message is short
        /// and quotes nothing long of the body.
        #[test]
        fn any_body_parses_or_fails_briefly(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
                                            word in "[a-zA-Z]{40}") {
            let _ = parse::<Shape>(&body);
            let quoted = format!(r#"{{"KeyId": ["{word}"], "NumberOfBytes": "{word}"}}"#);
            if let Err(e) = parse::<Shape>(quoted.as_bytes()) {
                let m = e.to_string();
                proptest::prop_assert!(!m.contains(&word), "{}", m);
                proptest::prop_assert!(m.len() < 400);
            }
        }
    }
}
