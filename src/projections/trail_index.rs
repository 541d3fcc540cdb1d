//! Read model `trail_index`: each usage event filed under the terms a trail query can name
//! (`ledger::trail::index_terms`), as `(term, time_ns, position)` rows kept in the append
//! transaction (`migrations/sqlite/0004_trail_index.sql`, `docs/read-models.md`). It reads
//! each event's JSON for the principal, access key, user name, readOnly, account and region,
//! which the log's columns do not hold.

use crate::ledger::sql::{ColumnNeeds, EventColumns, JsonNeeds, ReadModel, Statements, Value};
use crate::ledger::trail::index_terms;

pub struct TrailIndex;

const INSERT: &str = "INSERT OR FAIL INTO trail_index (term, time_ns, position)";

impl ReadModel for TrailIndex {
    fn name(&self) -> &'static str {
        "trail_index"
    }

    fn column_needs(&self) -> ColumnNeeds {
        ColumnNeeds {
            event_id: false,
            caller: false,
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["trail_index"]
    }

    fn json_needs(&self) -> JsonNeeds {
        JsonNeeds::All
    }

    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        // Positions are unique and an event's terms are distinct, so no row repeats a key.
        let mut rows: Vec<(String, i64, u64)> = events
            .iter()
            .flat_map(|event| {
                index_terms(event)
                    .into_iter()
                    .map(move |term| (term, event.time_ns, event.position))
            })
            .collect();
        // In the index's order: each statement then fills B-tree pages in sequence instead of
        // jumping between terms (a rebuild inserts millions of rows).
        rows.sort_unstable();
        let rows = rows
            .into_iter()
            .map(|(term, time_ns, position)| {
                vec![
                    Value::Text(term),
                    Value::Int(time_ns),
                    Value::Int(position as i64),
                ]
            })
            .collect();
        out.push_rows(INSERT, "", rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_usage_event_gives_one_row_per_term_and_lifecycle_events_none() {
        let data = br#"{"read_only":false,"body":{"awsRegion":"us-east-1","recipientAccountId":"111122223333"}}"#;
        let usage = EventColumns {
            position: 3,
            event_name: "CreateKey",
            event_id: "e3",
            time_ns: 30,
            keys: "k",
            data,
            ..EventColumns::default()
        };
        let lifecycle = EventColumns {
            position: 2,
            stream: Some("key/k"),
            event_name: "CreateKey",
            event_id: "e2",
            keys: "k",
            ..EventColumns::default()
        };
        let mut out = Statements::default();
        TrailIndex.apply(&[lifecycle, usage], &mut out);
        assert_eq!(out.0.len(), 1);
        let rows: Vec<&[Value]> = out.0[0].params.chunks(3).collect();
        let s = "111122223333/us-east-1/";
        let row = |t: &str| {
            vec![
                Value::Text(format!("{s}{t}")),
                Value::Int(30),
                Value::Int(3),
            ]
        };
        assert_eq!(
            rows,
            [row("*"), row("k:k"), row("n:CreateKey"), row("r:false")]
        );
    }
}
