//! Read model `key_usage`: per key, its last successful cryptographic operation (what
//! `GetKeyLastUsage` answers and the compliance report's "unused for N days" reads), and
//! counts of the calls that named it, by operation and outcome. Kept in SQL tables inside
//! the append transaction (`docs/read-models.md`).

use crate::ledger::sql::{EventColumns, ReadModel, Statements, Value};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The operations AWS counts as a key's cryptographic use.
pub const CRYPTOGRAPHIC_OPERATIONS: &[&str] = &[
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

pub struct KeyUsage;

const COUNT_INSERT: &str =
    "INSERT INTO key_usage_by_operation (key_id, operation, succeeded, failed)";
const COUNT_TAIL: &str = "ON CONFLICT (key_id, operation) DO UPDATE SET \
     succeeded = key_usage_by_operation.succeeded + excluded.succeeded, \
     failed = key_usage_by_operation.failed + excluded.failed";
const LAST_USE_INSERT: &str =
    "INSERT INTO key_usage (key_id, last_used_at, last_operation, last_event_id, last_position)";
const LAST_USE_TAIL: &str = "ON CONFLICT (key_id) DO UPDATE SET \
     last_used_at = excluded.last_used_at, last_operation = excluded.last_operation, \
     last_event_id = excluded.last_event_id, last_position = excluded.last_position \
     WHERE key_usage.last_position IS NULL OR excluded.last_position > key_usage.last_position";
const SEEN_INSERT: &str = "INSERT INTO key_usage (key_id)";
const SEEN_TAIL: &str = "ON CONFLICT (key_id) DO NOTHING";

struct LastUse<'a> {
    position: u64,
    time_ns: i64,
    operation: &'a str,
    event_id: &'a str,
}

/// RFC 3339 (UTC) from Unix nanoseconds; the ledger's times are all in range.
fn rfc3339(time_ns: i64) -> Value {
    OffsetDateTime::from_unix_timestamp_nanos(time_ns as i128)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::Text)
}

impl ReadModel for KeyUsage {
    fn name(&self) -> &'static str {
        "key_usage"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["key_usage", "key_usage_by_operation"]
    }

    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        let mut counts: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
        let mut last: HashMap<&str, Option<LastUse<'_>>> = HashMap::new();
        for event in events {
            // Usage events only: a lifecycle event is a fact about the key, not a call.
            if event.stream.is_some() {
                continue;
            }
            let succeeded = event.error_code.is_none();
            let cryptographic = succeeded && CRYPTOGRAPHIC_OPERATIONS.contains(&event.event_name);
            for key in event.keys() {
                let count = counts.entry((key, event.event_name)).or_default();
                if succeeded {
                    count.0 += 1;
                } else {
                    count.1 += 1;
                }
                let entry = last.entry(key).or_default();
                if cryptographic {
                    *entry = Some(LastUse {
                        position: event.position,
                        time_ns: event.time_ns,
                        operation: event.event_name,
                        event_id: event.event_id,
                    });
                }
            }
        }
        // Sorted: the same events always give the same statements in the same order.
        let mut last: Vec<_> = last.into_iter().collect();
        last.sort_unstable_by_key(|(key, _)| *key);
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_unstable_by_key(|(key, _)| *key);
        let (mut used, mut seen) = (Vec::new(), Vec::new());
        for (key, last_use) in last {
            match last_use {
                Some(u) => used.push(vec![
                    key.into(),
                    rfc3339(u.time_ns),
                    u.operation.into(),
                    u.event_id.into(),
                    (u.position as i64).into(),
                ]),
                None => seen.push(vec![key.into()]),
            }
        }
        let counts = counts
            .into_iter()
            .map(|((key, operation), (succeeded, failed))| {
                vec![
                    key.into(),
                    operation.into(),
                    succeeded.into(),
                    failed.into(),
                ]
            })
            .collect();
        out.push_rows(LAST_USE_INSERT, LAST_USE_TAIL, used);
        out.push_rows(SEEN_INSERT, SEEN_TAIL, seen);
        out.push_rows(COUNT_INSERT, COUNT_TAIL, counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage<'a>(
        position: u64,
        name: &'a str,
        keys: &'a str,
        error: Option<&'a str>,
    ) -> EventColumns<'a> {
        EventColumns {
            position,
            stream: None,
            event_name: name,
            event_id: "e",
            time_ns: position as i64 * 1_000_000_000,
            keys,
            error_code: error,
        }
    }

    #[test]
    fn the_last_successful_cryptographic_call_wins_and_every_call_is_counted() {
        let events = [
            usage(1, "Encrypt", "k1", None),
            usage(2, "Decrypt", "k1 k2", None),
            usage(3, "Encrypt", "k1", Some("DisabledException")),
            usage(4, "DescribeKey", "k1", None),
            usage(5, "ListKeys", "", None),
            usage(6, "DescribeKey", "k3", None),
        ];
        let mut out = Statements::default();
        KeyUsage.apply(&events, &mut out);
        assert_eq!(out.0.len(), 3, "one set-based statement per table and kind");
        let last = out
            .0
            .iter()
            .find(|s| s.sql.starts_with(LAST_USE_INSERT))
            .unwrap();
        // k1's last successful cryptographic call is the Decrypt at 2 (3 failed, 4 is a read).
        assert_eq!(
            last.params,
            vec![
                "k1".into(),
                "1970-01-01T00:00:02Z".into(),
                "Decrypt".into(),
                "e".into(),
                Value::Int(2),
                "k2".into(),
                "1970-01-01T00:00:02Z".into(),
                "Decrypt".into(),
                "e".into(),
                Value::Int(2),
            ]
        );
        let seen = out
            .0
            .iter()
            .find(|s| s.sql.starts_with(SEEN_INSERT))
            .unwrap();
        assert_eq!(
            seen.params,
            vec![Value::from("k3")],
            "a key only read has no last use"
        );
        let counts = out
            .0
            .iter()
            .find(|s| s.sql.starts_with(COUNT_INSERT))
            .unwrap();
        let rows: Vec<&[Value]> = counts.params.chunks(4).collect();
        assert_eq!(rows.len(), 5);
        assert!(rows.contains(&&["k1".into(), "Encrypt".into(), 1.into(), 1.into()][..]));
        assert!(rows.contains(&&["k2".into(), "Decrypt".into(), 1.into(), 0.into()][..]));
        assert!(rows.contains(&&["k1".into(), "DescribeKey".into(), 1.into(), 0.into()][..]));
    }

    #[test]
    fn many_keys_split_into_bounded_statements() {
        let keys: Vec<String> = (0..1200).map(|i| format!("k{i:04}")).collect();
        let events: Vec<EventColumns> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| usage(i as u64 + 1, "Encrypt", k, None))
            .collect();
        let mut out = Statements::default();
        KeyUsage.apply(&events, &mut out);
        let last: Vec<_> = out
            .0
            .iter()
            .filter(|s| s.sql.starts_with(LAST_USE_INSERT))
            .collect();
        assert_eq!(
            last.iter().map(|s| s.params.len() / 5).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
    }
}
