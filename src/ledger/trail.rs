//! Trail queries: which usage events (CloudTrail records) a query selects, newest first.
//!
//! Every usage event is filed under a few *terms* — its key ids, event name, principal,
//! access key, user name, error code, readOnly, event id, resource types, and `*` (every
//! event) — each prefixed with the account and region whose trail it belongs to (CloudTrail
//! shows an account its own events, one region at a time). [`index_terms`] is the one
//! definition: the `trail_index` read model stores `(term_key(term), time_ns, position)` rows of it
//! (the SQL stores answer a query with a range walk of each of its two tables, newest first,
//! and check every event the walks propose with it), and the in-memory store scans its log
//! with the same function, so all answer alike.

use super::sql::EventColumns;
use serde::Deserialize;
use std::borrow::Cow;

/// Whose trail: an account's events in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    fn prefix(&self) -> String {
        format!("{}/{}/", self.account, self.region)
    }
}

/// Events with no account (a call that failed authentication) are filed under this one:
/// no caller's trail shows them (plain SQL on the ledger still does).
pub const NO_ACCOUNT: &str = "-";

/// The term every usage event is filed under (queries with no filter walk it).
const EVERY_EVENT: &str = "*";

/// One condition on the events a query selects; a query's filters all hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrailFilter {
    // Declared from the rarest to the commonest: the first filter of a query drives its
    // walk through the index, the others are checked on each row it meets. An event id is
    // no term: it names one event, found through the log's own index (`LedgerReader::trail`).
    EventId(String),
    Key(String),
    AccessKey(String),
    Principal(String),
    User(String),
    ErrorCode(String),
    EventName(String),
    ResourceType(String),
    ReadOnly(bool),
}

impl TrailFilter {
    /// The kind letter and value of the term (without its scope) an event matching this
    /// filter is filed under ([`push_term`] spells it); none for an event id.
    fn part(&self) -> Option<(char, &str)> {
        Some(match self {
            TrailFilter::EventId(_) => return None,
            TrailFilter::Key(v) => ('k', v),
            TrailFilter::AccessKey(v) => ('a', v),
            TrailFilter::Principal(v) => ('p', v),
            TrailFilter::User(v) => ('u', v),
            TrailFilter::ErrorCode(v) => ('e', v),
            TrailFilter::EventName(v) => ('n', v),
            TrailFilter::ResourceType(v) => ('t', v),
            TrailFilter::ReadOnly(v) => ('r', bool_text(*v)),
        })
    }
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// Append the term `<kind>:<value>` to `out`, which holds its scope's prefix
/// (`<account>/<region>/`): the one spelling of a term, for queries and events alike.
fn push_term(out: &mut String, kind: char, value: &str) {
    out.push(kind);
    out.push(':');
    out.push_str(value);
}

/// Where a page ended: the next page holds what sorts below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub time_ns: i64,
    pub position: u64,
}

/// A page of a trail query: the scope's usage events that pass every filter, with a time in
/// `[start_ns, end_ns]`, below `before`, at positions up to `up_to` (a snapshot, so that
/// paging never meets events appended after the first page), newest first by (time, position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailQuery {
    pub scope: Scope,
    pub filters: Vec<TrailFilter>,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub before: Option<Cursor>,
    pub up_to: Option<u64>,
    pub limit: usize,
}

impl TrailQuery {
    /// The terms to look up, the one to walk first: the rarest filter's, or `*`. Event ids
    /// are not among them (see [`selects_event`](Self::selects_event)).
    pub fn terms(&self) -> Vec<String> {
        let prefix = self.scope.prefix();
        let mut filters = self.filters.clone();
        filters.sort();
        filters.dedup();
        let terms: Vec<String> = filters
            .iter()
            .filter_map(TrailFilter::part)
            .map(|(kind, value)| {
                let mut term = prefix.clone();
                push_term(&mut term, kind, value);
                term
            })
            .collect();
        if terms.is_empty() {
            return vec![format!("{prefix}{EVERY_EVENT}")];
        }
        terms
    }

