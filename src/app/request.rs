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
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the offending member and type, never a value.
        ApiError::Serialization(format!("The request body could not be read: {e}"))
    })
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
        Some(k) => check_length(member, k.len(), 1, 2048),
    }
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
