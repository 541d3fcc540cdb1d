//! The reads every SQL backend answers the same way: one text per query, written with `?`
//! placeholders, and one mapping of its rows. [`sql_reader!`] writes them into a backend's
//! reader type (`SqliteReader`, `PostgresReader`), which supplies its `pool` and
//! `sql(text)`, the text in its own placeholder syntax. (A macro, not generic code: sqlx's
//! bounds for "any database" are longer than the queries.)

/// The columns of a stored event (defined once, by the offline verifier that reads them too).
pub(crate) use replay::EVENT_COLUMNS;

pub(crate) const CHECKPOINT_SELECT: &str =
    "SELECT tree_size, root_hash, note, created_ns FROM trail_checkpoints";

/// Events read per page by `read_all`.
pub(crate) const PAGE: usize = 65_536;

/// The walk of the query's first term through one of the model's two tables (`trail_index`,
/// folded, and `trail_recent`, staged), newest first: in `trail_index`,
/// `(term_key, time_ns, position)` is the primary key, so the term and the time bounds are one
/// range of it; `trail_recent` holds at most a block of events and is scanned. Each row comes
/// with what its event's terms are computed from (`trail::index_terms`): a term's key may
/// be shared, so the index proposes and the event decides.
const TRAIL_HEAD: &str = "SELECT i.position, i.time_ns FROM {table} AS i \
     WHERE i.term_key = ? AND i.time_ns >= ? AND (i.time_ns, i.position) <= (?, ?) AND i.position <= ?";
/// Each further term: one primary-key lookup per row the walk meets.
const TRAIL_ALSO: &str = " AND EXISTS (SELECT 1 FROM {table} AS j \
     WHERE j.term_key = ? AND j.position = i.position AND j.time_ns = i.time_ns)";
const TRAIL_TAIL: &str = " ORDER BY i.time_ns DESC, i.position DESC LIMIT ?";
/// The page's events (every column, as `stored_event` reads them), joined after the limit
/// (a sort of the staged rows then moves two integers a row, not the event's JSON), in no
/// order: `merge_trail_rows` orders them. A left join: a row whose event is missing still
/// counts against the limit, so a short answer always means the table has no more rows.
const TRAIL_EVENTS: &str = "SELECT i.position AS walk_position, i.time_ns AS walk_time_ns, \
     {event_columns} FROM ({walk}) AS i LEFT JOIN events AS e ON e.position = i.position";

/// The model's tables, in the order a walk reads them: rows only ever move from
/// `trail_recent` to `trail_index`, so a row that moves between the two reads is read twice
/// (and answered once), never missed.
pub(crate) const TRAIL_TABLES: [&str; 2] = ["trail_recent", "trail_index"];

/// A row a trail walk read: where the index files an event, and the event the log has at
/// that position (`None`: no such event).
pub(crate) struct TrailRow {
    pub position: u64,
    pub time_ns: i64,
    pub event: Option<crate::ledger::StoredEvent>,
}

