//! The columns the ledger stores beside each event's JSON, derived from the JSON alone.
//! The server writes them from typed values; `verify` derives them again here and refuses
//! a ledger whose columns disagree with what the chain covers.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What an event's JSON says its indexed columns are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedColumns {
    pub event_name: String,
    pub stream: Option<String>,
    pub stream_version: Option<i64>,
    pub event_id: String,
    pub time_ns: i64,
    /// Key ids, space-separated; `None` when the event concerns no key.
    pub keys: Option<String>,
    pub error_code: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    event_name: String,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    stream_version: Option<i64>,
    event_id: String,
    #[serde(borrow)]
    time: &'a str,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    body: Option<Body>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "ARN")]
    arn: String,
}

/// The key id at the end of a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
pub fn key_id_of_arn(arn: &str) -> Option<&str> {
    arn.rsplit_once(":key/").map(|(_, id)| id)
}

/// Derive the columns of a stored event from its JSON.
pub fn derive(data: &[u8]) -> Result<DerivedColumns, String> {
    let e: Envelope = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let time = OffsetDateTime::parse(e.time, &Rfc3339).map_err(|err| err.to_string())?;
    let keys: Vec<&str> = match &e.stream {
        // A lifecycle event concerns the key whose stream it is on.
        Some(stream) => stream.strip_prefix("key/").into_iter().collect(),
        // A usage event concerns the keys of its CloudTrail record's resources.
        None => e
            .body
            .as_ref()
            .map(|b| {
                b.resources
                    .iter()
                    .filter_map(|r| key_id_of_arn(&r.arn))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok(DerivedColumns {
        event_name: e.event_name,
        stream: e.stream.clone(),
        stream_version: e.stream_version,
        event_id: e.event_id,
        time_ns: time.unix_timestamp_nanos() as i64,
        keys: (!keys.is_empty()).then(|| keys.join(" ")),
        error_code: e.error_code,
    })
}