    /// The oldest time a hit may have (inclusive).
    pub fn lower_ns(&self) -> i64 {
        self.start_ns.unwrap_or(i64::MIN)
    }

    /// The newest (time, position) a hit may have (inclusive).
    pub fn upper(&self) -> (i64, i64) {
        let end = (self.end_ns.unwrap_or(i64::MAX), i64::MAX);
        match self.before {
            Some(c) => end.min((c.time_ns, c.position as i64 - 1)),
            None => end,
        }
    }

    /// The last position a hit may have.
    pub fn up_to(&self) -> i64 {
        self.up_to
            .map_or(i64::MAX, |p| p.min(i64::MAX as u64) as i64)
    }

    /// Whether an event filed under `terms` at this time and position is selected (the
    /// in-memory store's scan; SQLite asks its index the same question). Event ids are not
    /// checked here: a query that names one is answered by [`selects_event`](Self::selects_event).
    pub fn matches(&self, terms: &[String], time_ns: i64, position: u64) -> bool {
        self.matches_given(&self.terms(), terms, time_ns, position)
    }

    /// [`matches`](Self::matches) with the query's own [`terms`](Self::terms) worked out
    /// once, by the caller that checks many events.
    pub fn matches_given(
        &self,
        query_terms: &[String],
        terms: &[String],
        time_ns: i64,
        position: u64,
    ) -> bool {
        time_ns >= self.lower_ns()
            && (time_ns, position as i64) <= self.upper()
            && position as i64 <= self.up_to()
            && query_terms.iter().all(|t| terms.contains(t))
    }

    /// The event id the query names, if it names one.
    pub fn event_id(&self) -> Option<&str> {
        self.event_ids().next()
    }

    fn event_ids(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().filter_map(|f| match f {
            TrailFilter::EventId(id) => Some(id.as_str()),
            _ => None,
        })
    }

    /// Whether the event `event_id` (filed under `terms`) is selected: every event id the
    /// query names is that one (two different ones select nothing), and it passes the
    /// query's other filters, scope and bounds.
    pub fn selects_event(
        &self,
        event_id: &str,
        terms: &[String],
        time_ns: i64,
        position: u64,
    ) -> bool {
        self.event_ids().all(|id| id == event_id) && self.matches(terms, time_ns, position)
    }
}

/// A usage event a query selected: where it is, and its stored JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailHit {
    pub position: u64,
    pub time_ns: i64,
    pub data: Vec<u8>,
}

/// A key's last successful cryptographic use, as the `key_usage` view has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLastUse {
    pub operation: String,
    pub time_ns: i64,
    pub event_id: String,
    pub position: u64,
    /// The call's request id (from the event's JSON).
    pub request_id: Option<String>,
}

/// What `GetKeyLastUsage` needs: the key's last use, and since when the ledger records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyUsageReport {
    pub last_use: Option<KeyLastUse>,
    /// The time of the ledger's first event (nothing before it was recorded).
    pub tracking_start_ns: Option<i64>,
}

#[derive(Deserialize)]
struct UsageJson<'a> {
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    body: Option<RecordJson<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordJson<'a> {
    #[serde(borrow, default)]
    aws_region: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_identity: Option<IdentityJson<'a>>,
    #[serde(borrow, default)]
    resources: Vec<ResourceJson<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityJson<'a> {
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ResourceJson<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

/// The parts of a usage event's CloudTrail record its index terms are made of that the log's
/// columns do not hold. Read from the event's JSON ([`RecordTerms::from_json`]), or given by
/// the call that made the event, from the same values it serialized (`app::Service::
/// audit_batch`), so that the writer need not parse the JSON it was just handed (about a
/// twentieth of an Encrypt's instructions, callgrind). Debug builds check every given one
/// against its JSON ([`index_terms`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordTerms<'a> {
    /// The envelope's `read_only`.
    pub read_only: Option<bool>,
    pub region: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    /// Each `resources[].type`, in order.
    pub resource_types: Vec<Cow<'a, str>>,
    pub principal_arn: Option<Cow<'a, str>>,
    pub access_key_id: Option<Cow<'a, str>>,
    pub user_name: Option<Cow<'a, str>>,
}