/// One round of a trail walk: each table's rows (at most `wanted` each, the newest of what
/// remains, in any order) merged newest first, down to where every table that may hold more
/// has been read, each checked against `query` (whose own terms are `query_terms`) and added
/// to `hits` (up to `query.limit`); `page`'s cursor moves below the last row taken. An event
/// is checked as the log has it: its terms from its columns and JSON, its own time (a row
/// filing it at another time is refused). Returns whether another round may find more.
pub(crate) fn merge_trail_rows(
    query: &crate::ledger::trail::TrailQuery,
    query_terms: &[String],
    page: &mut crate::ledger::trail::TrailQuery,
    tables: Vec<Vec<TrailRow>>,
    wanted: usize,
    hits: &mut Vec<crate::ledger::trail::TrailHit>,
) -> bool {
    let order = |r: &TrailRow| (r.time_ns, r.position);
    // A table that returned `wanted` rows may hold more below its oldest: nothing below the
    // newest such oldest row is known to be complete yet.
    let floor = tables
        .iter()
        .filter(|rows| rows.len() >= wanted)
        .filter_map(|rows| rows.iter().map(order).min())
        .max();
    let mut rows: Vec<TrailRow> = tables.into_iter().flatten().collect();
    rows.sort_unstable_by(|a, b| order(b).cmp(&order(a)));
    rows.dedup_by_key(|r| r.position);
    for row in rows {
        if floor.is_some_and(|floor| order(&row) < floor) || hits.len() >= query.limit {
            return true;
        }
        page.before = Some(crate::ledger::trail::Cursor {
            time_ns: row.time_ns,
            position: row.position,
        });
        let Some(event) = row.event else {
            continue;
        };
        let columns = event.columns();
        let selected = columns.time_ns == row.time_ns
            && query.matches_given(
                query_terms,
                &crate::ledger::trail::index_terms(&columns),
                columns.time_ns,
                columns.position,
            );
        if selected {
            hits.push(crate::ledger::trail::TrailHit {
                position: row.position,
                time_ns: row.time_ns,
                data: event.data,
            });
        }
    }
    floor.is_some() && hits.len() < query.limit
}

/// A key's last cryptographic use from the `key_usage` view (SQLite pushes `key_id` into it)
/// and that event's time and JSON (for the request id).
pub(crate) const KEY_USAGE_SQL: &str =
    "SELECT u.last_operation, u.last_event_id, u.last_position, e.time_ns, e.data \
     FROM key_usage AS u JOIN events AS e ON e.position = u.last_position WHERE u.key_id = ?";

/// Every key's last cryptographic use, at once (the compliance report's "unused" column).
pub(crate) const LAST_USES_SQL: &str = "SELECT u.key_id, e.time_ns FROM key_usage AS u \
     JOIN events AS e ON e.position = u.last_position";

/// The trail walk's SQL for `terms` terms through `table` (one of [`TRAIL_TABLES`]).
pub(crate) fn trail_sql(table: &str, terms: usize) -> String {
    let mut walk = TRAIL_HEAD.replace("{table}", table);
    for _ in 1..terms {
        walk.push_str(&TRAIL_ALSO.replace("{table}", table));
    }
    walk.push_str(TRAIL_TAIL);
    let event_columns: Vec<String> = EVENT_COLUMNS
        .split(',')
        .map(|column| format!("e.{}", column.trim()))
        .collect();
    TRAIL_EVENTS
        .replace("{event_columns}", &event_columns.join(", "))
        .replace("{walk}", &walk)
}

