//! The audit trail for auditors: `GET /v1/trail` (recorded as `ListTrailEvents`), CloudTrail's
//! `LookupEvents`, and KMS's `GetKeyLastUsage` — all read-only, all answered from read models
//! kept in the append transaction (`trail_index`, `key_usage`), never by scanning the log.
//!
//! Pages are newest first by (event time, position) and stable: the first page fixes the
//! log's head, and a `NextToken` carries it with the (time, position) to continue below and a
//! fingerprint of the query, so a page never repeats or skips an event, never shows one
//! appended after the first page, and a token is refused with other parameters.

use super::authz::Facts;
use super::limits::echo;
use super::operations::Resolve;
use super::request::{epoch_seconds, parse, without_nulls};
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::ids::KeyRef;
use crate::ledger::trail::{Cursor, Scope, TrailFilter, TrailHit, TrailQuery};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The event name `GET /v1/trail` is recorded under.
pub const LIST_TRAIL_EVENTS: &str = "ListTrailEvents";
/// CloudTrail's operation, recorded under its own name.
pub const LOOKUP_EVENTS: &str = "LookupEvents";
/// KMS's operation.
pub const GET_KEY_LAST_USAGE: &str = "GetKeyLastUsage";
/// Operations of other endpoints: a `TrentService.` target never reaches them.
pub const NOT_KMS_OPERATIONS: &[&str] = &[LIST_TRAIL_EVENTS, LOOKUP_EVENTS];

/// `GET /v1/trail`: 50 events per page unless asked, at most 1,000.
const REST_DEFAULT_RESULTS: i64 = 50;
const REST_MAX_RESULTS: i64 = 1000;
/// LookupEvents: 1 through 50, 50 by default (CloudTrail API Reference).
const LOOKUP_MAX_RESULTS: i64 = 50;
/// The only event source keyledger records.
const EVENT_SOURCE: &str = "kms.amazonaws.com";

fn ledger_error(e: crate::ledger::StoreError) -> ApiError {
    ApiError::Internal(format!("The trail cannot be read: {e}"))
}

/// What a `NextToken` says: where to continue and on which snapshot of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageToken {
    cursor: Cursor,
    up_to: u64,
    fingerprint: u64,
}

const TOKEN_VERSION: &str = "1";

impl PageToken {
    fn encode(&self) -> String {
        let text = format!(
            "{TOKEN_VERSION}.{}.{}.{}.{:016x}",
            self.cursor.time_ns, self.cursor.position, self.up_to, self.fingerprint
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn decode(token: &str) -> Option<PageToken> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        if parts.next()? != TOKEN_VERSION {
            return None;
        }
        let time_ns = parts.next()?.parse().ok()?;
        let position = parts.next()?.parse().ok()?;
        let up_to = parts.next()?.parse().ok()?;
        let fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
        // A position beyond i64 could not be a ledger position (and would overflow the
        // cursor's bound).
        if parts.next().is_some() || position == 0 || position > i64::MAX as u64 {
            return None;
        }
        Some(PageToken {
            cursor: Cursor { time_ns, position },
            up_to,
            fingerprint,
        })
    }
}

/// What a token is bound to: the scope, the filters and the time range.
fn fingerprint(query: &TrailQuery) -> u64 {
    let text = format!(
        "{}\n{:?}\n{:?}",
        query.terms().join("\n"),
        query.start_ns,
        query.end_ns
    );
    let hash = blake3::hash(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_be_bytes(first)
}

/// The CloudTrail record of a stored usage event.
fn record(hit: &TrailHit) -> Result<Value, ApiError> {
    let event: Value = serde_json::from_slice(&hit.data)
        .map_err(|e| ApiError::Internal(format!("Event {} cannot be read: {e}", hit.position)))?;
    Ok(event.get("body").cloned().unwrap_or(Value::Null))
}

/// Unix nanoseconds from epoch seconds (fractions kept to the nanosecond).
fn seconds_to_ns(seconds: f64) -> Option<i64> {
    let ns = seconds * 1e9;
    (ns.is_finite() && ns.abs() < i64::MAX as f64).then_some(ns as i64)
}

fn ns_to_seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// `GET /v1/trail`'s parameters, as the HTTP layer passes them (query strings).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TrailRequest {
    #[serde(rename = "KeyId")]
    key_id: Option<String>,
    #[serde(rename = "EventName")]
    event_name: Option<String>,
    #[serde(rename = "Principal")]
    principal: Option<String>,
    #[serde(rename = "ErrorCode")]
    error_code: Option<String>,
    #[serde(rename = "ReadOnly")]
    read_only: Option<String>,
    #[serde(rename = "StartTime")]
    start_time: Option<String>,
    #[serde(rename = "EndTime")]
    end_time: Option<String>,
    #[serde(rename = "MaxResults")]
    max_results: Option<String>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

/// A time of `/v1/trail`: RFC 3339 or Unix seconds.
fn rest_time(member: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp_nanos() as i64);
    }
    text.parse::<f64>()
        .ok()
        .and_then(seconds_to_ns)
        .ok_or_else(|| {
            ApiError::Validation(format!(
                "{member} must be an RFC 3339 time (2026-03-03T00:00:00Z) or Unix seconds, not '{}'",
                echo(text)
            ))
        })
}

