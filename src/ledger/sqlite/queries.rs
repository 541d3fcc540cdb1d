//! The SQLite reader's queries over its read models are shared with every SQL backend
//! (`ledger/reads.rs`); what is SQLite's own is that their plans walk indexes.

#[cfg(test)]
mod tests {
    use crate::ledger::reads::{trail_sql, KEY_USAGE_SQL};
    use crate::ledger::sqlite::{SqliteLedger, SqliteReader};

    /// SQLite's plan for `sql`, one line per step.
    async fn plan(reader: &SqliteReader, sql: &str, params: usize) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for _ in 0..params {
            q = q.bind(1i64);
        }
        let rows = q.fetch_all(&reader.pool).await.unwrap();
        rows.into_iter()
            .map(|(_, _, _, step)| step)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Trail queries and a key's last use are index lookups, never scans of the log: a plan
    /// that scanned would make every query cost the whole ledger.
    #[tokio::test]
    async fn trail_and_last_use_queries_walk_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(
            &dir.path().join("ledger.db"),
            crate::projections::read_models(),
        )
        .await
        .unwrap();
        let crate::ledger::LedgerReader::Sqlite(reader) = &ledger.reader else {
            unreachable!("a SQLite ledger has a SQLite reader")
        };
        for terms in [1, 3] {
            let folded = plan(reader, &trail_sql("trail_index", terms), 5 + terms).await;
            assert!(
                folded.contains("SEARCH i USING PRIMARY KEY (term_key=? AND time_ns>? AND (time_ns,position)<(?,?))"),
                "{folded}"
            );
            assert!(
                !folded.contains("TEMP B-TREE"),
                "newest first is the index's order: {folded}"
            );
            // The staged rows (at most `FOLD_EVERY` events' worth) are a range of positions,
            // sorted; each further term is one lookup.
            let staged = plan(reader, &trail_sql("trail_recent", terms), 5 + terms).await;
            assert!(
                staged.contains("SEARCH i USING PRIMARY KEY (position<?)"),
                "{staged}"
            );
            assert_eq!(
                staged
                    .matches("USING PRIMARY KEY (position=? AND term_key=?)")
                    .count(),
                terms - 1,
                "{staged}"
            );
            for plan in [&folded, &staged] {
                // The only scan is of the walk's own page (at most its limit of rows); each
                // event is one lookup.
                let scans: Vec<&str> = plan.lines().filter(|l| l.contains("SCAN")).collect();
                assert_eq!(scans, ["SCAN i"], "{plan}");
                assert!(
                    plan.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
                    "{plan}"
                );
            }
        }
        let plan = plan(reader, KEY_USAGE_SQL, 1).await;
        assert!(
            plan.contains("SEARCH key_usage_by_operation USING PRIMARY KEY (key_id=?)"),
            "{plan}"
        );
        assert!(
            !plan.contains("SCAN e") && !plan.contains("SCAN events"),
            "{plan}"
        );
    }
}
