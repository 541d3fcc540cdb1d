//! The SQLite store's queries over its read models: the trail from `trail_index`, a key's
//! last use from the `key_usage` view.

use super::{storage, SqliteReader};
use crate::ledger::trail::{self, KeyLastUse, KeyUsageReport, TrailHit, TrailQuery};
use crate::ledger::StoreError;
use crate::projections::compliance::{ComplianceInput, KeyEventRow};
use replay::billing::{BillingInput, BillingMonth, Change, ChangeRow, KeyRow, Outcome, RequestKey};
use sqlx::Row as _;

/// The walk of the query's first term, newest first: `(term, time_ns, position)` is the
/// table's primary key, so the term and the time bounds are one range of the index.
const TRAIL_HEAD: &str = "SELECT i.position, i.time_ns, e.data FROM trail_index AS i \
     JOIN events AS e ON e.position = i.position \
     WHERE i.term = ? AND i.time_ns >= ? AND (i.time_ns, i.position) <= (?, ?) AND i.position <= ?";
/// Each further term: one primary-key lookup per row the walk meets.
const TRAIL_ALSO: &str = " AND EXISTS (SELECT 1 FROM trail_index AS j \
     WHERE j.term = ? AND j.time_ns = i.time_ns AND j.position = i.position)";
const TRAIL_TAIL: &str = " ORDER BY i.time_ns DESC, i.position DESC LIMIT ?";

/// A key's last cryptographic use from the `key_usage` view (SQLite pushes `key_id` into it)
/// and that event's time and JSON (for the request id).
const KEY_USAGE_SQL: &str =
    "SELECT u.last_operation, u.last_event_id, u.last_position, e.time_ns, e.data \
     FROM key_usage AS u JOIN events AS e ON e.position = u.last_position WHERE u.key_id = ?";

/// Every key's last cryptographic use, at once (the compliance report's "unused" column).
const LAST_USES_SQL: &str = "SELECT u.key_id, e.time_ns FROM key_usage AS u \
     JOIN events AS e ON e.position = u.last_position";

/// The trail query's SQL for `terms` terms.
pub(super) fn trail_sql(terms: usize) -> String {
    let mut sql = String::from(TRAIL_HEAD);
    for _ in 1..terms {
        sql.push_str(TRAIL_ALSO);
    }
    sql.push_str(TRAIL_TAIL);
    sql
}

