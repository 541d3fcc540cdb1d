//! The columns the ledger stores beside each event's JSON, derived from the JSON alone.
//! The server writes them from typed values; `verify` derives them again here and refuses
//! a ledger whose columns disagree with what the chain covers.

use serde::Deserialize;
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// Borrowed where the JSON has no escapes: `verify` derives the columns of every event, and
// the allocations were a fifth of that.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event_name: Cow<'a, str>,
    #[serde(default, borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(default)]
    stream_version: Option<i64>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    time: &'a str,
    #[serde(default, borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    actor: Option<Actor<'a>>,
    #[serde(default, borrow)]
    body: Option<Body<'a>>,
}

#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(default, borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    principal_arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, borrow)]
    resources: Vec<Resource<'a>>,
    #[serde(default, rename = "userIdentity", borrow)]
    user_identity: Option<UserIdentity<'a>>,
}

#[derive(Deserialize)]
struct UserIdentity<'a> {
    #[serde(default, rename = "accountId", borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(rename = "ARN", borrow)]
    arn: Cow<'a, str>,
}

/// What an event's JSON says its indexed columns are, borrowed from the JSON where it can
/// be (`verify` derives the columns of every event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedColumns<'a> {
    pub event_name: Cow<'a, str>,
    pub stream: Option<Cow<'a, str>>,
    pub stream_version: Option<i64>,
    pub event_id: Cow<'a, str>,
    pub time_ns: i64,
    /// Key ids, space-separated; `None` when the event concerns no key.
    pub keys: Option<String>,
    pub error_code: Option<Cow<'a, str>>,
    /// The calling account: a usage event's `userIdentity.accountId`, a lifecycle event's
    /// actor's account; `None` when the caller is unknown (authentication failed).
    pub account: Option<Cow<'a, str>>,
    /// The calling principal's ARN: `userIdentity.arn`, or the lifecycle actor's principal;
    /// `None` for an unknown caller and for the service itself (AwsServiceEvent).
    pub principal: Option<Cow<'a, str>>,
}

/// The key id at the end of a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
pub fn key_id_of_arn(arn: &str) -> Option<&str> {
    arn.rsplit_once(":key/").map(|(_, id)| id)
}

/// The `keys` column of a lifecycle event on `stream`: the key whose stream it is.
pub fn lifecycle_keys(stream: &str) -> Option<String> {
    stream.strip_prefix("key/").map(str::to_owned)
}

/// The `keys` column of a usage event whose CloudTrail resources are these ARNs: their key
/// ids, separated by spaces, each once; `None` when there are none.
pub fn usage_keys<'a>(arns: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut keys: Vec<&str> = Vec::new();
    for id in arns.into_iter().filter_map(key_id_of_arn) {
        if !keys.contains(&id) {
            keys.push(id);
        }
    }
    (!keys.is_empty()).then(|| keys.join(" "))
}

/// Derive the columns of a stored event from its JSON.
pub fn derive(data: &[u8]) -> Result<DerivedColumns<'_>, String> {
    // One UTF-8 check of the whole event, then a parse that need not check each string.
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let e: Envelope = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let time = OffsetDateTime::parse(e.time, &Rfc3339).map_err(|err| err.to_string())?;
    let keys = match &e.stream {
        // A lifecycle event concerns the key whose stream it is on.
        Some(stream) => lifecycle_keys(stream),
        // A usage event concerns the keys of its CloudTrail record's resources.
        None => usage_keys(
            e.body
                .iter()
                .flat_map(|b| b.resources.iter().map(|r| r.arn.as_ref())),
        ),
    };
    // A lifecycle event's caller is its actor; a usage event's, its CloudTrail userIdentity.
    let (account, principal) = match (&e.stream, e.actor, e.body) {
        (Some(_), Some(actor), _) => (actor.account_id, actor.principal_arn),
        (
            None,
            _,
            Some(Body {
                user_identity: Some(u),
                ..
            }),
        ) => (u.account_id, u.arn),
        _ => (None, None),
    };
    Ok(DerivedColumns {
        event_name: e.event_name,
        stream: e.stream,
        stream_version: e.stream_version,
        event_id: e.event_id,
        time_ns: time.unix_timestamp_nanos() as i64,
        keys,
        error_code: e.error_code,
        account,
        principal,
    })
}
