//! CloudTrail records of API calls (the body of every usage event).

use super::{ApiError, CallRecord, Caller, RequestContext};
use serde::Serialize;
use serde_json::Value;
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<&'static str>,
    /// A role session's issuer (the role) and attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct Resource<'a> {
    #[serde(rename = "accountId")]
    pub account_id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "ARN")]
    pub arn: &'a str,
}

/// One CloudTrail record, borrowing from the call it describes (no copies on the hot path).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailRecord<'a> {
    pub event_version: &'static str,
    pub user_identity: UserIdentity<'a>,
    pub event_time: String,
    pub event_source: &'static str,
    pub event_name: &'a str,
    pub aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: &'a str,
    pub user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: &'a Value,
    pub response_elements: &'a Value,
    /// `{"fipsMode": bool}`: whether the call ran in FIPS mode (decision 0015).
    pub additional_event_data: AdditionalEventData,
    #[serde(rename = "requestID")]
    pub request_id: &'a str,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    pub resources: Vec<Resource<'a>>,
    pub event_type: &'static str,
    pub management_event: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<&'a str>,
    pub event_category: &'static str,
}

impl CloudTrailRecord<'_> {
    /// What the trail index files this record under besides the log's columns, from the
    /// very values it serializes (so the writer need not parse them back; debug builds check
    /// that it would have read the same: `ledger::trail::index_terms`). `read_only` is the
    /// envelope's.
    pub fn index_terms(&self, read_only: bool) -> crate::ledger::trail::RecordTerms<'static> {
        use std::borrow::Cow;
        let owned = |v: Option<&str>| v.map(|v| Cow::Owned(v.to_owned()));
        crate::ledger::trail::RecordTerms {
            read_only: Some(read_only),
            region: owned(Some(self.aws_region)),
            account: owned(self.recipient_account_id),
            resource_types: self
                .resources
                .iter()
                .map(|r| Cow::Borrowed(r.kind))
                .collect(),
            principal_arn: owned(self.user_identity.arn),
            access_key_id: owned(self.user_identity.access_key_id),
            user_name: owned(self.user_identity.user_name),
        }
    }
}

/// CloudTrail's `additionalEventData` of a keyledger call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalEventData {
    pub fips_mode: bool,
}

/// The body of a usage event as written: `{"event_type":"ApiCallRecorded","body":{…}}`.
#[derive(Debug, Serialize)]
#[serde(tag = "event_type", content = "body")]
pub enum UsageBody<'a> {
    ApiCallRecorded(CloudTrailRecord<'a>),
}

const NULL: Value = Value::Null;

/// Where a call was made: CloudTrail's `eventSource`.
pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";
pub const IAM_EVENT_SOURCE: &str = "iam.amazonaws.com";
pub const STS_EVENT_SOURCE: &str = "sts.amazonaws.com";

