//! Every bound on what a caller can make the service store, in one place.
//!
//! The ledger is permanent, so whatever a request carries is bounded before it reaches an
//! event: AWS's bound where the AWS KMS API Reference gives one, ours (documented in the
//! README's operations section) elsewhere. A value over its bound is refused with an AWS
//! error and recorded as a short, escaped prefix and its length ([`truncated`]); error
//! messages quote a caller's value only through [`echo`].

use serde_json::Value;

/// `KeyId` and the key id members of every operation (AWS: 1–2048).
pub const MAX_KEY_ID: usize = 2048;
/// Alias names (AWS: 1–256).
pub const MAX_ALIAS_NAME: usize = crate::domain::alias::MAX_ALIAS_NAME;
/// Tag keys and values (AWS: 1–128 and 0–256 characters).
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;
/// Key descriptions (AWS: 0–8192 characters).
pub const MAX_DESCRIPTION: usize = 8192;
/// Key policies (AWS: 1–32768 characters).
pub const MAX_POLICY: usize = 32768;
/// The encryption context of one call: pairs, and UTF-8 bytes of its keys and values. The
/// API Reference gives no bound (a string-to-string map); these are ours, far above what
/// AWS services and the Encryption SDKs send.
pub const MAX_ENCRYPTION_CONTEXT_PAIRS: usize = 64;
pub const MAX_ENCRYPTION_CONTEXT_BYTES: usize = 8192;

/// An access key id (IAM: 16–128 word characters). One that is not of this form is refused
/// before any key is looked up, and recorded through [`recorded_access_key_id`].
pub const MIN_ACCESS_KEY_ID: usize = 16;
pub const MAX_ACCESS_KEY_ID: usize = 128;
/// The `User-Agent` as recorded (CloudTrail's `userAgent`); longer ones are cut.
pub const MAX_USER_AGENT: usize = 256;
/// Any one request header; a longer one refuses the request before SigV4 reads it.
pub const MAX_HEADER_VALUE: usize = 8192;

/// How much of a caller's value an error message or a truncated record quotes.
pub const ECHO_PREFIX: usize = 32;
/// An error message as recorded (and answered).
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// A call's `requestParameters` as recorded, serialized: members are replaced by
/// [`truncated`] summaries, largest first, until the rest fits. A successful call keeps up
/// to 56 KiB (a 32768-character policy fits unless most of it is escaped in JSON), so that
/// its whole record stays under a trail entry's 65,535 bytes (`ledger::MAX_EVENT_BYTES`);
/// a failed one, whose values may be the very thing refused, 8 KiB.
pub const MAX_RECORDED_PARAMETERS: usize = 56 * 1024;
pub const MAX_RECORDED_FAILED_PARAMETERS: usize = 8 * 1024;

