//! Read models kept as SQL tables inside the append transaction.
//!
//! A [`ReadModel`] folds committed events into [`Statements`] — SQL text with `?`
//! placeholders and typed values, in the dialect SQLite and PostgreSQL share
//! (`INSERT … ON CONFLICT … DO UPDATE`). The store runs them in the same transaction as the
//! events they derive from and moves the model's row in `read_model_checkpoints` with them,
//! so a model is never ahead of or behind the log. A rebuild empties the model's tables and
//! runs the same fold over the whole log.

use std::borrow::Cow;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// One statement and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<Value>,
}

/// Rows per multi-row INSERT at most (keeps parameters far below every backend's limit).
pub const MAX_ROWS_PER_INSERT: usize = 500;

/// The store runs a batch's statements as one text, binding values in order: a missing value
/// would silently bind NULL, and a numbered placeholder (`?1`) would index the whole text.
/// So statements use plain `?` only (no `?` inside literals), one per value.
fn debug_assert_placeholders(sql: &str, params: &[Value]) {
    debug_assert_eq!(
        sql.matches('?').count(),
        params.len(),
        "placeholders and values differ in: {sql}"
    );
}

/// The statements a fold produced, in the order they must run.
#[derive(Debug, Default, Clone)]
pub struct Statements(pub Vec<Statement>);

impl Statements {
    pub fn push(&mut self, sql: &'static str, params: Vec<Value>) {
        debug_assert_placeholders(sql, &params);
        self.0.push(Statement {
            sql: Cow::Borrowed(sql),
            params,
        });
    }

    /// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) … <tail>` for all `rows` (each of the same
    /// width), split into statements of at most [`MAX_ROWS_PER_INSERT`] rows. A set-based
    /// statement, not one per row: a rebuild folds a million events into a few statements.
    /// The rows must not repeat a conflict key (PostgreSQL refuses that in one statement).
    pub fn push_rows(&mut self, insert: &'static str, tail: &'static str, rows: Vec<Vec<Value>>) {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Value>> = rows.by_ref().take(MAX_ROWS_PER_INSERT).collect();
            let width = chunk[0].len();
            let placeholders = format!("({})", vec!["?"; width].join(", "));
            let mut sql = String::with_capacity(
                insert.len() + tail.len() + chunk.len() * (placeholders.len() + 2) + 10,
            );
            sql.push_str(insert);
            sql.push_str(" VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&placeholders);
            }
            sql.push(' ');
            sql.push_str(tail);
            let params: Vec<Value> = chunk.into_iter().flatten().collect();
            debug_assert_placeholders(&sql, &params);
            self.0.push(Statement {
                sql: Cow::Owned(sql),
                params,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A committed event as read models see it: the log's columns (so that a rebuild reads
/// columns, not a million documents) and, for the models that ask ([`ReadModel::json_needs`]),
/// the event's JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventColumns<'a> {
    pub position: u64,
    pub stream: Option<&'a str>,
    pub event_name: &'a str,
    pub event_id: &'a str,
    pub time_ns: i64,
    /// Key ids separated by spaces; empty when the event concerns no key.
    pub keys: &'a str,
    pub error_code: Option<&'a str>,
    /// The calling account and principal ARN (`replay::columns`); `None` when unknown.
    pub account: Option<&'a str>,
    pub principal: Option<&'a str>,
    /// The event's JSON as hashed: always live; empty in a rebuild unless the model
    /// [`json_needs`](ReadModel::json_needs) it.
    pub data: &'a [u8],
    /// What the call that made a usage event said its record holds (live appends only;
    /// `trail::index_terms` reads the JSON when it is absent).
    pub record: Option<&'a super::trail::RecordTerms<'static>>,
}

impl<'a> EventColumns<'a> {
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let keys: &'a str = self.keys;
        keys.split(' ').filter(|k| !k.is_empty())
    }
}

/// A read model: SQL tables derived from the log by a deterministic fold.
pub trait ReadModel: Send + Sync + 'static {
    /// Its name, for `keyledger rebuild NAME` and `read_model_checkpoints`.
    fn name(&self) -> &'static str;
    /// Its tables (emptied before a rebuild, compared after one).
    fn tables(&self) -> &'static [&'static str];
    /// Fold `events` — committed, consecutive, in log order — into statements. Pure: the
    /// same events give the same statements, live or in a rebuild.
    fn apply(&self, events: &[EventColumns<'_>], out: &mut Statements);
    /// Which of the log's optional columns the fold reads (a rebuild packs only those, and
    /// hands the fold `""`/`None` for the others).
    fn column_needs(&self) -> ColumnNeeds {
        ColumnNeeds::ALL
    }
    /// Which events' JSON ([`EventColumns::data`]) the fold reads. A rebuild reads that JSON
    /// too (slower than columns alone) and hands the fold an empty `data` for the others.
    fn json_needs(&self) -> JsonNeeds {
        JsonNeeds::None
    }
}

/// The log's columns a fold may do without: `event_id` (36 bytes an event) and the caller
/// (`account`, `principal`). Packing fewer columns is most of what a rebuild saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnNeeds {
    pub event_id: bool,
    pub caller: bool,
}

impl ColumnNeeds {
    pub const ALL: ColumnNeeds = ColumnNeeds {
        event_id: true,
        caller: true,
    };
}

/// Which events' JSON a read model folds (the others it folds from their columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonNeeds {
    None,
    All,
    /// Lifecycle events' (when `lifecycle`), and usage events' of these operations.
    Some {
        lifecycle: bool,
        usage_events: &'static [&'static str],
    },
}

impl JsonNeeds {
    /// Whether the fold reads this event's JSON.
    pub fn wants(&self, stream: Option<&str>, event_name: &str) -> bool {
        match self {
            JsonNeeds::None => false,
            JsonNeeds::All => true,
            JsonNeeds::Some {
                lifecycle,
                usage_events,
            } => match stream {
                Some(_) => *lifecycle,
                None => usage_events.contains(&event_name),
            },
        }
    }

    /// [`JsonNeeds::wants`] as an SQL condition on the `events` table (the names are the
    /// program's own constants, plain identifiers, so they are written into the text).
    pub fn sql_condition(&self) -> String {
        match self {
            // Comparisons, not 0 and 1: PostgreSQL wants a boolean where SQLite takes either.
            JsonNeeds::None => "1 = 0".into(),
            JsonNeeds::All => "1 = 1".into(),
            JsonNeeds::Some {
                lifecycle,
                usage_events,
            } => {
                debug_assert!(usage_events
                    .iter()
                    .all(|n| n.bytes().all(|b| b.is_ascii_alphanumeric())));
                let names: Vec<String> = usage_events.iter().map(|n| format!("'{n}'")).collect();
                // PostgreSQL refuses an empty `IN ()`.
                let usage = if names.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    format!("event_name IN ({})", names.join(", "))
                };
                format!(
                    "(stream IS NOT NULL AND {}) OR (stream IS NULL AND {usage})",
                    if *lifecycle { "1 = 1" } else { "1 = 0" },
                )
            }
        }
    }
}

/// The statement that moves a model's checkpoint.
pub const CHECKPOINT_SQL: &str =
    "INSERT INTO read_model_checkpoints (name, position) VALUES (?, ?) \
     ON CONFLICT (name) DO UPDATE SET position = excluded.position";
