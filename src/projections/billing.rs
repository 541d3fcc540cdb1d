//! Read model `billing`: request counts per calling account, day, key, operation and outcome,
//! and the keys and key changes that monthly charges come from — `replay::billing`'s fold
//! (the one definition, which a trail export is folded with too) kept as SQL tables in the
//! append transaction (`migrations/sqlite/0005_billing_compliance.sql`, `docs/read-models.md`).
//! It reads the log's columns, and the JSON only of CreateKey and GenerateDataKeyPair* calls.

use crate::ledger::sql::{ColumnNeeds, EventColumns, JsonNeeds, ReadModel, Statements, Value};
use replay::billing::{BillingFold, BillingRows, Call, OPERATIONS_READ_IN_FULL};

pub struct Billing;

const REQUESTS: &str = "INSERT OR FAIL INTO billing_requests \
     (account, day, key_id, operation, pair_spec, outcome, requests)";
const REQUESTS_TAIL: &str = "ON CONFLICT (account, day, key_id, operation, pair_spec, outcome) \
     DO UPDATE SET requests = billing_requests.requests + excluded.requests";
// A key is created once; a repeat would be a second record of the same fact, kept once.
const KEYS: &str =
    "INSERT OR FAIL INTO billing_keys (key_id, account, key_spec, key_manager, created_s)";
const KEYS_TAIL: &str = "ON CONFLICT (key_id) DO NOTHING";
const CHANGES: &str = "INSERT OR FAIL INTO billing_key_changes (key_id, seq, time_s, change)";

/// Fold usage events (live or from the log) into billing rows.
pub fn fold<'a>(events: &[EventColumns<'a>], rows: &mut BillingRows<'a>) {
    for event in events {
        if event.stream.is_some() {
            continue;
        }
        let record: Option<serde_json::Value> = OPERATIONS_READ_IN_FULL
            .contains(&event.event_name)
            .then(|| {
                serde_json::from_slice::<serde_json::Value>(event.data)
                    .ok()
                    .map(|mut envelope| envelope["body"].take())
            })
            .flatten();
        let call = Call {
            seq: event.position,
            // eventTime is whole seconds; the export's records carry only that.
            time_s: event.time_ns.div_euclid(1_000_000_000),
            event_name: event.event_name,
            account: event.account,
            principal: event.principal,
            key_id: event.keys().next(),
            error_code: event.error_code,
            record: record.as_ref(),
        };
        BillingFold::add(&call, rows);
    }
}

impl ReadModel for Billing {
    fn name(&self) -> &'static str {
        "billing"
    }

    fn column_needs(&self) -> ColumnNeeds {
        ColumnNeeds {
            event_id: false,
            caller: true,
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["billing_requests", "billing_keys", "billing_key_changes"]
    }

    fn json_needs(&self) -> JsonNeeds {
        JsonNeeds::Some {
            lifecycle: false,
            usage_events: OPERATIONS_READ_IN_FULL,
        }
    }

    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        let mut rows = BillingRows::default();
        fold(events, &mut rows);
        // Sorted (a BTreeMap) and unique: the same events give the same statements.
        let requests = rows
            .requests()
            .into_iter()
            .map(|(k, n)| {
                vec![
                    k.account.into(),
                    k.day.into(),
                    k.key_id.into(),
                    k.operation.into(),
                    k.pair_spec.into(),
                    k.outcome.as_str().into(),
                    n.into(),
                ]
            })
            .collect();
        out.push_rows(REQUESTS, REQUESTS_TAIL, requests);
        let keys = rows
            .keys
            .into_iter()
            .map(|k| {
                vec![
                    k.key_id.into(),
                    k.account.into(),
                    k.key_spec.into(),
                    k.key_manager.into(),
                    k.created_s.into(),
                ]
            })
            .collect();
        out.push_rows(KEYS, KEYS_TAIL, keys);
        let changes = rows
            .changes
            .into_iter()
            .map(|c| {
                vec![
                    c.key_id.into(),
                    Value::Int(c.seq as i64),
                    c.time_s.into(),
                    c.change.as_str().into(),
                ]
            })
            .collect();
        out.push_rows(CHANGES, "", changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_gives_one_upsert_per_distinct_request_row() {
        let encrypt = |position, error| EventColumns {
            position,
            event_name: "Encrypt",
            event_id: "e",
            time_ns: 1_796_083_200_000_000_000,
            keys: "k1",
            error_code: error,
            account: Some("111122223333"),
            principal: Some("arn:aws:iam::111122223333:user/a"),
            ..EventColumns::default()
        };
        let events = [
            encrypt(1, None),
            encrypt(2, None),
            encrypt(3, Some("AccessDeniedException")),
        ];
        let mut out = Statements::default();
        Billing.apply(&events, &mut out);
        assert_eq!(out.0.len(), 1, "requests only: no key created or changed");
        let rows: Vec<&[Value]> = out.0[0].params.chunks(7).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], Value::Text("2026-12-01".into()));
        assert_eq!(rows[0][5], Value::Text("succeeded".into()));
        assert_eq!(rows[0][6], Value::Int(2));
        assert_eq!(rows[1][5], Value::Text("denied".into()));
    }
}
