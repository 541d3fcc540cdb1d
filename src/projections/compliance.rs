//! Read model `compliance`: every lifecycle fact about a key, in log order, with who did it
//! (`compliance_key_events`: what the report's inventory, rotation, deletion and policy
//! history are folded from, up to any time); and requests per day, calling principal, key,
//! whether cryptographic, and outcome (`compliance_requests`; a day, not an hour or the
//! operation: rows stay few under a heavy load — a month of 10M calls on 1,000 keys by 10
//! principals is at most ~1M rows, not one per call). Kept as SQL tables in the append
//! transaction (`migrations/sqlite/0005_billing_compliance.sql`, `docs/read-models.md`). It
//! reads the JSON of lifecycle events only (a few in a million); usage events fold from the
//! log's columns.

use crate::ledger::sql::{ColumnNeeds, EventColumns, JsonNeeds, ReadModel, Statements, Value};
use crate::projections::key_usage::CRYPTOGRAPHIC_OPERATIONS;
use replay::billing::Outcome;
use std::collections::BTreeMap;

pub struct Compliance;

const KEY_EVENTS: &str = "INSERT OR FAIL INTO compliance_key_events \
     (key_id, position, time_ns, event_type, account, principal, detail)";
const REQUESTS: &str = "INSERT OR FAIL INTO compliance_requests \
     (day, account, principal, key_id, cryptographic, outcome, requests)";
const REQUESTS_TAIL: &str =
    "ON CONFLICT (day, account, principal, key_id, cryptographic, outcome) \
     DO UPDATE SET requests = compliance_requests.requests + excluded.requests";

/// Stands for an unknown account or principal in `compliance_requests`.
pub const NOBODY: &str = "-";

/// Fields of a lifecycle fact the report never needs and must not copy: sealed material.
const LEFT_OUT: &[&str] = &["sealed_material"];

/// A key's lifecycle fact as the model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEventRow {
    pub key_id: String,
    pub position: u64,
    pub time_ns: i64,
    pub event_type: String,
    pub account: Option<String>,
    pub principal: Option<String>,
    pub detail: String,
}

/// Requests of one day, account, principal, key, kind and outcome.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    /// Unix day.
    pub day: i64,
    pub account: String,
    pub principal: String,
    pub key_id: String,
    /// A cryptographic operation (`key_usage::CRYPTOGRAPHIC_OPERATIONS`).
    pub cryptographic: bool,
    pub outcome: Outcome,
}

pub const NS_PER_DAY: i64 = 86_400_000_000_000;

/// What a batch of events adds to the model.
#[derive(Debug, Default, Clone)]
pub struct ComplianceRows {
    pub key_events: Vec<KeyEventRow>,
    pub requests: BTreeMap<RequestKey, i64>,
}

/// What a compliance report as of a time reads from the model.
#[derive(Debug, Default, Clone)]
pub struct ComplianceInput {
    /// Every key's lifecycle facts up to then, in log order.
    pub key_events: Vec<KeyEventRow>,
    /// The period's requests by (principal, account, key, outcome).
    pub by_principal: BTreeMap<(String, String, String, Outcome), i64>,
    /// The period's requests by (Unix day, key), for calls that named a key.
    pub daily: BTreeMap<(i64, String), i64>,
    /// Per key, the last day (up to then) with a successful cryptographic call.
    pub last_crypto_day: BTreeMap<String, i64>,
}

impl ComplianceInput {
    /// The input of a report from rows folded over the whole log (the in-memory store).
    pub fn from_rows(rows: ComplianceRows, as_of_ns: i64, from_day: i64) -> ComplianceInput {
        let as_of_day = as_of_ns.div_euclid(NS_PER_DAY);
        let mut last_crypto_day: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_principal = BTreeMap::new();
        let mut daily = BTreeMap::new();
        for (k, n) in &rows.requests {
            if (from_day..=as_of_day).contains(&k.day) {
                *by_principal
                    .entry((
                        k.principal.clone(),
                        k.account.clone(),
                        k.key_id.clone(),
                        k.outcome,
                    ))
                    .or_insert(0) += n;
                if !k.key_id.is_empty() {
                    *daily.entry((k.day, k.key_id.clone())).or_insert(0) += n;
                }
            }
            if k.day <= as_of_day && k.outcome == Outcome::Succeeded && k.cryptographic {
                let last = last_crypto_day.entry(k.key_id.clone()).or_insert(k.day);
                *last = (*last).max(k.day);
            }
        }
        ComplianceInput {
            key_events: rows
                .key_events
                .into_iter()
                .filter(|e| e.time_ns <= as_of_ns)
                .collect(),
            by_principal,
            daily,
            last_crypto_day,
        }
    }
}

/// A lifecycle event's type and its body without sealed material, from the stored JSON.
fn key_event(data: &[u8]) -> Option<(String, String)> {
    let mut envelope: serde_json::Value = serde_json::from_slice(data).ok()?;
    let event_type = envelope["event_type"].as_str()?.to_owned();
    let mut body = envelope["body"].take();
    if let Some(fields) = body.as_object_mut() {
        for field in LEFT_OUT {
            fields.remove(*field);
        }
    }
    Some((event_type, body.to_string()))
}

