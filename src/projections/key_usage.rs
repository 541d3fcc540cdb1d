//! Read model `key_usage`: per key and operation, counts of the calls that named the key by
//! outcome, and the operation's last successful use; the view `key_usage` gives each key's
//! last successful cryptographic operation (what `GetKeyLastUsage` answers and the compliance
//! report's "unused for N days" reads). Kept in one SQL table inside the append transaction
//! (`docs/read-models.md`); the view is in `migrations/*/0002_seam.sql`.

use crate::ledger::sql::{ColumnNeeds, EventColumns, ReadModel, Statements, Value};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The operations AWS counts as a key's cryptographic use (the `key_usage` view lists them too).
pub const CRYPTOGRAPHIC_OPERATIONS: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
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

const INSERT: &str = "INSERT OR FAIL INTO key_usage_by_operation \
     (key_id, operation, succeeded, failed, last_used_at, last_event_id, last_position)";
// Events arrive in log order, so a batch's last use of an operation is always the newest.
const TAIL: &str = "ON CONFLICT (key_id, operation) DO UPDATE SET \
     succeeded = key_usage_by_operation.succeeded + excluded.succeeded, \
     failed = key_usage_by_operation.failed + excluded.failed, \
     last_used_at = COALESCE(excluded.last_used_at, key_usage_by_operation.last_used_at), \
     last_event_id = COALESCE(excluded.last_event_id, key_usage_by_operation.last_event_id), \
     last_position = COALESCE(excluded.last_position, key_usage_by_operation.last_position)";

struct LastUse<'a> {
    position: u64,
    time_ns: i64,
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

    fn column_needs(&self) -> ColumnNeeds {
        ColumnNeeds {
            event_id: true,
            caller: false,
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["key_usage_by_operation"]
    }

    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        #[derive(Default)]
        struct Entry<'a> {
            succeeded: i64,
            failed: i64,
            last: Option<LastUse<'a>>,
        }
        let mut entries: HashMap<(&str, &str), Entry<'_>> = HashMap::new();
        for event in events {
            // Usage events only: a lifecycle event is a fact about the key, not a call.
            if event.stream.is_some() {
                continue;
            }
            let succeeded = event.error_code.is_none();
            for key in event.keys() {
                let entry = entries.entry((key, event.event_name)).or_default();
                if succeeded {
                    entry.succeeded += 1;
                    entry.last = Some(LastUse {
                        position: event.position,
                        time_ns: event.time_ns,
                        event_id: event.event_id,
                    });
                } else {
                    entry.failed += 1;
                }
            }
        }
        // Sorted: the same events always give the same statements in the same order.
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_unstable_by_key(|(key, _)| *key);
        let rows = entries
            .into_iter()
            .map(|((key, operation), e)| {
                let (time, event_id, position) = match e.last {
                    Some(u) => (
                        rfc3339(u.time_ns),
                        u.event_id.into(),
                        (u.position as i64).into(),
                    ),
                    None => (Value::Null, Value::Null, Value::Null),
                };
                vec![
                    key.into(),
                    operation.into(),
                    e.succeeded.into(),
                    e.failed.into(),
                    time,
                    event_id,
                    position,
                ]
            })
            .collect();
        out.push_rows(INSERT, TAIL, rows);
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
            data: b"",
            ..EventColumns::default()
        }
    }

    #[test]
    fn every_call_is_counted_and_each_operation_keeps_its_last_success() {
        let events = [
            usage(1, "Encrypt", "k1", None),
            usage(2, "Decrypt", "k1 k2", None),
            usage(3, "Encrypt", "k1", Some("DisabledException")),
            usage(4, "Encrypt", "k1", None),
            usage(5, "ListKeys", "", None),
            usage(6, "DescribeKey", "k3", Some("NotFoundException")),
        ];
        let mut out = Statements::default();
        KeyUsage.apply(&events, &mut out);
        assert_eq!(out.0.len(), 1, "one set-based statement");
        let rows: Vec<&[Value]> = out.0[0].params.chunks(7).collect();
        // A row as the fold writes it; `last` is the position (and second) of the last success.
        let row = |key: &str, operation: &str, succeeded: i64, failed: i64, last: Option<i64>| {
            let mut row = vec![
                key.into(),
                operation.into(),
                succeeded.into(),
                failed.into(),
            ];
            row.extend(match last {
                Some(p) => [
                    format!("1970-01-01T00:00:0{p}Z").into(),
                    "e".into(),
                    Value::Int(p),
                ],
                None => [Value::Null, Value::Null, Value::Null],
            });
            row
        };
        assert_eq!(
            rows,
            [
                row("k1", "Decrypt", 1, 0, Some(2)),
                // The failed Encrypt at 3 is counted; the success at 4 is the last use.
                row("k1", "Encrypt", 2, 1, Some(4)),
                row("k2", "Decrypt", 1, 0, Some(2)),
                row("k3", "DescribeKey", 0, 1, None),
            ]
        );
    }

    #[test]
    fn the_key_usage_view_names_the_same_cryptographic_operations() {
        // The newest definition of the view, in each backend's migrations.
        for migration in [
            include_str!("../../migrations/sqlite/0006_key_usage_kem.sql"),
            include_str!("../../migrations/postgres/0002_key_usage_kem.sql"),
        ] {
            let view = &migration[migration.find("CREATE VIEW key_usage").unwrap()..];
            for operation in CRYPTOGRAPHIC_OPERATIONS {
                assert_eq!(
                    view.matches(&format!("'{operation}'")).count(),
                    2,
                    "{operation}"
                );
            }
        }
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
        assert_eq!(
            out.0.iter().map(|s| s.params.len() / 7).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
    }
}