/// `ReadOnly`: `true` or `false`, as CloudTrail writes it.
fn read_only_value(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A LookupEvents `LookupAttribute`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttribute {
    attribute_key: Option<String>,
    attribute_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct LookupEventsRequest {
    lookup_attributes: Option<Vec<LookupAttribute>>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// A timestamp of the JSON protocol: epoch seconds (a number).
fn lookup_time(member: &str, value: &Value) -> Result<i64, ApiError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64().and_then(seconds_to_ns),
        // Lenient: an ISO 8601 string, as some hand-written clients send.
        Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp_nanos() as i64),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::Serialization(format!(
            "{member} must be a timestamp in epoch seconds, not {value}"
        ))
    })
}

fn invalid_token() -> ApiError {
    ApiError::InvalidNextToken("A token you provided is not valid.".into())
}

/// A LookupEvents event from a CloudTrail record.
fn lookup_event(record: &Value, time_ns: i64) -> Value {
    let identity = &record["userIdentity"];
    let resources: Vec<Value> = record["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| json!({ "ResourceType": r["type"], "ResourceName": r["ARN"] }))
                .collect()
        })
        .unwrap_or_default();
    without_nulls(json!({
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": record["readOnly"].as_bool().map(|b| b.to_string()),
        "AccessKeyId": identity["accessKeyId"],
        // eventTime is whole seconds; so is this.
        "EventTime": time_ns.div_euclid(1_000_000_000),
        "EventSource": record["eventSource"],
        "Username": identity["userName"],
        "Resources": resources,
        "CloudTrailEvent": record.to_string(),
    }))
}

impl Service {
    /// Whose trail a caller sees: its account's, in the request's region.
    fn trail_scope(caller: &Caller, ctx: &RequestContext) -> Scope {
        Scope {
            account: caller.account.to_string(),
            region: ctx.region.to_string(),
        }
    }

