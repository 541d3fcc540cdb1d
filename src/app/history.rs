//! What the ledger makes possible: a key as it was at any point (time or
//! position), and its lifecycle history — folded from the log, never stored.

use super::authz::Facts;
use super::keys::key_metadata;
use super::limits::echo;
use super::request::{parse, without_nulls};
use super::{ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::events::{DomainEvent, Envelope};
use crate::domain::ids::{KeyId, KeyRef};
use crate::projections::Projections;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The event names these native calls are recorded under.
pub const KEY_AS_OF: &str = "GetKeyAsOf";
pub const KEY_HISTORY: &str = "ListKeyHistory";

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AsOfRequest {
    pub key_id: Option<String>,
    pub as_of: Option<String>,
}

/// A point in the ledger: a position, or a time (every event recorded at or before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Position(u64),
    Time(OffsetDateTime),
}

impl AsOf {
    pub fn parse(text: &str) -> Result<AsOf, ApiError> {
        if let Ok(position) = text.parse::<u64>() {
            return Ok(AsOf::Position(position));
        }
        OffsetDateTime::parse(text, &Rfc3339).map(AsOf::Time).map_err(|_| {
            ApiError::Validation(format!(
                "as_of must be an RFC 3339 time (2026-03-03T00:00:00Z) or a ledger position, not '{}'",
                echo(text)
            ))
        })
    }

    fn includes(&self, position: u64, time: OffsetDateTime) -> bool {
        match self {
            AsOf::Position(p) => position <= *p,
            AsOf::Time(t) => time <= *t,
        }
    }
}

/// The stored lifecycle events up to `as_of`, decoded, in log order.
async fn lifecycle_until(
    service: &Service,
    as_of: Option<AsOf>,
) -> Result<Vec<(u64, Envelope)>, ApiError> {
    let rows = service
        .reader
        .read_lifecycle(0)
        .await
        .map_err(|e| ApiError::Internal(format!("The ledger cannot be read: {e}")))?;
    let mut out = Vec::with_capacity(rows.len());
    for event in rows {
        let position = event.position;
        let envelope = Envelope::decode(&event.data)
            .map_err(|e| ApiError::Internal(format!("Event {position} cannot be read: {e}")))?;
        if as_of.is_none_or(|a| a.includes(position, envelope.time)) {
            out.push((position, envelope));
        }
    }
    Ok(out)
}

/// A key id from a `KeyId` parameter (id or key ARN of the caller's account and region).
fn key_id_of(caller: &Caller, ctx: &RequestContext, text: &str) -> Result<KeyId, ApiError> {
    match KeyRef::parse(text) {
        Some(KeyRef::Id(id)) => Ok(id),
        Some(KeyRef::Arn {
            region,
            account,
            key_id,
        }) if region == ctx.region && account == caller.account => Ok(key_id),
        _ => Err(ApiError::NotFound(format!(
            "Invalid keyId '{}'",
            echo(text)
        ))),
    }
}

/// An event's body for auditors: everything but sealed material.
fn redacted(event: &DomainEvent) -> Value {
    let mut body = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(inner) = body.get_mut("body").and_then(Value::as_object_mut) {
        inner.retain(|k, _| !k.starts_with("sealed_"));
    }
    body.get("body").cloned().unwrap_or(Value::Null)
}

fn as_of_text(as_of: Option<AsOf>) -> Value {
    match as_of {
        None => Value::Null,
        Some(AsOf::Position(p)) => json!(p),
        Some(AsOf::Time(t)) => json!(t.format(&Rfc3339).unwrap_or_default()),
    }
}

