//! CloudTrail records of API calls (the body of every usage event).

use super::{ApiError, CallRecord, Caller, RequestContext};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// CloudTrail's record format version that these records follow.
pub const EVENT_VERSION: &str = "1.11";

/// The eventName to record: the operation, or `Unknown` when it is not one (bounded, no caller junk).
pub fn event_name(operation: &str) -> &str {
    let plausible = !operation.is_empty()
        && operation.len() <= 64
        && operation.bytes().all(|b| b.is_ascii_alphanumeric());
    if plausible {
        operation
    } else {
        "Unknown"
    }
}

/// `2026-11-23T10:00:00Z`: CloudTrail's eventTime (whole seconds).
pub fn event_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn cloudtrail_record(
    ctx: &RequestContext,
    caller: Option<&Caller>,
    event_id: Uuid,
    now: OffsetDateTime,
    event_name: &str,
    record: &CallRecord,
    error: Option<&ApiError>,
) -> Value {
    let user_identity = match caller {
        Some(c) => json!({
            "type": "IAMUser",
            "principalId": c.access_key_id,
            "arn": c.principal_arn,
            "accountId": c.account.as_str(),
            "accessKeyId": c.access_key_id,
            "userName": c.user_name,
        }),
        None => {
            let mut identity = Map::new();
            identity.insert("type".into(), json!("Unknown"));
            if let Some(akid) = &ctx.access_key_id {
                identity.insert("accessKeyId".into(), json!(akid));
            }
            Value::Object(identity)
        }
    };
    let resources: Vec<Value> = record
        .resources
        .iter()
        .map(|arn| {
            let account = arn.split(':').nth(4).unwrap_or_default();
            json!({"accountId": account, "type": "AWS::KMS::Key", "ARN": arn})
        })
        .collect();
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(EVENT_VERSION));
    r.insert("userIdentity".into(), user_identity);
    r.insert("eventTime".into(), json!(event_time(now)));
    r.insert("eventSource".into(), json!("kms.amazonaws.com"));
    r.insert("eventName".into(), json!(event_name));
    r.insert("awsRegion".into(), json!(ctx.region.as_str()));
    r.insert("sourceIPAddress".into(), json!(ctx.source_ip));
    r.insert("userAgent".into(), json!(ctx.user_agent));
    if let Some(e) = error {
        r.insert("errorCode".into(), json!(e.code()));
        r.insert("errorMessage".into(), json!(e.to_string()));
    }
    r.insert(
        "requestParameters".into(),
        record.request_parameters.clone(),
    );
    r.insert(
        "responseElements".into(),
        if error.is_some() {
            Value::Null
        } else {
            record.response_elements.clone()
        },
    );
    r.insert("requestID".into(), json!(ctx.request_id));
    r.insert("eventID".into(), json!(event_id.to_string()));
    r.insert("readOnly".into(), json!(record.read_only));
    r.insert("resources".into(), Value::Array(resources));
    r.insert("eventType".into(), json!("AwsApiCall"));
    r.insert("managementEvent".into(), json!(true));
    if let Some(c) = caller {
        r.insert("recipientAccountId".into(), json!(c.account.as_str()));
    }
    r.insert("eventCategory".into(), json!("Management"));
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_bounded() {
        assert_eq!(event_name("Encrypt"), "Encrypt");
        assert_eq!(event_name(""), "Unknown");
        assert_eq!(event_name("Drop Table;"), "Unknown");
        assert_eq!(event_name(&"A".repeat(65)), "Unknown");
    }

    #[test]
    fn event_time_is_whole_seconds_utc() {
        let t = time::macros::datetime!(2026-11-23 10:00:01.987 UTC);
        assert_eq!(event_time(t), "2026-11-23T10:00:01Z");
    }
}