    /// The key id a trail filter names: a key id or key ARN as it is (a deleted key's trail
    /// stays readable), an alias resolved to its key now. `Err` for what names no key of the
    /// caller's.
    fn trail_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        text: &str,
    ) -> Result<String, ApiError> {
        let alias_key = |alias: &str| {
            self.projections
                .aliases
                .get(&ctx.region, &caller.account, alias)
                // The id the trail names the key by (a multi-Region key's `mrk-` id).
                .map(|a| self.projections.keys.shown_id(&a.key_id).to_string())
                .ok_or_else(|| ApiError::NotFound(format!("Alias {alias} is not found.")))
        };
        match KeyRef::parse(text) {
            Some(KeyRef::Id(id)) => Ok(id.to_string()),
            Some(KeyRef::Arn {
                region,
                account,
                key_id,
            }) if region == ctx.region && account == caller.account => Ok(key_id.to_string()),
            // The key an alias of the caller's names now. A query uses no key, so this reads
            // the alias projection, not `resolve`: it creates no AWS managed key.
            Some(KeyRef::AliasName(alias)) => alias_key(&alias),
            Some(KeyRef::AliasArn {
                region,
                account,
                alias,
            }) if region == ctx.region && account == caller.account => alias_key(&alias),
            Some(KeyRef::Arn { .. } | KeyRef::AliasArn { .. }) => Err(ApiError::NotFound(format!(
                "Key '{}' does not exist",
                echo(text)
            ))),
            None => Err(ApiError::NotFound(format!(
                "Invalid keyId '{}'",
                echo(text)
            ))),
        }
    }

    /// One page of `query` (its `limit` events at most) and the token of the next, if any.
    async fn trail_page(
        &self,
        mut query: TrailQuery,
        token: Option<&str>,
    ) -> Result<(Vec<TrailHit>, Option<String>), ApiError> {
        let fingerprint = fingerprint(&query);
        match token {
            Some(token) => {
                let token = PageToken::decode(token)
                    .filter(|t| t.fingerprint == fingerprint)
                    .ok_or_else(invalid_token)?;
                query.before = Some(token.cursor);
                query.up_to = Some(token.up_to);
            }
            None => query.up_to = Some(self.reader.head().await.map_err(ledger_error)?.position),
        }
        let limit = query.limit;
        // One more than a page: whether there is a next page without a second query.
        query.limit = limit + 1;
        let mut hits = self.reader.trail(&query).await.map_err(ledger_error)?;
        let next = if hits.len() > limit {
            hits.truncate(limit);
            hits.last().map(|last| {
                PageToken {
                    cursor: Cursor {
                        time_ns: last.time_ns,
                        position: last.position,
                    },
                    up_to: query.up_to.unwrap_or_default(),
                    fingerprint,
                }
                .encode()
            })
        } else {
            None
        };
        Ok((hits, next))
    }

    /// `GET /v1/trail`: any of the filters at once, newest first.
    pub(crate) async fn list_trail_events(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.read_only = true;
        let params: serde_json::Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::Validation(format!("Invalid trail query: {e}")))?;
        if let Some((name, _)) = params.iter().find(|(_, v)| !v.is_string()) {
            return Err(ApiError::Validation(format!(
                "The query parameter {name} is given more than once."
            )));
        }
        let req: TrailRequest = serde_json::from_value(Value::Object(params)).map_err(|e| {
            ApiError::Validation(format!(
                "Invalid trail query: {e} (the parameters are KeyId, EventName, Principal, \
                 ErrorCode, ReadOnly, StartTime, EndTime, MaxResults, NextToken)"
            ))
        })?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id, "eventName": req.event_name, "principal": req.principal,
            "errorCode": req.error_code, "readOnly": req.read_only, "startTime": req.start_time,
            "endTime": req.end_time, "maxResults": req.max_results, "nextToken": req.next_token,
        }));
        let mut filters = Vec::new();
        if let Some(key) = &req.key_id {
            filters.push(TrailFilter::Key(self.trail_key(caller, ctx, key)?));
        }
        let nonempty = |member: &str, v: &str| {
            if v.is_empty() {
                Err(ApiError::Validation(format!("{member} must not be empty")))
            } else {
                Ok(v.to_owned())
            }
        };
        if let Some(name) = &req.event_name {
            filters.push(TrailFilter::EventName(nonempty("EventName", name)?));
        }
        if let Some(principal) = &req.principal {
            let principal = nonempty("Principal", principal)?;
            filters.push(if principal.starts_with("arn:") {
                TrailFilter::Principal(principal)
            } else {
                TrailFilter::AccessKey(principal)
            });
        }
        if let Some(code) = &req.error_code {
            filters.push(TrailFilter::ErrorCode(nonempty("ErrorCode", code)?));
        }
        if let Some(read_only) = &req.read_only {
            let value = read_only_value(read_only).ok_or_else(|| {
                ApiError::Validation(format!(
                    "ReadOnly must be true or false, not '{}'",
                    echo(read_only)
                ))
            })?;
            filters.push(TrailFilter::ReadOnly(value));
        }
        let start_ns = req
            .start_time
            .as_deref()
            .map(|t| rest_time("StartTime", t))
            .transpose()?;
        let end_ns = req
            .end_time
            .as_deref()
            .map(|t| rest_time("EndTime", t))
            .transpose()?;
        if let (Some(start), Some(end)) = (start_ns, end_ns) {
            if start > end {
                return Err(ApiError::Validation(
                    "StartTime must not be after EndTime".into(),
                ));
            }
        }
        let limit = match &req.max_results {
            None => REST_DEFAULT_RESULTS,
            Some(text) => {
                let n = text.parse::<i64>().map_err(|_| {
                    ApiError::Validation(format!(
                        "MaxResults must be a number, not '{}'",
                        echo(text)
                    ))
                })?;
                super::request::check_range("MaxResults", n, 1, REST_MAX_RESULTS)?;
                n
            }
        };
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        let query = TrailQuery {
            scope: Self::trail_scope(caller, ctx),
            filters,
            start_ns,
            end_ns,
            before: None,
            up_to: None,
            limit: limit as usize,
        };
        let (hits, next) = self.trail_page(query, req.next_token.as_deref()).await?;
        let events = hits.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        Ok(without_nulls(
            json!({ "Events": events, "NextToken": next }),
        ))
    }

    /// CloudTrail's LookupEvents, as the CloudTrail API Reference gives it.
    pub(crate) async fn lookup_events(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        rec.read_only = true;
        let req: LookupEventsRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "lookupAttributes": req.lookup_attributes.as_ref().map(|attrs| attrs.iter().map(|a| json!({
                "attributeKey": a.attribute_key, "attributeValue": a.attribute_value,
            })).collect::<Vec<_>>()),
            "startTime": req.start_time, "endTime": req.end_time,
            "eventCategory": req.event_category, "maxResults": req.max_results,
            "nextToken": req.next_token,
        }));
        let attributes = req.lookup_attributes.unwrap_or_default();
        if attributes.len() > 1 {
            return Err(ApiError::InvalidLookupAttributes(
                "You cannot specify more than one lookup attribute.".into(),
            ));
        }
        let mut filter: Option<TrailFilter> = None;
        // Set when the request can match nothing keyledger records (still validated in full).
        let mut matches_nothing = false;
        if let Some(attribute) = attributes.first() {
            let key = attribute.attribute_key.as_deref().unwrap_or_default();
            let value = attribute.attribute_value.as_deref().unwrap_or_default();
            if value.is_empty() || value.len() > 2000 {
                return Err(ApiError::InvalidLookupAttributes(
                    "The AttributeValue of a lookup attribute must be 1 to 2000 characters.".into(),
                ));
            }
            filter = match key {
                "EventId" => Some(TrailFilter::EventId(value.to_owned())),
                "EventName" => Some(TrailFilter::EventName(value.to_owned())),
                "ReadOnly" => Some(TrailFilter::ReadOnly(read_only_value(value).ok_or_else(
                    || {
                        ApiError::InvalidLookupAttributes(format!(
                            "The value of the ReadOnly lookup attribute must be true or false, not '{}'.",
                            echo(value)
                        ))
                    },
                )?)),
                "Username" => Some(TrailFilter::User(value.to_owned())),
                "AccessKeyId" => Some(TrailFilter::AccessKey(value.to_owned())),
                "ResourceType" => Some(TrailFilter::ResourceType(value.to_owned())),
                // A key's id, ARN or alias; anything else names no key, so no event.
                "ResourceName" => match self.trail_key(caller, ctx, value) {
                    Ok(key) => Some(TrailFilter::Key(key)),
                    Err(_) => {
                        matches_nothing = true;
                        None
                    }
                },
                // Every event keyledger records comes from KMS.
                "EventSource" => {
                    matches_nothing = value != EVENT_SOURCE;
                    None
                }
                other => {
                    return Err(ApiError::InvalidLookupAttributes(format!(
                        "'{}' is not a lookup attribute: use EventId, EventName, ReadOnly, \
                         Username, ResourceType, ResourceName, EventSource or AccessKeyId.",
                        echo(other)
                    )))
                }
            };
        }
        let start_ns = req
            .start_time
            .as_ref()
            .map(|t| lookup_time("StartTime", t))
            .transpose()?;
        let end_ns = req
            .end_time
            .as_ref()
            .map(|t| lookup_time("EndTime", t))
            .transpose()?;
        if let (Some(start), Some(end)) = (start_ns, end_ns) {
            if start > end {
                return Err(ApiError::InvalidTimeRange(
                    "Start time must be earlier than or equal to end time.".into(),
                ));
            }
        }
        let limit = req.max_results.unwrap_or(LOOKUP_MAX_RESULTS);
        if !(1..=LOOKUP_MAX_RESULTS).contains(&limit) {
            return Err(ApiError::InvalidMaxResults(format!(
                "MaxResults must be between 1 and {LOOKUP_MAX_RESULTS}, not {limit}."
            )));
        }
        match req.event_category.as_deref() {
            None => {}
            // keyledger records no Insights events.
            Some("insight") => matches_nothing = true,
            Some(other) => {
                return Err(ApiError::InvalidEventCategory(format!(
                    "'{}' is not an event category: the only one is insight.",
                    echo(other)
                )))
            }
        }
        if matches_nothing {
            if let Some(token) = &req.next_token {
                PageToken::decode(token).ok_or_else(invalid_token)?;
            }
            return Ok(json!({ "Events": [] }));
        }
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        let query = TrailQuery {
            scope: Self::trail_scope(caller, ctx),
            filters: filter.into_iter().collect(),
            start_ns,
            end_ns,
            before: None,
            up_to: None,
            limit: limit as usize,
        };
        let (hits, next) = self.trail_page(query, req.next_token.as_deref()).await?;
        let events = hits
            .iter()
            .map(|hit| Ok(lookup_event(&record(hit)?, hit.time_ns)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(without_nulls(
            json!({ "Events": events, "NextToken": next }),
        ))
    }

    /// KMS's GetKeyLastUsage: the key's last successful cryptographic operation, from the
    /// `key_usage` view.
    pub(crate) async fn get_key_last_usage(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase")]
        struct GetKeyLastUsageRequest {
            key_id: Option<String>,
        }
        rec.read_only = true;
        let req: GetKeyLastUsageRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({ "keyId": req.key_id }));
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            Facts::new(),
            rec,
        )?;
        let report = self
            .reader
            .key_usage_report(&key.external_id().to_string())
            .await
            .map_err(ledger_error)?;
        let last_use = match report.last_use {
            None => json!({}),
            Some(u) => without_nulls(json!({
                "Operation": u.operation,
                "Timestamp": ns_to_seconds(u.time_ns),
                "CloudTrailEventId": u.event_id,
                "KmsRequestId": u.request_id,
            })),
        };
        Ok(without_nulls(json!({
            "KeyId": key.external_id().to_string(),
            "KeyCreationDate": epoch_seconds(key.created_at),
            "TrackingStartDate": report.tracking_start_ns.map(ns_to_seconds),
            "KeyLastUsage": last_use,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let token = PageToken {
            cursor: Cursor {
                time_ns: -5,
                position: 42,
            },
            up_to: 99,
            fingerprint: 0xdead_beef,
        };
        assert_eq!(PageToken::decode(&token.encode()), Some(token));
        let plain = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for bad in [
            "".to_owned(),
            "!!!".to_owned(),
            plain("1.5.42.99"),
            plain("2.5.42.99.00000000deadbeef"),
            plain("1.5.0.99.00000000deadbeef"),
            plain("1.5.42.99.00000000deadbeef.7"),
            plain("1.x.42.99.00000000deadbeef"),
            // A position past i64 (the cursor's bound would overflow).
            plain("1.5.9223372036854775808.99.00000000deadbeef"),
        ] {
            assert_eq!(PageToken::decode(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_token_is_bound_to_its_query() {
        let query = |filters| TrailQuery {
            scope: Scope {
                account: "1".into(),
                region: "r".into(),
            },
            filters,
            start_ns: None,
            end_ns: None,
            before: None,
            up_to: None,
            limit: 5,
        };
        let a = query(vec![TrailFilter::EventName("Encrypt".into())]);
        let b = query(vec![TrailFilter::EventName("Decrypt".into())]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut later = a.clone();
        later.start_ns = Some(1);
        assert_ne!(fingerprint(&a), fingerprint(&later));
        let mut next_page = a.clone();
        next_page.before = Some(Cursor {
            time_ns: 1,
            position: 1,
        });
        assert_eq!(fingerprint(&a), fingerprint(&next_page), "paging keeps it");
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(rest_time("T", "1.5").unwrap(), 1_500_000_000);
        assert_eq!(
            rest_time("T", "1970-01-01T00:00:02Z").unwrap(),
            2_000_000_000
        );
        assert!(matches!(
            rest_time("T", "yesterday"),
            Err(ApiError::Validation(_))
        ));
        assert_eq!(lookup_time("T", &json!(3)).unwrap(), 3_000_000_000);
        assert!(matches!(
            lookup_time("T", &json!(true)),
            Err(ApiError::Serialization(_))
        ));
    }
}