pub fn fold(events: &[EventColumns<'_>], rows: &mut ComplianceRows) {
    // Counted on borrowed parts, made owned rows once per distinct row (a rebuild folds a
    // million calls into a few thousand rows).
    let mut counts: replay::billing::CountMap<(i64, &str, &str, &str, bool, Outcome)> =
        Default::default();
    for event in events {
        match event.stream {
            Some(stream) => {
                let Some(key_id) = stream.strip_prefix("key/") else {
                    continue;
                };
                let Some((event_type, detail)) = key_event(event.data) else {
                    continue;
                };
                rows.key_events.push(KeyEventRow {
                    key_id: key_id.to_owned(),
                    position: event.position,
                    time_ns: event.time_ns,
                    event_type,
                    account: event.account.map(str::to_owned),
                    principal: event.principal.map(str::to_owned),
                    detail,
                });
            }
            None => {
                let day = event.time_ns.div_euclid(NS_PER_DAY);
                let account = event.account.unwrap_or(NOBODY);
                let principal = event.principal.unwrap_or(NOBODY);
                let cryptographic = CRYPTOGRAPHIC_OPERATIONS.contains(&event.event_name);
                let outcome = Outcome::of(event.error_code);
                let mut named = false;
                for key_id in event.keys() {
                    named = true;
                    *counts
                        .entry((day, account, principal, key_id, cryptographic, outcome))
                        .or_insert(0) += 1;
                }
                if !named {
                    *counts
                        .entry((day, account, principal, "", cryptographic, outcome))
                        .or_insert(0) += 1;
                }
            }
        }
    }
    for ((day, account, principal, key_id, cryptographic, outcome), n) in counts {
        let row = RequestKey {
            day,
            account: account.to_owned(),
            principal: principal.to_owned(),
            key_id: key_id.to_owned(),
            cryptographic,
            outcome,
        };
        *rows.requests.entry(row).or_insert(0) += n;
    }
}

impl ReadModel for Compliance {
    fn name(&self) -> &'static str {
        "compliance"
    }

    fn column_needs(&self) -> ColumnNeeds {
        ColumnNeeds {
            event_id: false,
            caller: true,
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["compliance_key_events", "compliance_requests"]
    }

    fn json_needs(&self) -> JsonNeeds {
        JsonNeeds::Some {
            lifecycle: true,
            usage_events: &[],
        }
    }

    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        let mut rows = ComplianceRows::default();
        fold(events, &mut rows);
        let key_events = rows
            .key_events
            .into_iter()
            .map(|e| {
                vec![
                    e.key_id.into(),
                    Value::Int(e.position as i64),
                    e.time_ns.into(),
                    e.event_type.into(),
                    e.account.into(),
                    e.principal.into(),
                    e.detail.into(),
                ]
            })
            .collect();
        out.push_rows(KEY_EVENTS, "", key_events);
        let requests = rows
            .requests
            .into_iter()
            .map(|(k, n)| {
                vec![
                    k.day.into(),
                    k.account.into(),
                    k.principal.into(),
                    k.key_id.into(),
                    i64::from(k.cryptographic).into(),
                    k.outcome.as_str().into(),
                    n.into(),
                ]
            })
            .collect();
        out.push_rows(REQUESTS, REQUESTS_TAIL, requests);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_facts_keep_no_sealed_material_and_calls_count_per_key() {
        let created = br#"{"event_type":"KeyCreated","body":{"key_id":"k","key_spec":"SYMMETRIC_DEFAULT","sealed_material":"c2VjcmV0"}}"#;
        let events = [
            EventColumns {
                position: 1,
                stream: Some("key/k"),
                event_name: "CreateKey",
                time_ns: 7_200_000_000_000,
                keys: "k",
                account: Some("111122223333"),
                principal: Some("arn:aws:iam::111122223333:user/a"),
                data: created,
                ..EventColumns::default()
            },
            EventColumns {
                position: 2,
                event_name: "ReEncrypt",
                time_ns: 7_200_000_000_001,
                keys: "k k2",
                error_code: Some("AccessDeniedException"),
                ..EventColumns::default()
            },
        ];
        let mut rows = ComplianceRows::default();
        fold(&events, &mut rows);
        assert_eq!(rows.key_events.len(), 1);
        assert_eq!(rows.key_events[0].event_type, "KeyCreated");
        assert!(!rows.key_events[0].detail.contains("sealed_material"));
        assert!(rows.key_events[0].detail.contains("SYMMETRIC_DEFAULT"));
        let keys: Vec<(&str, &str, Outcome, i64)> = rows
            .requests
            .iter()
            .map(|(k, n)| (k.key_id.as_str(), k.principal.as_str(), k.outcome, *n))
            .collect();
        assert_eq!(
            keys,
            [
                ("k", NOBODY, Outcome::Denied, 1),
                ("k2", NOBODY, Outcome::Denied, 1)
            ]
        );
        assert_eq!(rows.requests.keys().next().unwrap().day, 0);
        assert!(
            rows.requests.keys().all(|k| k.cryptographic),
            "ReEncrypt is a use"
        );
    }
}