/// A caller's value for an error message: at most [`ECHO_PREFIX`] characters, control and
/// non-ASCII characters escaped, and the length when it was cut.
pub fn echo(value: &str) -> String {
    let mut out = String::with_capacity(ECHO_PREFIX + 16);
    for c in value.chars().take(ECHO_PREFIX) {
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    let len = value.chars().count();
    if len > ECHO_PREFIX {
        out.push_str(&format!("… ({len} characters)"));
    }
    out
}

/// What is recorded of a value over its bound: its escaped prefix and its length.
pub fn truncated(value: &str) -> String {
    format!(
        "{}… (truncated, {} bytes)",
        echo(&value.chars().take(ECHO_PREFIX).collect::<String>()),
        value.len()
    )
}

/// An access key id of the form IAM issues (16–128 word characters).
pub fn is_access_key_id(id: &str) -> bool {
    (MIN_ACCESS_KEY_ID..=MAX_ACCESS_KEY_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The claimed access key id as the trail keeps it: verbatim when it is short and
/// printable, otherwise [`truncated`].
pub fn recorded_access_key_id(id: &str) -> String {
    let printable = id.len() <= MAX_ACCESS_KEY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if printable {
        id.to_owned()
    } else {
        truncated(id)
    }
}

/// A region name of AWS's form: `us-east-1`, `us-gov-west-1`, `us-iso-east-1`,
/// `us-isob-east-1` (`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$`).
pub fn is_aws_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let Some(country) = parts.next() else {
        return false;
    };
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let rest = match rest.as_slice() {
        [p, rest @ ..] if *p == "gov" || is_iso(p) => rest,
        rest => rest,
    };
    match rest {
        [direction, number] => {
            !direction.is_empty()
                && direction.len() <= 16
                && direction.bytes().all(|b| b.is_ascii_lowercase())
                && (1..=2).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

fn is_iso(part: &str) -> bool {
    match part.strip_prefix("iso") {
        Some("") => true,
        Some(suffix) => suffix.len() == 1 && suffix.bytes().all(|b| b.is_ascii_lowercase()),
        None => false,
    }
}

/// An error message as recorded and answered: at most [`MAX_ERROR_MESSAGE`] characters.
pub fn error_message(message: String) -> String {
    if message.chars().count() <= MAX_ERROR_MESSAGE {
        return message;
    }
    let cut: String = message.chars().take(MAX_ERROR_MESSAGE).collect();
    format!("{cut}… (truncated, {} bytes)", message.len())
}

/// Bound a call's `requestParameters` for the ledger to `limit` serialized bytes (see
/// [`MAX_RECORDED_PARAMETERS`]).
pub fn bound_parameters(parameters: &mut Value, limit: usize) {
    let Value::Object(members) = parameters else {
        return;
    };
    let size = |v: &Value| serde_json::to_string(v).map_or(0, |s| s.len());
    let mut total = size(&Value::Object(members.clone()));
    if total <= limit {
        return;
    }
    let mut by_size: Vec<(String, usize)> = members
        .iter()
        .map(|(name, value)| (name.clone(), size(value)))
        .collect();
    by_size.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
    for (name, len) in by_size {
        if total <= limit {
            break;
        }
        if let Some(value) = members.get_mut(&name) {
            let text = match &mut *value {
                Value::String(s) => std::mem::take(s),
                other => other.to_string(),
            };
            let summary = truncated(&text);
            total = total.saturating_sub(len) + summary.len() + 2;
            *value = Value::String(summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_is_short_and_escaped() {
        assert_eq!(echo("abc"), "abc");
        assert_eq!(echo("a\nb\u{7}"), "a\\nb\\u{7}");
        let long = "x".repeat(60_000);
        let echoed = echo(&long);
        assert!(echoed.len() < 64, "{echoed}");
        assert!(echoed.ends_with("(60000 characters)"));
        assert_eq!(echo("é"), "\\u{e9}");
    }

    #[test]
    fn truncated_says_the_length() {
        let t = truncated(&"A".repeat(60_000));
        assert!(t.starts_with(&"A".repeat(ECHO_PREFIX)));
        assert!(t.ends_with("(truncated, 60000 bytes)"), "{t}");
        assert!(t.len() < 80);
    }

    #[test]
    fn access_key_ids() {
        assert!(is_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("AKIDEXAMPLE"));
        assert!(!is_access_key_id(&"A".repeat(129)));
        assert!(!is_access_key_id("AKIAIOSFODNN7EXAMPL/"));
        assert_eq!(recorded_access_key_id("AKIDEXAMPLE"), "AKIDEXAMPLE");
        assert!(recorded_access_key_id(&"A".repeat(60_000)).len() < 80);
    }

    #[test]
    fn regions_of_aws_form() {
        for ok in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-central-12",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "us-east-123",
            "use-east-1",
            "us-east-1a",
            "a1b2c3",
            "us-isoab-east-1",
            "US-EAST-1",
            "us--1",
            "us-east-1-",
        ] {
            assert!(!is_aws_region(bad), "{bad}");
        }
    }

    #[test]
    fn oversized_parameters_are_summarised_largest_first() {
        let context: serde_json::Map<String, Value> = (0..20_000)
            .map(|i| (format!("k{i}"), Value::String("v".into())))
            .collect();
        let mut p = serde_json::json!({"keyId": "alias/a", "encryptionContext": context});
        bound_parameters(&mut p, MAX_RECORDED_PARAMETERS);
        assert_eq!(p["keyId"], "alias/a");
        let summary = p["encryptionContext"].as_str().unwrap();
        assert!(summary.contains("truncated"), "{summary}");
        assert!(p.to_string().len() < 200);
        let mut small = serde_json::json!({"keyId": "k"});
        bound_parameters(&mut small, MAX_RECORDED_FAILED_PARAMETERS);
        assert_eq!(small, serde_json::json!({"keyId": "k"}));
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(error_message("short".into()), "short");
        let cut = error_message("m".repeat(10_000));
        assert!(cut.len() < MAX_ERROR_MESSAGE + 40);
        assert!(cut.ends_with("(truncated, 10000 bytes)"));
    }
}