impl Service {
    pub(crate) async fn key_as_of(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: AsOfRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({ "keyId": req.key_id, "asOf": req.as_of }));
        let key_id = key_id_of(
            caller,
            ctx,
            req.key_id
                .as_deref()
                .ok_or_else(|| ApiError::missing("keyId"))?,
        )?;
        let as_of = req.as_of.as_deref().map(AsOf::parse).transpose()?;
        // A point-in-time read may name a key deleted since: identity policies decide.
        let arn = crate::domain::ids::key_arn(&ctx.region, &caller.account, &key_id);
        self.authorize_account(caller, ctx, rec.action, &arn, Facts::new())?;
        let events = lifecycle_until(self, as_of).await?;
        // A fresh fold of the log up to that point: the same `apply` the live projection runs.
        let then = Projections::new(self.keyring.clone());
        for (_, envelope) in &events {
            if let Some(event) = envelope.lifecycle() {
                then.apply(event, envelope.time);
            }
        }
        let key = then
            .keys
            .get_in(&key_id, &ctx.region)
            .filter(|k| k.account == caller.account && k.region == ctx.region)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Key '{}' did not exist at that point",
                    crate::domain::ids::key_arn(&ctx.region, &caller.account, &key_id)
                ))
            })?;
        rec.resources.push(key.arn.clone());
        let aliases: Vec<Value> = then
            .aliases
            .list(&ctx.region, &caller.account, Some(key.id))
            .iter()
            .map(|a| json!({ "AliasName": a.name, "AliasArn": a.arn() }))
            .collect();
        let tags: Vec<Value> = key
            .tags
            .iter()
            .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
            .collect();
        let position = events.last().map(|(p, _)| *p).unwrap_or(0);
        Ok(json!({
            "KeyMetadata": key_metadata(&key),
            "Policy": key.policy,
            "Aliases": aliases,
            "Tags": tags,
            "Grants": key
                .grants
                .iter()
                .map(|g| super::grants::list_entry(&key, g))
                .collect::<Vec<_>>(),
            "KeyVersions": key.versions.len(),
            "AsOf": as_of_text(as_of),
            "LastLifecyclePosition": position,
        }))
    }

    pub(crate) async fn key_history(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: AsOfRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({ "keyId": req.key_id }));
        let key_id = key_id_of(
            caller,
            ctx,
            req.key_id
                .as_deref()
                .ok_or_else(|| ApiError::missing("keyId"))?,
        )?;
        let arn = crate::domain::ids::key_arn(&ctx.region, &caller.account, &key_id);
        self.authorize_account(caller, ctx, rec.action, &arn, Facts::new())?;
        let mut listed = Vec::new();
        let mut belongs = false;
        let events = lifecycle_until(self, None).await?;
        // A multi-Region key's `mrk-` id names its member in this Region (its own stream).
        let key_id = match key_id.is_multi_region() {
            false => key_id,
            true => events
                .iter()
                .find_map(|(_, envelope)| match envelope.lifecycle() {
                    Some(DomainEvent::KeyCreated(e))
                        if e.multi_region.is_some_and(|m| m.key_id == key_id)
                            && e.region == ctx.region =>
                    {
                        Some(e.key_id)
                    }
                    _ => None,
                })
                .unwrap_or(key_id),
        };
        for (position, envelope) in events {
            let Some(event) = envelope.lifecycle() else {
                continue;
            };
            let about_key = match event {
                DomainEvent::KeyCreated(e) => {
                    if e.key_id == key_id {
                        belongs = e.account_id == caller.account && e.region == ctx.region;
                    }
                    e.key_id == key_id
                }
                DomainEvent::AliasCreated(e) => e.key_id == key_id,
                DomainEvent::AliasUpdated(e) => e.key_id == key_id,
                other => other.key_id() == Some(key_id),
            };
            if about_key {
                listed.push(json!({
                    "Position": position,
                    "EventType": event.event_type(),
                    "EventName": envelope.event_name,
                    "Time": envelope.time.format(&Rfc3339).unwrap_or_default(),
                    "Stream": envelope.stream,
                    "StreamVersion": envelope.stream_version,
                    "RequestId": envelope.request_id,
                    "Actor": envelope.actor.as_ref().and_then(|a| a.principal_arn.clone()),
                    "Details": redacted(event),
                }));
            }
        }
        if listed.is_empty() || !belongs {
            return Err(ApiError::NotFound(format!("Key '{arn}' does not exist")));
        }
        rec.resources.push(arn.clone());
        Ok(json!({ "KeyId": arn, "Events": listed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_positions_and_rfc3339_times() {
        assert_eq!(AsOf::parse("42").unwrap(), AsOf::Position(42));
        assert_eq!(
            AsOf::parse("2026-03-03T00:00:00Z").unwrap(),
            AsOf::Time(time::macros::datetime!(2026-03-03 00:00 UTC))
        );
        assert!(AsOf::parse("yesterday").is_err());
        let t = time::macros::datetime!(2026-03-03 00:00 UTC);
        assert!(AsOf::Time(t).includes(99, t));
        assert!(!AsOf::Time(t).includes(1, t + time::Duration::seconds(1)));
        assert!(AsOf::Position(5).includes(5, t));
        assert!(!AsOf::Position(5).includes(6, t));
    }
}