impl<'a> RecordTerms<'a> {
    /// Borrowed from `data` where its JSON has no escapes; `None` when it cannot be read.
    pub fn from_json(data: &'a [u8]) -> Option<RecordTerms<'a>> {
        let usage = serde_json::from_slice::<UsageJson>(data).ok()?;
        let Some(record) = usage.body else {
            return Some(RecordTerms {
                read_only: usage.read_only,
                ..RecordTerms::default()
            });
        };
        let identity = record.user_identity;
        let (principal_arn, access_key_id, user_name) = match identity {
            Some(i) => (i.arn, i.access_key_id, i.user_name),
            None => (None, None, None),
        };
        Some(RecordTerms {
            read_only: usage.read_only,
            region: record.aws_region,
            account: record.recipient_account_id,
            resource_types: record
                .resources
                .into_iter()
                .filter_map(|r| r.kind)
                .collect(),
            principal_arn,
            access_key_id,
            user_name,
        })
    }
}

/// The key a term is stored under in the `trail_index` tables: the first 64 bits of its
/// BLAKE3 hash, a fixed-size integer instead of the term's text (about 45 bytes; decision
/// 0010). Two terms may share a key: the index only proposes events, and every event it
/// proposes is checked against the query's terms before it is answered
/// ([`TrailQuery::matches`]).
pub fn term_key(term: &str) -> i64 {
    let hash = blake3::hash(term.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    i64::from_le_bytes(first)
}

/// The request id an event's JSON names.
pub fn request_id(data: &[u8]) -> Option<String> {
    serde_json::from_slice::<UsageJson>(data)
        .ok()?
        .request_id
        .map(Cow::into_owned)
}

/// The terms a committed event is filed under: none for a lifecycle event (it is a fact
/// about a key, not an API call); for a usage event, each of its attributes a query can
/// name, prefixed with its account and region. Each term once, in a stable order. An event
/// whose JSON cannot be read is filed under what its columns say, in no account's scope.
pub fn index_terms(event: &EventColumns<'_>) -> Vec<String> {
    let mut terms = Vec::new();
    each_index_term(event, |term| terms.push(term.to_owned()));
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// The keys ([`term_key`]) of [`index_terms`], for the writer: the same terms, spelled in one
/// reused buffer instead of a string each (a key may come twice; the caller dedups).
pub fn index_term_keys(event: &EventColumns<'_>) -> Vec<i64> {
    let mut keys = Vec::with_capacity(12);
    each_index_term(event, |term| keys.push(term_key(term)));
    keys
}

/// Call `each` with every term `event` is filed under (see [`index_terms`]), possibly one
/// more than once.
fn each_index_term(event: &EventColumns<'_>, each: impl FnMut(&str)) {
    if event.stream.is_some() {
        return;
    }
    match event.record {
        Some(given) => {
            debug_assert_eq!(
                RecordTerms::from_json(event.data).as_ref(),
                Some(given),
                "the terms given with event {} are not its JSON's",
                event.event_id
            );
            each_term_of(event, given, each)
        }
        None => each_term_of(
            event,
            &RecordTerms::from_json(event.data).unwrap_or_default(),
            each,
        ),
    }
}

fn each_term_of(event: &EventColumns<'_>, record: &RecordTerms<'_>, mut each: impl FnMut(&str)) {
    let account = record.account.as_deref().unwrap_or(NO_ACCOUNT);
    let region = record.region.as_deref().unwrap_or(NO_ACCOUNT);
    let mut term = String::with_capacity(160);
    term.push_str(account);
    term.push('/');
    term.push_str(region);
    term.push('/');
    let scope = term.len();
    let mut file = |kind: char, value: &str| {
        term.truncate(scope);
        push_term(&mut term, kind, value);
        each(&term);
    };
    // No event id term: a query by event id reads the log's unique index on them instead
    // (`LedgerReader::trail`), and every usage event is one row fewer in the index.
    file('n', event.event_name);
    for key in event.keys() {
        file('k', key);
    }
    if let Some(code) = event.error_code {
        file('e', code);
    }
    if let Some(read_only) = record.read_only {
        file('r', bool_text(read_only));
    }
    for kind in &record.resource_types {
        file('t', kind);
    }
    let fields = [
        ('p', &record.principal_arn),
        ('a', &record.access_key_id),
        ('u', &record.user_name),
    ];
    for (kind, value) in fields {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            file(kind, v);
        }
    }
    term.truncate(scope);
    term.push_str(EVERY_EVENT);
    each(&term);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(data: &str) -> EventColumns<'_> {
        EventColumns {
            position: 7,
            stream: None,
            event_name: "Encrypt",
            event_id: "e1",
            time_ns: 1,
            keys: "k1 k2",
            error_code: Some("DisabledException"),
            data: data.as_bytes(),
            ..EventColumns::default()
        }
    }

    const RECORD: &str = r#"{"read_only":true,"request_id":"r1","body":{"awsRegion":"eu-west-1",
        "recipientAccountId":"111122223333","userIdentity":{"arn":"arn:aws:iam::111122223333:user/alice",
        "accessKeyId":"AKIA1","userName":"alice"},"resources":[{"type":"AWS::KMS::Key"},{"type":"AWS::KMS::Key"}]}}"#;

    /// The stored keys are a format: a ledger's index holds them, so the derivation may not
    /// drift (this value was computed outside Rust, with Python's `blake3`).
    #[test]
    fn a_term_key_is_the_first_64_bits_of_its_blake3_hash_little_endian() {
        assert_eq!(
            term_key("111122223333/us-east-1/k:1234abcd-12ab-34cd-56ef-1234567890ab"),
            -9158948466833254050
        );
    }

    #[test]
    fn a_usage_event_is_filed_under_each_attribute_in_its_scope() {
        let mut terms = index_terms(&usage(RECORD));
        terms.sort();
        let s = "111122223333/eu-west-1/";
        let mut expected: Vec<String> = [
            "*",
            "a:AKIA1",
            "e:DisabledException",
            "k:k1",
            "k:k2",
            "n:Encrypt",
            "p:arn:aws:iam::111122223333:user/alice",
            "r:true",
            "t:AWS::KMS::Key",
            "u:alice",
        ]
        .iter()
        .map(|t| format!("{s}{t}"))
        .collect();
        expected.sort();
        assert_eq!(terms, expected);
        assert_eq!(request_id(RECORD.as_bytes()).as_deref(), Some("r1"));
    }

    /// The writer files an event under keys it spells in one buffer; queries and the
    /// post-check use the terms' text. Both must name the same terms, and a query's filter of
    /// each kind must spell the term its events are filed under.
    #[test]
    fn the_writers_term_keys_are_the_keys_of_the_terms_every_query_spells() {
        for data in [
            RECORD,
            "not json",
            r#"{"body":{"userIdentity":{"arn":""}}}"#,
        ] {
            let event = usage(data);
            let mut keys = index_term_keys(&event);
            keys.sort_unstable();
            keys.dedup();
            let mut expected: Vec<i64> = index_terms(&event).iter().map(|t| term_key(t)).collect();
            expected.sort_unstable();
            assert_eq!(keys, expected, "{data}");
        }
        let terms = index_terms(&usage(RECORD));
        let filters = [
            TrailFilter::Key("k2".into()),
            TrailFilter::AccessKey("AKIA1".into()),
            TrailFilter::Principal("arn:aws:iam::111122223333:user/alice".into()),
            TrailFilter::User("alice".into()),
            TrailFilter::ErrorCode("DisabledException".into()),
            TrailFilter::EventName("Encrypt".into()),
            TrailFilter::ResourceType("AWS::KMS::Key".into()),
            TrailFilter::ReadOnly(true),
        ];
        for filter in filters {
            let query = TrailQuery {
                scope: Scope {
                    account: "111122223333".into(),
                    region: "eu-west-1".into(),
                },
                filters: vec![filter.clone()],
                start_ns: None,
                end_ns: None,
                before: None,
                up_to: None,
                limit: 1,
            };
            assert!(query.matches(&terms, 1, 7), "{filter:?} against {terms:?}");
        }
    }

    #[test]
    fn lifecycle_events_are_not_in_the_trail_and_unreadable_json_has_no_scope() {
        let mut lifecycle = usage(RECORD);
        lifecycle.stream = Some("key/k1");
        assert!(index_terms(&lifecycle).is_empty());
        let terms = index_terms(&usage("not json"));
        assert!(terms.contains(&"-/-/k:k1".to_owned()), "{terms:?}");
        assert!(terms.contains(&"-/-/*".to_owned()), "{terms:?}");
        assert!(!terms.iter().any(|t| t.contains("/r:")), "{terms:?}");
    }

    #[test]
    fn a_query_walks_its_rarest_term_first_and_pages_below_its_cursor() {
        let scope = Scope {
            account: "1".into(),
            region: "r".into(),
        };
        let mut q = TrailQuery {
            scope,
            filters: vec![
                TrailFilter::ReadOnly(true),
                TrailFilter::Key("k".into()),
                TrailFilter::EventName("Encrypt".into()),
            ],
            start_ns: Some(10),
            end_ns: Some(100),
            before: None,
            up_to: Some(50),
            limit: 5,
        };
        assert_eq!(q.terms(), ["1/r/k:k", "1/r/n:Encrypt", "1/r/r:true"]);
        assert_eq!(q.upper(), (100, i64::MAX));
        q.before = Some(Cursor {
            time_ns: 40,
            position: 9,
        });
        assert_eq!(q.upper(), (40, 8));
        let terms: Vec<String> = q.terms();
        assert!(q.matches(&terms, 40, 8));
        assert!(
            !q.matches(&terms, 40, 9),
            "the cursor itself is on the last page"
        );
        assert!(!q.matches(&terms, 9, 1), "before StartTime");
        assert!(
            !q.matches(&terms[..2], 20, 1),
            "a filter that does not hold"
        );
        q.before = None;
        assert!(!q.matches(&terms, 20, 51), "beyond the snapshot");
        q.filters.clear();
        assert_eq!(q.terms(), ["1/r/*"]);
    }

    #[test]
    fn a_query_by_event_id_checks_the_found_event_against_its_other_filters() {
        let event = usage(RECORD);
        let terms = index_terms(&event);
        let query = |filters: Vec<TrailFilter>, account: &str| TrailQuery {
            scope: Scope {
                account: account.into(),
                region: "eu-west-1".into(),
            },
            filters,
            start_ns: None,
            end_ns: None,
            before: None,
            up_to: None,
            limit: 50,
        };
        let id = || TrailFilter::EventId("e1".into());
        let q = query(vec![id()], "111122223333");
        assert_eq!(q.event_id(), Some("e1"));
        assert_eq!(
            q.terms(),
            ["111122223333/eu-west-1/*"],
            "an event id is no term"
        );
        assert!(q.selects_event("e1", &terms, 1, 7));
        assert!(
            !query(vec![id()], "444455556666").selects_event("e1", &terms, 1, 7),
            "another account's trail does not show it"
        );
        assert!(
            query(vec![id(), TrailFilter::Key("k2".into())], "111122223333")
                .selects_event("e1", &terms, 1, 7)
        );
        assert!(
            !query(vec![id(), TrailFilter::Key("k3".into())], "111122223333")
                .selects_event("e1", &terms, 1, 7),
            "a further filter that does not hold"
        );
        assert!(
            !query(
                vec![id(), TrailFilter::EventId("e2".into())],
                "111122223333"
            )
            .selects_event("e1", &terms, 1, 7),
            "two event ids select nothing"
        );
        let mut lifecycle = usage(RECORD);
        lifecycle.stream = Some("key/k1");
        assert!(!q.selects_event("e1", &index_terms(&lifecycle), 1, 7));
        assert_eq!(query(vec![], "111122223333").event_id(), None);
    }
}