/// The caller as CloudTrail shapes it: `Root`, `IAMUser` or `AssumedRole` (with its
/// `sessionContext`). `principal_id`: the user's `AIDA…` id, or a session's
/// `AROA…:<session>` (its role's id first); without it, the access key id stands in.
pub fn user_identity<'a>(c: &'a Caller, principal_id: Option<&'a str>) -> UserIdentity<'a> {
    use super::CallerKind;
    let base = UserIdentity {
        kind: Some("IAMUser"),
        principal_id: Some(principal_id.unwrap_or(&c.access_key_id)),
        arn: Some(&c.principal_arn),
        account_id: Some(c.account.as_str()),
        access_key_id: Some(&c.access_key_id),
        user_name: Some(&c.user_name),
        invoked_by: None,
        session_context: None,
    };
    match &c.kind {
        CallerKind::User => base,
        CallerKind::Root => UserIdentity {
            kind: Some("Root"),
            principal_id: Some(c.account.as_str()),
            user_name: None,
            ..base
        },
        CallerKind::AssumedRole {
            role_arn,
            role_name,
            issued,
            ..
        } => {
            let role_id = principal_id.and_then(|p| p.split(':').next());
            UserIdentity {
                kind: Some("AssumedRole"),
                user_name: None,
                session_context: Some(serde_json::json!({
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role_id,
                        "arn": role_arn,
                        "accountId": c.account.as_str(),
                        "userName": role_name,
                    },
                    "attributes": {
                        "creationDate": event_time(*issued),
                        "mfaAuthenticated": "false",
                    },
                })),
                ..base
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn cloudtrail_record<'a>(
    ctx: &'a RequestContext,
    caller: Option<&'a Caller>,
    principal_id: Option<&'a str>,
    event_id: Uuid,
    now: OffsetDateTime,
    event_name: &'a str,
    record: &'a CallRecord,
    error: Option<&ApiError>,
) -> CloudTrailRecord<'a> {
    let user_identity = match (caller, &record.service_account) {
        (Some(c), _) => user_identity(c, principal_id),
        (None, Some(account)) => UserIdentity {
            kind: None,
            principal_id: None,
            arn: None,
            account_id: Some(account.as_str()),
            access_key_id: None,
            user_name: None,
            invoked_by: Some(super::scheduler::SERVICE_PRINCIPAL),
            session_context: None,
        },
        (None, None) => UserIdentity {
            kind: Some("Unknown"),
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: ctx.access_key_id.as_deref(),
            user_name: None,
            invoked_by: None,
            session_context: None,
        },
    };
    let resources = record
        .resources
        .iter()
        .map(|arn| Resource {
            account_id: arn.split(':').nth(4).unwrap_or_default(),
            kind: "AWS::KMS::Key",
            arn,
        })
        .collect();
    CloudTrailRecord {
        event_version: EVENT_VERSION,
        user_identity,
        event_time: event_time(now),
        event_source: record.event_source.unwrap_or(KMS_EVENT_SOURCE),
        event_name,
        aws_region: ctx.region.as_str(),
        source_ip_address: &ctx.source_ip,
        user_agent: &ctx.user_agent,
        error_code: error.map(|e| e.code()),
        error_message: error.map(|e| super::limits::error_message(e.to_string())),
        request_parameters: &record.request_parameters,
        response_elements: if error.is_some() {
            &NULL
        } else {
            &record.response_elements
        },
        additional_event_data: AdditionalEventData {
            fips_mode: crate::crypto::mode::fips(),
        },
        request_id: &ctx.request_id,
        event_id: event_id.to_string(),
        read_only: record.read_only,
        resources,
        event_type: if record.service_account.is_some() {
            "AwsServiceEvent"
        } else {
            "AwsApiCall"
        },
        management_event: true,
        recipient_account_id: caller
            .map(|c| c.account.as_str())
            .or(record.service_account.as_ref().map(|a| a.as_str())),
        event_category: "Management",
    }
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

    /// The terms a usage event's record gives the trail index are the ones its JSON would
    /// give (the writer takes them instead of parsing), whatever the record holds.
    #[test]
    fn a_records_index_terms_are_what_its_json_says() {
        use crate::domain::events::{Envelope, EVENT_VERSION};
        use crate::ledger::trail::RecordTerms;
        let parameters = serde_json::json!({"keyId": "k"});
        let identity = |arn, key, user| UserIdentity {
            kind: Some("IAMUser"),
            principal_id: Some("AIDA1"),
            arn,
            account_id: Some("111122223333"),
            access_key_id: key,
            user_name: user,
            invoked_by: None,
            session_context: None,
        };
        let resource = |kind| Resource {
            account_id: "111122223333",
            kind,
            arn: "arn:aws:kms:eu-west-1:111122223333:key/k",
        };
        let cases = [
            (
                identity(
                    Some("arn:aws:iam::111122223333:user/a\"b\\c\u{e9}\u{3000}"),
                    Some("AKIA1"),
                    Some(""),
                ),
                vec![resource("AWS::KMS::Key"), resource("AWS::KMS::Key")],
                Some("111122223333"),
                true,
            ),
            (identity(None, None, None), vec![], None, false),
        ];
        for (user_identity, resources, recipient, read_only) in cases {
            let record = CloudTrailRecord {
                event_version: "1.11",
                user_identity,
                event_time: "2026-12-07T10:00:00Z".into(),
                event_source: KMS_EVENT_SOURCE,
                event_name: "Encrypt",
                aws_region: "eu-west-1",
                source_ip_address: "127.0.0.1",
                user_agent: "t",
                error_code: None,
                error_message: None,
                request_parameters: &parameters,
                response_elements: &NULL,
                additional_event_data: AdditionalEventData { fips_mode: false },
                request_id: "r",
                event_id: "e".into(),
                read_only,
                resources,
                event_type: "AwsApiCall",
                management_event: true,
                recipient_account_id: recipient,
                event_category: "Management",
            };
            let given = record.index_terms(read_only);
            let envelope = Envelope {
                event_id: uuid::Uuid::now_v7(),
                event_version: EVENT_VERSION,
                time: time::OffsetDateTime::UNIX_EPOCH,
                stream: None,
                stream_version: None,
                request_id: "r".into(),
                event_name: "Encrypt".into(),
                read_only,
                actor: None,
                error_code: None,
                error_message: None,
                body: UsageBody::ApiCallRecorded(record),
            };
            let json = serde_json::to_vec(&envelope).unwrap();
            assert_eq!(RecordTerms::from_json(&json), Some(given));
        }
    }

    #[test]
    fn event_time_is_whole_seconds_utc() {
        let t = time::macros::datetime!(2026-11-23 10:00:01.987 UTC);
        assert_eq!(event_time(t), "2026-11-23T10:00:01Z");
    }
}