impl SqliteReader {
    /// The `billing` model's rows a month's report reads: the month's request counts (one
    /// range of the primary key per account), and the keys and key changes before its end.
    pub async fn billing_input(
        &self,
        month: BillingMonth,
        account: Option<&str>,
    ) -> Result<BillingInput, StoreError> {
        let (_, end_s) = month.bounds();
        let prefix = month.day_prefix();
        // Days of the month sort between `YYYY-MM-` and `YYYY-MM-~`.
        let upper = format!("{prefix}~");
        let mut requests = Vec::new();
        let accounts: Vec<String> = match account {
            Some(a) => vec![a.to_owned()],
            None => sqlx::query_scalar(
                "SELECT DISTINCT account FROM billing_requests UNION SELECT account FROM billing_keys",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?,
        };
        for account in &accounts {
            // The report prices by key and pair spec and shows no operation, so SQLite sums
            // the operations other than key-pair generation (fewer rows for the same bill).
            let rows = sqlx::query(
                "SELECT day, key_id, CASE WHEN operation LIKE 'GenerateDataKeyPair%' \
                 THEN operation ELSE '' END AS op, pair_spec, outcome, SUM(requests) \
                 FROM billing_requests WHERE account = ? AND day > ? AND day < ? \
                 GROUP BY day, key_id, op, pair_spec, outcome",
            )
            .bind(account)
            .bind(&prefix)
            .bind(&upper)
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?;
            for row in rows {
                let outcome: String = row.try_get(4).map_err(storage)?;
                let key = RequestKey {
                    account: account.clone(),
                    day: row.try_get(0).map_err(storage)?,
                    key_id: row.try_get(1).map_err(storage)?,
                    operation: row.try_get(2).map_err(storage)?,
                    pair_spec: row.try_get(3).map_err(storage)?,
                    outcome: Outcome::parse(&outcome).ok_or_else(|| {
                        StoreError::Storage(format!("billing_requests: outcome {outcome:?}"))
                    })?,
                };
                requests.push((key, row.try_get(5).map_err(storage)?));
            }
        }
        let keys = sqlx::query(
            "SELECT key_id, account, key_spec, key_manager, created_s FROM billing_keys \
             WHERE created_s < ?",
        )
        .bind(end_s)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        .into_iter()
        .map(|row| {
            Ok(KeyRow {
                key_id: row.try_get(0).map_err(storage)?,
                account: row.try_get(1).map_err(storage)?,
                key_spec: row.try_get(2).map_err(storage)?,
                key_manager: row.try_get(3).map_err(storage)?,
                created_s: row.try_get(4).map_err(storage)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let changes = sqlx::query(
            "SELECT key_id, seq, time_s, change FROM billing_key_changes WHERE time_s < ?",
        )
        .bind(end_s)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        .into_iter()
        .map(|row| {
            let change: String = row.try_get(3).map_err(storage)?;
            Ok(ChangeRow {
                key_id: row.try_get(0).map_err(storage)?,
                seq: row.try_get::<i64, _>(1).map_err(storage)? as u64,
                time_s: row.try_get(2).map_err(storage)?,
                change: Change::parse(&change).ok_or_else(|| {
                    StoreError::Storage(format!("billing_key_changes: change {change:?}"))
                })?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(BillingInput {
            requests,
            keys,
            changes,
        })
    }

    pub async fn compliance_input(
        &self,
        as_of_ns: i64,
        from_day: i64,
    ) -> Result<ComplianceInput, StoreError> {
        let as_of_day = as_of_ns.div_euclid(crate::projections::compliance::NS_PER_DAY);
        let key_events = sqlx::query(
            "SELECT key_id, position, time_ns, event_type, account, principal, detail \
             FROM compliance_key_events WHERE time_ns <= ? ORDER BY position",
        )
        .bind(as_of_ns)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        .into_iter()
        .map(|row| {
            Ok(KeyEventRow {
                key_id: row.try_get(0).map_err(storage)?,
                position: row.try_get::<i64, _>(1).map_err(storage)? as u64,
                time_ns: row.try_get(2).map_err(storage)?,
                event_type: row.try_get(3).map_err(storage)?,
                account: row.try_get(4).map_err(storage)?,
                principal: row.try_get(5).map_err(storage)?,
                detail: row.try_get(6).map_err(storage)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let outcome = |text: String| {
            Outcome::parse(&text).ok_or_else(|| {
                StoreError::Storage(format!("compliance_requests: outcome {text:?}"))
            })
        };
        // The period's days (one range of the primary key), summed by SQLite.
        let mut by_principal = std::collections::BTreeMap::new();
        for row in sqlx::query(
            "SELECT principal, account, key_id, outcome, SUM(requests) FROM compliance_requests \
             WHERE day >= ? AND day <= ? GROUP BY principal, account, key_id, outcome",
        )
        .bind(from_day)
        .bind(as_of_day)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        {
            let key = (
                row.try_get(0).map_err(storage)?,
                row.try_get(1).map_err(storage)?,
                row.try_get(2).map_err(storage)?,
                outcome(row.try_get(3).map_err(storage)?)?,
            );
            by_principal.insert(key, row.try_get(4).map_err(storage)?);
        }
        let mut daily = std::collections::BTreeMap::new();
        for row in sqlx::query(
            "SELECT day, key_id, SUM(requests) FROM compliance_requests \
             WHERE day >= ? AND day <= ? AND key_id != '' GROUP BY day, key_id",
        )
        .bind(from_day)
        .bind(as_of_day)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        {
            daily.insert(
                (
                    row.try_get::<i64, _>(0).map_err(storage)?,
                    row.try_get(1).map_err(storage)?,
                ),
                row.try_get(2).map_err(storage)?,
            );
        }
        let mut last_crypto_day = std::collections::BTreeMap::new();
        for row in sqlx::query(
            "SELECT key_id, MAX(day) FROM compliance_requests WHERE day <= ? \
             AND outcome = 'succeeded' AND cryptographic = 1 GROUP BY key_id",
        )
        .bind(as_of_day)
        .fetch_all(&self.pool)
        .await
        .map_err(storage)?
        {
            last_crypto_day.insert(
                row.try_get::<String, _>(0).map_err(storage)?,
                row.try_get::<i64, _>(1).map_err(storage)?,
            );
        }
        Ok(ComplianceInput {
            key_events,
            by_principal,
            daily,
            last_crypto_day,
        })
    }

    pub async fn trail(&self, query: &TrailQuery) -> Result<Vec<TrailHit>, StoreError> {
        let terms = query.terms();
        let sql = trail_sql(terms.len());
        let (upper_time, upper_position) = query.upper();
        let mut q = sqlx::query(&sql)
            .bind(&terms[0])
            .bind(query.lower_ns())
            .bind(upper_time)
            .bind(upper_position)
            .bind(query.up_to());
        for term in &terms[1..] {
            q = q.bind(term);
        }
        q.bind(query.limit.min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| {
                Ok(TrailHit {
                    position: row.try_get::<i64, _>(0).map_err(storage)? as u64,
                    time_ns: row.try_get(1).map_err(storage)?,
                    data: row.try_get(2).map_err(storage)?,
                })
            })
            .collect()
    }

    pub async fn last_cryptographic_uses(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        sqlx::query(LAST_USES_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(storage)?,
                    row.try_get(1).map_err(storage)?,
                ))
            })
            .collect()
    }

    pub async fn key_usage_report(&self, key_id: &str) -> Result<KeyUsageReport, StoreError> {
        let row = sqlx::query(KEY_USAGE_SQL)
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage)?;
        let last_use = match row {
            None => None,
            Some(row) => {
                let data: Vec<u8> = row.try_get(4).map_err(storage)?;
                Some(KeyLastUse {
                    operation: row.try_get(0).map_err(storage)?,
                    event_id: row.try_get(1).map_err(storage)?,
                    position: row.try_get::<i64, _>(2).map_err(storage)? as u64,
                    time_ns: row.try_get(3).map_err(storage)?,
                    request_id: trail::request_id(&data),
                })
            }
        };
        let tracking_start_ns: Option<i64> =
            sqlx::query_scalar("SELECT time_ns FROM events ORDER BY position LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?
                .flatten();
        Ok(KeyUsageReport {
            last_use,
            tracking_start_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::sqlite::SqliteLedger;

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
            let plan = plan(reader, &trail_sql(terms), 5 + terms).await;
            assert!(
                plan.contains("SEARCH i USING PRIMARY KEY (term=? AND time_ns>? AND (time_ns,position)<(?,?))"),
                "{plan}"
            );
            assert!(!plan.contains("SCAN"), "{plan}");
            assert!(
                !plan.contains("TEMP B-TREE"),
                "newest first is the index's order: {plan}"
            );
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
