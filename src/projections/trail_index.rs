//! Read model `trail_index`: each usage event filed under the terms a trail query can name
//! (`ledger::trail::index_terms`), as `(term_key, time_ns, position)` rows kept in the append
//! transaction (the term's 64-bit key, `ledger::trail::term_key`;
//! `migrations/sqlite/0007_trail_index_term_keys.sql`, `docs/read-models.md`). It reads
//! each event's JSON for the principal, access key, user name, readOnly, account and region,
//! which the log's columns do not hold.

use crate::ledger::sql::{ColumnNeeds, EventColumns, JsonNeeds, ReadModel, Statements, Value};
use crate::ledger::trail::index_term_keys;

pub struct TrailIndex;

/// Events are folded from `trail_recent` into `trail_index` in blocks of this many log
/// positions: when an append reaches a multiple of it, every staged row up to it moves.
/// (What is staged depends on positions only, so a rebuild leaves the same rows in each
/// table as the live appends did.)
pub const FOLD_EVERY: u64 = 1024;

const INSERT_INDEX: &str = "INSERT OR FAIL INTO trail_index (term_key, time_ns, position)";
const INSERT_RECENT: &str = "INSERT OR FAIL INTO trail_recent (position, term_key, time_ns)";
const FOLD: &str = "INSERT OR FAIL INTO trail_index (term_key, time_ns, position) \
     SELECT term_key, time_ns, position FROM trail_recent WHERE position <= ? \
     ORDER BY term_key, time_ns, position";
/// Everything staged is at or below the boundary when it is reached (the batch's own later
/// rows are staged after this): a DELETE without a condition, which SQLite carries out by
/// freeing the table's pages instead of deleting its rows one by one (a third of a fold's
/// cost, measured).
const FOLDED: &str = "DELETE FROM trail_recent";

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
        &["trail_index", "trail_recent"]
    }

    fn json_needs(&self) -> JsonNeeds {
        JsonNeeds::All
    }

    /// Why two tables: the index is ordered by term, so each commit would add rows at the
    /// end of every term's range at once (a dozen places in the middle of one B-tree), and
    /// SQLite rebalances three nearly full sibling pages at each of them: about four page
    /// writes per term per commit. Staged in position order, a commit's rows go to one
    /// place, the table's right edge; a block's rows then move in term order, many to a page.
    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements) {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return;
        };
        // Every caller folds the log's events in order and without gaps (live appends and
        // rebuilds alike), so each block boundary falls inside exactly one call.
        debug_assert_eq!(
            last.position - first.position + 1,
            events.len() as u64,
            "the events of one fold follow on"
        );
        // The last block boundary these events reach: they cross it if it is not below them
        // all, and then the events up to it are filed in the index directly.
        let boundary = last.position / FOLD_EVERY * FOLD_EVERY;
        if boundary >= first.position {
            out.push(FOLD, vec![Value::Int(boundary as i64)]);
            out.push(FOLDED, vec![]);
        }
        // Positions are unique; two of one event's terms sharing a key give one row, which
        // both terms' queries find (and check). In each table's order: a statement then
        // fills B-tree pages in sequence instead of jumping about (a rebuild inserts
        // millions of rows).
        let (mut indexed, mut staged): (Vec<_>, Vec<_>) = events
            .iter()
            .flat_map(|event| {
                index_term_keys(event)
                    .into_iter()
                    .map(move |key| (key, event.time_ns, event.position))
            })
            .partition(|&(_, _, position)| position <= boundary);
        indexed.sort_unstable();
        indexed.dedup();
        staged.sort_unstable_by_key(|&(key, time_ns, position)| (position, key, time_ns));
        staged.dedup();
        let indexed = indexed
            .into_iter()
            .map(|(key, time_ns, position)| {
                vec![
                    Value::Int(key),
                    Value::Int(time_ns),
                    Value::Int(position as i64),
                ]
            })
            .collect();
        out.push_rows(INSERT_INDEX, "", indexed);
        let staged = staged
            .into_iter()
            .map(|(key, time_ns, position)| {
                vec![
                    Value::Int(position as i64),
                    Value::Int(key),
                    Value::Int(time_ns),
                ]
            })
            .collect();
        out.push_rows(INSERT_RECENT, "", staged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::trail::term_key;

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
        assert_eq!(out.0.len(), 1, "no block boundary reached: staged only");
        assert!(out.0[0].sql.starts_with(INSERT_RECENT));
        let rows: Vec<&[Value]> = out.0[0].params.chunks(3).collect();
        let s = "111122223333/us-east-1/";
        let row = |t: &str| {
            vec![
                Value::Int(3),
                Value::Int(term_key(&format!("{s}{t}"))),
                Value::Int(30),
            ]
        };
        let mut expected = [row("*"), row("k:k"), row("n:CreateKey"), row("r:false")];
        expected.sort_by_key(|row| match row[1] {
            Value::Int(key) => key,
            _ => unreachable!(),
        });
        assert_eq!(rows, expected, "in the staging table's order");
    }

    fn usage_at(position: u64, data: &[u8]) -> EventColumns<'_> {
        EventColumns {
            position,
            event_name: "Encrypt",
            time_ns: position as i64 * 10,
            keys: "k",
            data,
            ..EventColumns::default()
        }
    }

    #[test]
    fn reaching_a_block_boundary_folds_the_staged_rows_and_files_the_block_in_the_index() {
        let data = br#"{"body":{"awsRegion":"r","recipientAccountId":"1"}}"#;
        let events: Vec<EventColumns> = (FOLD_EVERY - 1..=FOLD_EVERY + 1)
            .map(|p| usage_at(p, data))
            .collect();
        let mut out = Statements::default();
        TrailIndex.apply(&events, &mut out);
        let sql: Vec<&str> = out.0.iter().map(|s| &s.sql[..]).collect();
        assert_eq!(sql[..2], [FOLD, FOLDED], "what was staged moves first");
        let boundary = [Value::Int(FOLD_EVERY as i64)];
        assert_eq!(out.0[0].params, boundary);
        assert!(out.0[1].params.is_empty());
        assert!(sql[2].starts_with(INSERT_INDEX) && sql[3].starts_with(INSERT_RECENT));
        let positions = |statement: &crate::ledger::sql::Statement, column: usize| {
            let mut positions: Vec<i64> = statement
                .params
                .chunks(3)
                .map(|row| match row[column] {
                    Value::Int(p) => p,
                    _ => unreachable!(),
                })
                .collect();
            positions.dedup();
            positions
        };
        let indexed = positions(&out.0[2], 2);
        assert_eq!(
            indexed.iter().collect::<std::collections::BTreeSet<_>>(),
            [FOLD_EVERY as i64 - 1, FOLD_EVERY as i64].iter().collect(),
            "the block's own events go straight to the index"
        );
        assert_eq!(positions(&out.0[3], 0), [FOLD_EVERY as i64 + 1]);

        // Within a block, nothing moves.
        let mut out = Statements::default();
        TrailIndex.apply(&[usage_at(FOLD_EVERY + 2, data)], &mut out);
        assert_eq!(out.0.len(), 1);
        assert!(out.0[0].sql.starts_with(INSERT_RECENT));
    }
}