/// Write the shared reads into `$reader` (a type with a `pool` field and an associated
/// `fn sql(&str) -> Cow<'_, str>`), whose rows are `$row`.
macro_rules! sql_reader {
    ($reader:ty, $row:ty) => {
        const _: () = {
        use $crate::domain::ids::KeyId;
        use $crate::ledger::reads::*;
        use $crate::ledger::trail::{self, KeyLastUse, KeyUsageReport, TrailHit, TrailQuery};
        use $crate::ledger::{storage, StoreError, StoredCheckpoint, StoredEvent};
        use $crate::projections::compliance::{ComplianceInput, KeyEventRow};
        use replay::billing::{BillingInput, BillingMonth, Change, ChangeRow, KeyRow, Outcome, RequestKey};
        use sqlx::Row as _;

        impl $reader {
            pub(crate) fn stored_event(row: $row) -> Result<StoredEvent, StoreError> {
                let position = row.try_get::<i64, _>("position").map_err(storage)? as u64;
                let hash: Vec<u8> = row.try_get("hash").map_err(storage)?;
                Ok(StoredEvent {
                    position,
                    stream: row.try_get("stream").map_err(storage)?,
                    stream_version: row
                        .try_get::<Option<i64>, _>("stream_version")
                        .map_err(storage)?
                        .map(|v| v as u64),
                    event_name: row.try_get("event_name").map_err(storage)?,
                    data: row.try_get("data").map_err(storage)?,
                    hash: hash.try_into().map_err(|_| StoreError::Corrupt {
                        position,
                        reason: "hash is not 32 bytes".into(),
                    })?,
                    event_id: row.try_get("event_id").map_err(storage)?,
                    time_ns: row.try_get("time_ns").map_err(storage)?,
                    keys: row.try_get("keys").map_err(storage)?,
                    error_code: row.try_get("error_code").map_err(storage)?,
                    account: row.try_get("account").map_err(storage)?,
                    principal: row.try_get("principal").map_err(storage)?,
                })
            }

            pub(crate) fn stored_checkpoint(row: $row) -> Result<StoredCheckpoint, StoreError> {
                let size = row.try_get::<i64, _>("tree_size").map_err(storage)? as u64;
                let root: Vec<u8> = row.try_get("root_hash").map_err(storage)?;
                Ok(StoredCheckpoint {
                    size,
                    root: root.try_into().map_err(|_| StoreError::Corrupt {
                        position: size,
                        reason: "a checkpoint's root is not 32 bytes".into(),
                    })?,
                    note: row.try_get("note").map_err(storage)?,
                    time_ns: row.try_get("created_ns").map_err(storage)?,
                })
            }

        pub async fn read_stream(
            &self,
            stream: &str,
            from_version: u64,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            sqlx::query(&Self::sql(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ? AND stream_version >= ? ORDER BY stream_version"
            )))
            .bind(stream)
            .bind(from_version as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?
            .into_iter()
            .map(Self::stored_event)
            .collect()
        }


        pub async fn read_all(
            &self,
            after: u64,
            limit: usize,
            lifecycle_only: bool,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            let filter = if lifecycle_only {
                "AND stream IS NOT NULL"
            } else {
                ""
            };
            sqlx::query(&Self::sql(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > ? {filter} ORDER BY position LIMIT ?"
            )))
            .bind(after as i64)
            .bind(limit.min(PAGE) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(storage)?
            .into_iter()
            .map(Self::stored_event)
            .collect()
        }


        pub async fn checkpoint(
            &self,
            size: Option<u64>,
        ) -> Result<Option<StoredCheckpoint>, StoreError> {
            let newest = format!("{CHECKPOINT_SELECT} ORDER BY tree_size DESC LIMIT 1");
            let newest = Self::sql(&newest);
            let sized = format!("{CHECKPOINT_SELECT} WHERE tree_size = ?");
            let sized = Self::sql(&sized);
            let row = match size {
                None => sqlx::query(&newest),
                Some(size) => sqlx::query(&sized).bind(size as i64),
            }
            .fetch_optional(&self.pool)
            .await
            .map_err(storage)?;
            row.map(Self::stored_checkpoint).transpose()
        }


        pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
            sqlx::query(&Self::sql(&format!("{CHECKPOINT_SELECT} ORDER BY tree_size")))
                .fetch_all(&self.pool)
                .await
                .map_err(storage)?
                .into_iter()
                .map(Self::stored_checkpoint)
                .collect()
        }


        pub async fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, StoreError> {
            sqlx::query(&Self::sql(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?"
            )))
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage)?
            .map(Self::stored_event)
            .transpose()
        }


        pub async fn shredding_keys(&self) -> Result<Vec<(KeyId, Vec<u8>)>, StoreError> {
            let rows = sqlx::query(&Self::sql("SELECT key_id, wrapped FROM shredding_keys"))
                .fetch_all(&self.pool)
                .await
                .map_err(storage)?;
            rows.into_iter()
                .map(|row| {
                    let id: String = row.try_get("key_id").map_err(storage)?;
                    let key_id = KeyId::parse(&id).ok_or_else(|| {
                        StoreError::Storage(format!("shredding_keys holds an invalid key id {id:?}"))
                    })?;
                    Ok((key_id, row.try_get("wrapped").map_err(storage)?))
                })
                .collect()
        }


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
                None => sqlx::query_scalar(&Self::sql(
                    "SELECT DISTINCT account FROM billing_requests UNION SELECT account FROM billing_keys",
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(storage)?,
            };
            for account in &accounts {
                // The report prices by key and pair spec and shows no operation, so SQLite sums
                // the operations other than key-pair generation (fewer rows for the same bill).
                let rows = sqlx::query(&Self::sql(
                    "SELECT day, key_id, CASE WHEN operation LIKE 'GenerateDataKeyPair%' \
                     THEN operation ELSE '' END AS op, pair_spec, outcome, CAST(SUM(requests) AS BIGINT) \
                     FROM billing_requests WHERE account = ? AND day > ? AND day < ? \
                     GROUP BY day, key_id, op, pair_spec, outcome",
                ))
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
            let keys = sqlx::query(&Self::sql(
                "SELECT key_id, account, key_spec, key_manager, created_s FROM billing_keys \
                 WHERE created_s < ?",
            ))
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
            let changes = sqlx::query(&Self::sql(
                "SELECT key_id, seq, time_s, change FROM billing_key_changes WHERE time_s < ?",
            ))
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
            let key_events = sqlx::query(&Self::sql(
                "SELECT key_id, position, time_ns, event_type, account, principal, detail \
                 FROM compliance_key_events WHERE time_ns <= ? ORDER BY position",
            ))
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
            for row in sqlx::query(&Self::sql(
                "SELECT principal, account, key_id, outcome, CAST(SUM(requests) AS BIGINT) FROM compliance_requests \
                 WHERE day >= ? AND day <= ? GROUP BY principal, account, key_id, outcome",
            ))
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
            for row in sqlx::query(&Self::sql(
                "SELECT day, key_id, CAST(SUM(requests) AS BIGINT) FROM compliance_requests \
                 WHERE day >= ? AND day <= ? AND key_id != '' GROUP BY day, key_id",
            ))
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
            for row in sqlx::query(&Self::sql(
                "SELECT key_id, MAX(day) FROM compliance_requests WHERE day <= ? \
                 AND outcome = 'succeeded' AND cryptographic = 1 GROUP BY key_id",
            ))
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

        /// [`LedgerReader::trail`](crate::ledger::LedgerReader::trail) for a query that
        /// names no event id (it answers those from the log's own index).
        pub(crate) async fn trail(&self, query: &TrailQuery) -> Result<Vec<TrailHit>, StoreError> {
            debug_assert!(query.event_id().is_none(), "event ids are no terms");
            let terms = query.terms();
            let keys: Vec<i64> = terms.iter().map(|t| trail::term_key(t)).collect();
            let sql: Vec<String> = TRAIL_TABLES
                .iter()
                .map(|table| Self::sql(&trail_sql(table, keys.len())).into_owned())
                .collect();
            let mut hits = Vec::new();
            let mut page = query.clone();
            while hits.len() < query.limit {
                let wanted = query.limit - hits.len();
                let mut tables = Vec::with_capacity(sql.len());
                for sql in &sql {
                    tables.push(self.trail_rows(sql, &keys, &page, wanted).await?);
                }
                if !merge_trail_rows(query, &terms, &mut page, tables, wanted, &mut hits) {
                    break;
                }
            }
            Ok(hits)
        }

        async fn trail_rows(
            &self,
            sql: &str,
            keys: &[i64],
            page: &TrailQuery,
            wanted: usize,
        ) -> Result<Vec<TrailRow>, StoreError> {
            let (upper_time, upper_position) = page.upper();
            let mut q = sqlx::query(sql)
                .bind(keys[0])
                .bind(page.lower_ns())
                .bind(upper_time)
                .bind(upper_position)
                .bind(page.up_to());
            for key in &keys[1..] {
                q = q.bind(*key);
            }
            q.bind(wanted.min(i64::MAX as usize) as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(storage)?
                .into_iter()
                .map(|row| {
                    let position = row.try_get::<i64, _>("walk_position").map_err(storage)?;
                    let time_ns = row.try_get("walk_time_ns").map_err(storage)?;
                    let found = row
                        .try_get::<Option<i64>, _>("position")
                        .map_err(storage)?
                        .is_some();
                    Ok(TrailRow {
                        position: position as u64,
                        time_ns,
                        event: if found { Some(Self::stored_event(row)?) } else { None },
                    })
                })
                .collect()
        }

        pub async fn last_cryptographic_uses(
            &self,
        ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
            sqlx::query(&Self::sql(LAST_USES_SQL))
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
            let row = sqlx::query(&Self::sql(KEY_USAGE_SQL))
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
                sqlx::query_scalar(&Self::sql("SELECT time_ns FROM events ORDER BY position LIMIT 1"))
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
        };
    };
}
pub(crate) use sql_reader;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::trail::{Scope, TrailHit, TrailQuery};

    const DATA: &[u8] = br#"{"body":{"awsRegion":"r","recipientAccountId":"1"}}"#;

    fn event(time_ns: i64, position: u64, data: &[u8]) -> crate::ledger::StoredEvent {
        crate::ledger::StoredEvent {
            position,
            stream: None,
            stream_version: None,
            event_name: "Encrypt".into(),
            data: data.to_vec(),
            hash: [0; 32],
            event_id: None,
            time_ns: Some(time_ns),
            keys: None,
            error_code: None,
            account: None,
            principal: None,
        }
    }

    fn row(time_ns: i64, position: u64) -> TrailRow {
        TrailRow {
            position,
            time_ns,
            event: Some(event(time_ns, position, DATA)),
        }
    }

    fn query(limit: usize) -> TrailQuery {
        TrailQuery {
            scope: Scope {
                account: "1".into(),
                region: "r".into(),
            },
            filters: vec![],
            start_ns: None,
            end_ns: None,
            before: None,
            up_to: None,
            limit,
        }
    }

    /// The tables' rows come in any order (the SQL orders only the walk under its limit):
    /// what a full table may still hold is below its oldest row, wherever that row is.
    #[test]
    fn a_round_takes_every_row_down_to_the_oldest_of_a_full_table() {
        let q = query(3);
        let mut page = q.clone();
        let mut hits: Vec<TrailHit> = Vec::new();
        let tables = vec![vec![row(10, 1), row(30, 3)], vec![row(20, 2)]];
        let more = merge_trail_rows(&q, &q.terms(), &mut page, tables, 2, &mut hits);
        let positions: Vec<u64> = hits.iter().map(|h| h.position).collect();
        assert_eq!(positions, [3, 2, 1], "newest first, in one round");
        assert!(!more, "the page is full");
    }

    /// Below the oldest row of a full table nothing is taken yet (another round reads it),
    /// the same row read from both tables is answered once, and a row with no event (or
    /// another scope's, or filing its event at a time it does not have) moves the cursor
    /// without being answered.
    #[test]
    fn a_round_stops_at_a_full_tables_floor_and_answers_each_event_once() {
        let q = query(10);
        let mut page = q.clone();
        let mut hits: Vec<TrailHit> = Vec::new();
        let missing = TrailRow {
            event: None,
            ..row(50, 9)
        };
        let elsewhere = TrailRow {
            event: Some(event(
                45,
                8,
                br#"{"body":{"awsRegion":"r","recipientAccountId":"2"}}"#,
            )),
            ..row(45, 8)
        };
        let misdated = TrailRow {
            event: Some(event(1, 10, DATA)),
            ..row(42, 10)
        };
        let tables = vec![
            vec![missing, elsewhere, misdated, row(40, 7), row(30, 6)],
            vec![row(40, 7), row(20, 5)],
        ];
        let more = merge_trail_rows(&q, &q.terms(), &mut page, tables, 5, &mut hits);
        let positions: Vec<u64> = hits.iter().map(|h| h.position).collect();
        assert_eq!(
            positions,
            [7, 6],
            "not 5: the first table may hold more above it"
        );
        assert!(more);
        let before = page.before.expect("the cursor moved");
        assert_eq!((before.time_ns, before.position), (30, 6));
    }
}
