//! Usage billing, the one definition: which rows a CloudTrail record adds to the `billing`
//! read model ([`BillingFold`]), and the monthly report computed from those rows
//! ([`report`]). The server keeps the rows as SQL tables in the append transaction; `replay
//! billing --export` folds a verified trail export into the same rows in memory. Both hand
//! them to [`report`], so both give the same report, byte for byte
//! (docs/decisions/0011-billing-and-compliance.md).
//!
//! Money is integer micro-dollars throughout (never floating point); prices are per 10,000
//! requests, as AWS publishes them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::{Date, Month, OffsetDateTime, Time};

/// The operations whose record the fold reads beyond the log's columns: a created key's
/// spec and manager, and a data key pair's spec.
pub const OPERATIONS_READ_IN_FULL: &[&str] = &[
    "CreateKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
];

/// keyledger's own trail and report calls, and the IAM, STS and account calls. AWS serves
/// these from CloudTrail, its billing console, IAM, STS and Organizations, not from KMS, so
/// they are not KMS requests: neither billed nor counted.
pub const NOT_KMS_REQUESTS: &[&str] = &[
    "AssumeRole",
    "CreateAccessKey",
    "CreateAccount",
    "CreateRole",
    "CreateUser",
    "DeleteAccessKey",
    "DeleteRole",
    "DeleteRolePolicy",
    "DeleteUser",
    "DeleteUserPolicy",
    "GetCallerIdentity",
    "GetRole",
    "GetRolePolicy",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListRolePolicies",
    "ListUserPolicies",
    "ListUsers",
    "PutRolePolicy",
    "PutUserPolicy",
    "UpdateAccessKey",
    "GetBillingReport",
    "GetComplianceReport",
    "GetTrailCheckpoint",
    "GetTrailConsistencyProof",
    "GetTrailInclusionProof",
    "GetTrailTile",
    "GetTrailVerifierKey",
    "ListTrailEvents",
    "LookupEvents",
];

/// How a call ended, as billing counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Refused by authorization (`AccessDeniedException`).
    Denied,
    /// Any other error.
    Failed,
}

impl Outcome {
    pub fn of(error_code: Option<&str>) -> Outcome {
        match error_code {
            None => Outcome::Succeeded,
            Some("AccessDeniedException") => Outcome::Denied,
            Some(_) => Outcome::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Succeeded, Outcome::Denied, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Requests of one account, day, key, operation, pair spec and outcome (`billing_requests`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    pub account: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// `""` when the request named no key.
    pub key_id: String,
    pub operation: String,
    /// The family (`RSA`, `ECC`) of a GenerateDataKeyPair* request's `KeyPairSpec`, which
    /// prices it; `""` otherwise.
    pub pair_spec: String,
    pub outcome: Outcome,
}

/// A customer's key as billing knows it (`billing_keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub key_id: String,
    pub account: String,
    pub key_spec: String,
    pub key_manager: String,
    pub created_s: i64,
}

/// What changes a key's monthly charge (`billing_key_changes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    Rotated,
    DeletionScheduled,
    DeletionCancelled,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Rotated => "rotated",
            Change::DeletionScheduled => "deletion_scheduled",
            Change::DeletionCancelled => "deletion_cancelled",
            Change::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Change> {
        [
            Change::Rotated,
            Change::DeletionScheduled,
            Change::DeletionCancelled,
            Change::Deleted,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub key_id: String,
    /// Orders a key's changes: the ledger position (an export's record number).
    pub seq: u64,
    pub time_s: i64,
    pub change: Change,
}

/// One call as billing reads it: the log's columns, and for [`OPERATIONS_READ_IN_FULL`] its
/// CloudTrail record (`'r`: it may live shorter than the columns).
#[derive(Debug, Clone, Copy)]
pub struct Call<'a, 'r> {
    pub seq: u64,
    /// eventTime (whole seconds).
    pub time_s: i64,
    pub event_name: &'a str,
    pub account: Option<&'a str>,
    pub principal: Option<&'a str>,
    /// The first key the call named (its first resource).
    pub key_id: Option<&'a str>,
    pub error_code: Option<&'a str>,
    /// The CloudTrail record, for the operations that need it (else `None`).
    pub record: Option<&'r serde_json::Value>,
}

/// The rows one batch of calls adds: request counts to add up, keys and changes to insert.
/// Counts are kept on borrowed parts while folding (a rebuild folds a million calls) and
/// made owned, sorted rows once, by [`BillingRows::requests`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BillingRows<'a> {
    counts: CountMap<CallKey<'a>>,
    pub keys: Vec<KeyRow>,
    pub changes: Vec<ChangeRow>,
}

/// Counts while folding: a fast hasher (the rows are sorted afterwards, so its seed never
/// shows in the output).
pub type CountMap<K> = std::collections::HashMap<K, i64, foldhash::fast::RandomState>;

/// A [`RequestKey`] on borrowed parts, with the day as a Unix day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CallKey<'a> {
    account: &'a str,
    day: i64,
    key_id: &'a str,
    operation: &'a str,
    pair_spec: &'a str,
    outcome: Outcome,
}

impl BillingRows<'_> {
    /// The request counts, as the `billing_requests` rows they add to.
    pub fn requests(&self) -> BTreeMap<RequestKey, i64> {
        let mut days: BTreeMap<i64, String> = BTreeMap::new();
        self.counts
            .iter()
            .map(|(k, n)| {
                let day = days
                    .entry(k.day)
                    .or_insert_with(|| day_of(k.day * 86_400))
                    .clone();
                let key = RequestKey {
                    account: k.account.to_owned(),
                    day,
                    key_id: k.key_id.to_owned(),
                    operation: k.operation.to_owned(),
                    pair_spec: k.pair_spec.to_owned(),
                    outcome: k.outcome,
                };
                (key, *n)
            })
            .collect()
    }
}

/// The fold: calls in log order → rows.
pub struct BillingFold;

impl BillingFold {
    pub fn add<'a>(call: &Call<'a, '_>, rows: &mut BillingRows<'a>) {
        if NOT_KMS_REQUESTS.contains(&call.event_name) {
            return;
        }
        let Some(account) = call.account else {
            // Authentication failed: no account to charge (the trail keeps the attempt).
            return;
        };
        let succeeded = call.error_code.is_none();
        let change = |change: Change| ChangeRow {
            key_id: call.key_id.unwrap_or("").to_owned(),
            seq: call.seq,
            time_s: call.time_s,
            change,
        };
        if call.principal.is_none() {
            // The service itself (AwsServiceEvent: scheduled rotation, deletion) — never a
            // charged request, but it changes the key's charge.
            let made = match call.event_name {
                "RotateKey" => Some(Change::Rotated),
                "DeleteKey" => Some(Change::Deleted),
                _ => None,
            };
            if let (true, Some(_), Some(made)) = (succeeded, call.key_id, made) {
                rows.changes.push(change(made));
            }
            return;
        }
        let pair_spec = if call.event_name.starts_with("GenerateDataKeyPair") {
            pair_family(
                call.record
                    .and_then(|r| r["requestParameters"]["keyPairSpec"].as_str())
                    .unwrap_or(""),
            )
        } else {
            ""
        };
        let key = CallKey {
            account,
            day: call.time_s.div_euclid(86_400),
            key_id: call.key_id.unwrap_or(""),
            operation: call.event_name,
            pair_spec,
            outcome: Outcome::of(call.error_code),
        };
        *rows.counts.entry(key).or_insert(0) += 1;
        if !succeeded {
            return;
        }
        let Some(key_id) = call.key_id else { return };
        let made = match call.event_name {
            "CreateKey" => {
                let metadata = call.record.map(|r| &r["responseElements"]["keyMetadata"]);
                let text = |field: &str| {
                    metadata
                        .and_then(|m| m[field].as_str())
                        .map(|s| bounded(s).to_owned())
                };
                rows.keys.push(KeyRow {
                    key_id: key_id.to_owned(),
                    account: text("AWSAccountId").unwrap_or_else(|| account.to_owned()),
                    key_spec: text("KeySpec").unwrap_or_else(|| "SYMMETRIC_DEFAULT".into()),
                    key_manager: text("KeyManager").unwrap_or_else(|| "CUSTOMER".into()),
                    created_s: call.time_s,
                });
                None
            }
            "RotateKeyOnDemand" => Some(Change::Rotated),
            "ScheduleKeyDeletion" => Some(Change::DeletionScheduled),
            "CancelKeyDeletion" => Some(Change::DeletionCancelled),
            _ => None,
        };
        if let Some(made) = made {
            rows.changes.push(change(made));
        }
    }
}

/// What of a requested `KeyPairSpec` the price depends on: its family, `RSA` or `ECC`
/// (`""` for anything else; the service refused it, so the request failed anyway).
fn pair_family(requested: &str) -> &'static str {
    if requested.starts_with("RSA_") {
        "RSA"
    } else if requested.starts_with("ECC_") {
        "ECC"
    } else {
        ""
    }
}

/// Caller-chosen strings kept in the model are short (a spec or a manager name).
fn bounded(s: &str) -> &str {
    if s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()) {
        s
    } else {
        "invalid"
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time in seconds.
pub fn day_of(time_s: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(time_s)
        .map(|t| t.date())
        .unwrap_or(Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    )
}

/// A calendar month, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingMonth {
    pub year: i32,
    pub month: Month,
}

impl BillingMonth {
    /// `YYYY-MM`.
    pub fn parse(s: &str) -> Result<BillingMonth, String> {
        let bad = || format!("month must be YYYY-MM, not {s:?}");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(BillingMonth { year, month })
    }

    pub fn of_time(t: OffsetDateTime) -> BillingMonth {
        BillingMonth {
            year: t.year(),
            month: t.month(),
        }
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month as u8)
    }

    /// The month's first second and the next month's, Unix seconds.
    pub fn bounds(self) -> (i64, i64) {
        let start = Date::from_calendar_date(self.year, self.month, 1).unwrap_or(Date::MIN);
        let next = if self.month == Month::December {
            Date::from_calendar_date(self.year + 1, Month::January, 1)
        } else {
            Date::from_calendar_date(self.year, self.month.next(), 1)
        }
        .unwrap_or(Date::MAX);
        let secs = |d: Date| d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp();
        (secs(start), secs(next))
    }

    /// Its days' `YYYY-MM-DD` labels sort between these two strings.
    pub fn day_prefix(self) -> String {
        format!("{}-", self.label())
    }
}

/// The price table (micro-dollars). Operators change it in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prices {
    /// Per 10,000 requests on symmetric or HMAC keys, or naming no key.
    pub symmetric_per_10k: i64,
    /// Per 10,000 requests on RSA_2048 keys.
    pub rsa_2048_per_10k: i64,
    /// Per 10,000 requests on other asymmetric keys (RSA 3072/4096, ECC).
    pub asymmetric_per_10k: i64,
    /// Per 10,000 GenerateDataKeyPair* requests for an ECC pair.
    pub ecc_key_pair_per_10k: i64,
    /// Per 10,000 GenerateDataKeyPair* requests for an RSA pair.
    pub rsa_key_pair_per_10k: i64,
    /// Requests free each month per account (symmetric class only, as AWS does).
    pub free_tier_requests: i64,
    /// Per customer-managed key per month (prorated hourly).
    pub key_month: i64,
    /// Per month for each of a key's first two rotations (prorated hourly).
    pub rotation_month: i64,
    /// Whether denied and failed requests are charged too.
    pub charge_failed_requests: bool,
}

impl Default for Prices {
    /// AWS's published KMS prices (us-east-1, 2026).
    fn default() -> Prices {
        Prices {
            symmetric_per_10k: 30_000,
            rsa_2048_per_10k: 30_000,
            asymmetric_per_10k: 150_000,
            ecc_key_pair_per_10k: 100_000,
            rsa_key_pair_per_10k: 12_000_000,
            free_tier_requests: 20_000,
            key_month: 1_000_000,
            rotation_month: 1_000_000,
            charge_failed_requests: false,
        }
    }
}

/// What a request costs, by the key it used and the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceClass {
    Symmetric,
    #[serde(rename = "rsa_2048")]
    Rsa2048,
    Asymmetric,
    EccKeyPair,
    RsaKeyPair,
}

impl PriceClass {
    pub fn of(key_spec: Option<&str>, operation: &str, pair_spec: &str) -> PriceClass {
        if operation.starts_with("GenerateDataKeyPair") {
            if pair_spec.starts_with("RSA") {
                return PriceClass::RsaKeyPair;
            }
            if pair_spec.starts_with("ECC") {
                return PriceClass::EccKeyPair;
            }
        }
        match key_spec {
            None => PriceClass::Symmetric,
            Some(s) if s == "SYMMETRIC_DEFAULT" || s.starts_with("HMAC") => PriceClass::Symmetric,
            Some("RSA_2048") => PriceClass::Rsa2048,
            Some(_) => PriceClass::Asymmetric,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PriceClass::Symmetric => "symmetric",
            PriceClass::Rsa2048 => "rsa_2048",
            PriceClass::Asymmetric => "asymmetric",
            PriceClass::EccKeyPair => "ecc_key_pair",
            PriceClass::RsaKeyPair => "rsa_key_pair",
        }
    }

    fn price_per_10k(self, prices: &Prices) -> i64 {
        match self {
            PriceClass::Symmetric => prices.symmetric_per_10k,
            PriceClass::Rsa2048 => prices.rsa_2048_per_10k,
            PriceClass::Asymmetric => prices.asymmetric_per_10k,
            PriceClass::EccKeyPair => prices.ecc_key_pair_per_10k,
            PriceClass::RsaKeyPair => prices.rsa_key_pair_per_10k,
        }
    }
}

/// `n × numerator / denominator` rounded half up, without overflow for any realistic bill.
fn prorate(n: i64, numerator: i64, denominator: i64) -> i64 {
    let product = n as i128 * numerator as i128;
    let d = denominator as i128;
    ((product * 2 + d) / (d * 2)) as i64
}

/// Micro-dollars as an exact decimal: `1234567` → `"1.234567"`.
pub fn dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// Requests in units of 10,000 as an exact decimal: `12345` → `"1.2345"`.
fn units(requests: i64) -> String {
    format!("{}.{:04}", requests / 10_000, requests % 10_000)
}

/// A line of requests on one key in one price class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestLine {
    pub key_id: String,
    pub key_spec: Option<String>,
    pub price_class: PriceClass,
    pub requests: i64,
    /// Requests / 10,000, exact: AWS prorates partial units (it bills per request).
    pub billable_units: String,
    pub unit_price_micros: i64,
    pub unit_price: String,
    pub amount_micros: i64,
    pub amount: String,
}

/// Requests that were denied or failed, per key and outcome (charged only if configured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UncharedLine {
    pub key_id: String,
    pub outcome: Outcome,
    pub requests: i64,
    pub charged: bool,
}

/// A key's monthly charge, or one of its first two rotations'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyMonthLine {
    pub key_id: String,
    pub key_spec: String,
    /// For a rotation line: 1 or 2 (later rotations are free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<u32>,
    /// Clock hours of the month it was charged for, of `month_hours`.
    pub hours: i64,
    pub month_hours: i64,
    pub monthly_price_micros: i64,
    pub amount_micros: i64,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeTierLine {
    pub allowance: i64,
    /// Symmetric-class requests the free tier covered.
    pub requests: i64,
    /// Negative: what it takes off the bill.
    pub amount_micros: i64,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyRequests {
    pub day: String,
    pub price_class: PriceClass,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub requests: i64,
    pub charged_requests: i64,
    pub uncharged_requests: i64,
    pub requests_micros: i64,
    pub keys_micros: i64,
    pub rotations_micros: i64,
    pub free_tier_micros: i64,
    pub amount_micros: i64,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountBill {
    pub account: String,
    pub requests: Vec<RequestLine>,
    pub uncharged: Vec<UncharedLine>,
    pub keys: Vec<KeyMonthLine>,
    pub rotations: Vec<KeyMonthLine>,
    pub free_tier: FreeTierLine,
    pub daily: Vec<DailyRequests>,
    pub totals: Totals,
}

/// The billing report of one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingReport {
    pub month: String,
    pub currency: &'static str,
    /// Up to when the ledger was folded (the month's end, or earlier while it runs).
    pub through: String,
    pub prices: Prices,
    pub accounts: Vec<AccountBill>,
    pub totals: Totals,
}

/// The inputs of a report: the model's rows (any superset: [`report`] picks the month's).
#[derive(Debug, Default, Clone)]
pub struct BillingInput {
    pub requests: Vec<(RequestKey, i64)>,
    pub keys: Vec<KeyRow>,
    pub changes: Vec<ChangeRow>,
}

impl BillingInput {
    /// Everything a fold produced.
    pub fn from_rows(rows: BillingRows<'_>) -> BillingInput {
        BillingInput {
            requests: rows.requests().into_iter().collect(),
            keys: rows.keys,
            changes: rows.changes,
        }
    }
}

/// When a key stops being charged: at its last deletion scheduling that no cancellation
/// followed (a cancelled deletion is charged as though it never was, as AWS does).
fn charged_until(changes: &[&ChangeRow]) -> Option<i64> {
    let mut until = None;
    for change in changes {
        match change.change {
            Change::DeletionScheduled => until = until.or(Some(change.time_s)),
            Change::DeletionCancelled => until = None,
            Change::Deleted => {
                until = until.or(Some(change.time_s));
                break;
            }
            Change::Rotated => {}
        }
    }
    until
}

/// Clock hours of `[from, to)` that fall in `[month_start, month_end)`, any part of an hour
/// counting as the hour (AWS prorates key storage hourly).
fn hours_in(from: i64, to: i64, month_start: i64, month_end: i64) -> i64 {
    let from = from.max(month_start);
    let to = to.min(month_end);
    if to <= from {
        return 0;
    }
    let first = from.div_euclid(3600);
    let last = (to - 1).div_euclid(3600);
    last - first + 1
}

/// The report of `month` for `account` (all when `None`), folded up to and including the
/// second `through_s` (Unix seconds).
pub fn report(
    input: &BillingInput,
    month: BillingMonth,
    account: Option<&str>,
    prices: &Prices,
    through_s: i64,
) -> BillingReport {
    let (month_start, month_end) = month.bounds();
    // Through the whole second `through_s`: a key created in it has begun an hour.
    let until = through_s.saturating_add(1).min(month_end);
    let month_hours = (month_end - month_start) / 3600;
    let prefix = month.day_prefix();
    let keys: BTreeMap<&str, &KeyRow> = input.keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
    let mut changes: BTreeMap<&str, Vec<&ChangeRow>> = BTreeMap::new();
    for change in &input.changes {
        if change.time_s < until {
            changes.entry(&change.key_id).or_default().push(change);
        }
    }
    for list in changes.values_mut() {
        list.sort_by_key(|c| c.seq);
    }

    #[derive(Default)]
    struct Acc<'a> {
        charged: BTreeMap<(&'a str, PriceClass), i64>,
        uncharged: BTreeMap<(&'a str, Outcome), i64>,
        daily: BTreeMap<(&'a str, PriceClass), i64>,
        requests: i64,
    }
    let mut accounts: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for (row, count) in &input.requests {
        if !row.day.starts_with(&prefix) || account.is_some_and(|a| a != row.account) {
            continue;
        }
        let spec = keys.get(row.key_id.as_str()).map(|k| k.key_spec.as_str());
        let class = PriceClass::of(spec, &row.operation, &row.pair_spec);
        let acc = accounts.entry(&row.account).or_default();
        acc.requests += count;
        let charged = row.outcome == Outcome::Succeeded || prices.charge_failed_requests;
        if row.outcome != Outcome::Succeeded {
            *acc.uncharged.entry((&row.key_id, row.outcome)).or_default() += count;
        }
        if charged {
            *acc.charged.entry((&row.key_id, class)).or_default() += count;
            *acc.daily.entry((&row.day, class)).or_default() += count;
        }
    }
    // Accounts with keys are billed for them even in a month without requests.
    for key in keys.values() {
        if key.created_s < until && account.is_none_or(|a| a == key.account) {
            accounts.entry(&key.account).or_default();
        }
    }

    let mut bills = Vec::new();
    for (account_id, acc) in accounts {
        let mut lines = Vec::new();
        let mut symmetric_requests = 0;
        for ((key_id, class), requests) in &acc.charged {
            let unit = class.price_per_10k(prices);
            let amount = prorate(*requests, unit, 10_000);
            if *class == PriceClass::Symmetric {
                symmetric_requests += requests;
            }
            lines.push(RequestLine {
                key_id: key_id.to_string(),
                key_spec: keys.get(key_id).map(|k| k.key_spec.clone()),
                price_class: *class,
                requests: *requests,
                billable_units: units(*requests),
                unit_price_micros: unit,
                unit_price: dollars(unit),
                amount_micros: amount,
                amount: dollars(amount),
            });
        }
        let uncharged: Vec<UncharedLine> = acc
            .uncharged
            .iter()
            .map(|((key_id, outcome), requests)| UncharedLine {
                key_id: key_id.to_string(),
                outcome: *outcome,
                requests: *requests,
                charged: prices.charge_failed_requests,
            })
            .collect();
        let mut key_lines = Vec::new();
        let mut rotation_lines = Vec::new();
        for key in keys.values() {
            if key.account != account_id || key.key_manager == "AWS" || key.created_s >= until {
                continue;
            }
            let key_changes = changes.get(key.key_id.as_str()).map_or(&[][..], |v| v);
            let end = charged_until(key_changes).unwrap_or(until).min(until);
            let line = |rotation: Option<u32>, from: i64, price: i64| {
                let hours = hours_in(from, end, month_start, month_end);
                let amount = prorate(price, hours, month_hours);
                KeyMonthLine {
                    key_id: key.key_id.clone(),
                    key_spec: key.key_spec.clone(),
                    rotation,
                    hours,
                    month_hours,
                    monthly_price_micros: price,
                    amount_micros: amount,
                    amount: dollars(amount),
                }
            };
            let key_line = line(None, key.created_s, prices.key_month);
            if key_line.hours > 0 {
                key_lines.push(key_line);
            }
            let rotations = key_changes
                .iter()
                .filter(|c| c.change == Change::Rotated && c.time_s < end);
            for (n, rotation) in rotations.take(2).enumerate() {
                let rotation_line =
                    line(Some(n as u32 + 1), rotation.time_s, prices.rotation_month);
                if rotation_line.hours > 0 {
                    rotation_lines.push(rotation_line);
                }
            }
        }
        let free_requests = symmetric_requests.min(prices.free_tier_requests.max(0));
        let free_amount = -prorate(free_requests, prices.symmetric_per_10k, 10_000);
        let requests_micros: i64 = lines.iter().map(|l| l.amount_micros).sum();
        let keys_micros: i64 = key_lines.iter().map(|l| l.amount_micros).sum();
        let rotations_micros: i64 = rotation_lines.iter().map(|l| l.amount_micros).sum();
        let charged_requests: i64 = lines.iter().map(|l| l.requests).sum();
        let amount = requests_micros + keys_micros + rotations_micros + free_amount;
        bills.push(AccountBill {
            account: account_id.to_owned(),
            requests: lines,
            uncharged,
            keys: key_lines,
            rotations: rotation_lines,
            free_tier: FreeTierLine {
                allowance: prices.free_tier_requests,
                requests: free_requests,
                amount_micros: free_amount,
                amount: dollars(free_amount),
            },
            daily: acc
                .daily
                .iter()
                .map(|((day, class), requests)| DailyRequests {
                    day: day.to_string(),
                    price_class: *class,
                    requests: *requests,
                })
                .collect(),
            totals: Totals {
                requests: acc.requests,
                charged_requests,
                uncharged_requests: acc.uncharged.values().sum(),
                requests_micros,
                keys_micros,
                rotations_micros,
                free_tier_micros: free_amount,
                amount_micros: amount,
                amount: dollars(amount),
            },
        });
    }
    let sum = |f: fn(&Totals) -> i64| bills.iter().map(|b| f(&b.totals)).sum::<i64>();
    let amount = sum(|t| t.amount_micros);
    let totals = Totals {
        requests: sum(|t| t.requests),
        charged_requests: sum(|t| t.charged_requests),
        uncharged_requests: sum(|t| t.uncharged_requests),
        requests_micros: sum(|t| t.requests_micros),
        keys_micros: sum(|t| t.keys_micros),
        rotations_micros: sum(|t| t.rotations_micros),
        free_tier_micros: sum(|t| t.free_tier_micros),
        amount_micros: amount,
        amount: dollars(amount),
    };
    let through = OffsetDateTime::from_unix_timestamp(through_s.min(month_end))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    BillingReport {
        month: month.label(),
        currency: "USD",
        through,
        prices: prices.clone(),
        accounts: bills,
        totals,
    }
}

impl BillingReport {
    /// The report as JSON: the same report always gives the same bytes.
    pub fn to_json(&self) -> String {
        // Plain data (no maps with non-string keys): serializing cannot fail.
        serde_json::to_string_pretty(self).expect("a report always serializes") + "\n"
    }

    /// One CSV table, a line per charge, for a spreadsheet.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "month,account,line,key_id,key_spec,price_class,requests,billable_units,unit_price,hours,month_hours,amount\n",
        );
        let mut line = |fields: [&str; 12]| {
            let escaped: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&escaped.join(","));
            out.push('\n');
        };
        for bill in &self.accounts {
            let a = bill.account.as_str();
            for l in &bill.requests {
                line([
                    &self.month,
                    a,
                    "requests",
                    &l.key_id,
                    l.key_spec.as_deref().unwrap_or(""),
                    l.price_class.as_str(),
                    &l.requests.to_string(),
                    &l.billable_units,
                    &l.unit_price,
                    "",
                    "",
                    &l.amount,
                ]);
            }
            for l in &bill.uncharged {
                line([
                    &self.month,
                    a,
                    &format!("{}_requests", l.outcome.as_str()),
                    &l.key_id,
                    "",
                    "",
                    &l.requests.to_string(),
                    "",
                    "",
                    "",
                    "",
                    if l.charged {
                        "charged above"
                    } else {
                        "0.000000"
                    },
                ]);
            }
            for l in bill.keys.iter().chain(&bill.rotations) {
                let kind = match l.rotation {
                    None => "key_month".to_owned(),
                    Some(n) => format!("rotation_{n}"),
                };
                line([
                    &self.month,
                    a,
                    &kind,
                    &l.key_id,
                    &l.key_spec,
                    "",
                    "",
                    "",
                    &dollars(l.monthly_price_micros),
                    &l.hours.to_string(),
                    &l.month_hours.to_string(),
                    &l.amount,
                ]);
            }
            line([
                &self.month,
                a,
                "free_tier",
                "",
                "",
                "symmetric",
                &bill.free_tier.requests.to_string(),
                &units(bill.free_tier.requests),
                "",
                "",
                "",
                &bill.free_tier.amount,
            ]);
            line([
                &self.month,
                a,
                "total",
                "",
                "",
                "",
                &bill.totals.requests.to_string(),
                "",
                "",
                "",
                "",
                &bill.totals.amount,
            ]);
        }
        line([
            &self.month,
            "",
            "total",
            "",
            "",
            "",
            &self.totals.requests.to_string(),
            "",
            "",
            "",
            "",
            &self.totals.amount,
        ]);
        out
    }
}

/// RFC 4180 quoting, and a leading `'` before what a spreadsheet would run as a formula.
fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// Fold CloudTrail records (an export's, in log order) into billing rows.
pub fn fold_records<'a>(
    records: impl IntoIterator<Item = &'a serde_json::Value>,
) -> BillingRows<'a> {
    let mut rows = BillingRows::default();
    for (seq, record) in records.into_iter().enumerate() {
        let time_s = record["eventTime"]
            .as_str()
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map_or(0, |t| t.unix_timestamp());
        let key_id = record["resources"].as_array().and_then(|resources| {
            resources
                .iter()
                .filter_map(|r| r["ARN"].as_str())
                .find_map(crate::columns::key_id_of_arn)
        });
        let event_name = record["eventName"].as_str().unwrap_or("");
        let call = Call {
            seq: seq as u64 + 1,
            time_s,
            event_name,
            account: record["userIdentity"]["accountId"].as_str(),
            principal: record["userIdentity"]["arn"].as_str(),
            key_id,
            error_code: record["errorCode"].as_str(),
            record: OPERATIONS_READ_IN_FULL
                .contains(&event_name)
                .then_some(record),
        };
        BillingFold::add(&call, &mut rows);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(
        seq: u64,
        time_s: i64,
        name: &'a str,
        key: Option<&'a str>,
        error: Option<&'a str>,
    ) -> Call<'a, 'a> {
        Call {
            seq,
            time_s,
            event_name: name,
            account: Some("111122223333"),
            principal: Some("arn:aws:iam::111122223333:user/alice"),
            key_id: key,
            error_code: error,
            record: None,
        }
    }

    const DEC_1: i64 = 1_796_083_200; // 2026-12-01T00:00:00Z

    #[test]
    fn months_parse_strictly_and_know_their_bounds() {
        let m = BillingMonth::parse("2026-12").unwrap();
        assert_eq!(m.bounds(), (DEC_1, DEC_1 + 31 * 86_400));
        assert_eq!(
            BillingMonth::parse("2026-02").unwrap().bounds().1
                - BillingMonth::parse("2026-02").unwrap().bounds().0,
            28 * 86_400
        );
        for bad in ["2026-13", "2026-1", "26-12", "2026/12", "", "2026-00"] {
            assert!(BillingMonth::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(dollars(30_000), "0.030000");
        assert_eq!(dollars(-60_000), "-0.060000");
        assert_eq!(dollars(12_000_000), "12.000000");
        assert_eq!(units(12_345), "1.2345");
        // Half a micro-dollar rounds up.
        assert_eq!(prorate(1, 5, 10), 1);
        assert_eq!(prorate(1, 4, 10), 0);
    }

    #[test]
    fn requests_are_priced_by_key_spec_and_pair_spec() {
        let cases = [
            (
                Some("SYMMETRIC_DEFAULT"),
                "Encrypt",
                "",
                PriceClass::Symmetric,
            ),
            (Some("HMAC_256"), "GenerateMac", "", PriceClass::Symmetric),
            (Some("RSA_2048"), "Sign", "", PriceClass::Rsa2048),
            (Some("RSA_4096"), "Sign", "", PriceClass::Asymmetric),
            (Some("ECC_NIST_P256"), "Verify", "", PriceClass::Asymmetric),
            (
                Some("SYMMETRIC_DEFAULT"),
                "GenerateDataKeyPair",
                "RSA_2048",
                PriceClass::RsaKeyPair,
            ),
            (
                Some("SYMMETRIC_DEFAULT"),
                "GenerateDataKeyPairWithoutPlaintext",
                "ECC_NIST_P384",
                PriceClass::EccKeyPair,
            ),
            (None, "ListKeys", "", PriceClass::Symmetric),
        ];
        for (spec, operation, pair, class) in cases {
            assert_eq!(
                PriceClass::of(spec, operation, pair),
                class,
                "{spec:?} {operation} {pair}"
            );
        }
    }

    #[test]
    fn a_month_of_symmetric_requests_a_key_and_its_rotations() {
        let mut rows = BillingRows::default();
        let create = serde_json::json!({"responseElements": {"keyMetadata": {"KeySpec": "SYMMETRIC_DEFAULT", "KeyManager": "CUSTOMER", "AWSAccountId": "111122223333"}}});
        let mut c = call(1, DEC_1, "CreateKey", Some("k1"), None);
        c.record = Some(&create);
        BillingFold::add(&c, &mut rows);
        for i in 0..30_000 {
            BillingFold::add(
                &call(2 + i, DEC_1 + 60, "Encrypt", Some("k1"), None),
                &mut rows,
            );
        }
        BillingFold::add(
            &call(
                40_000,
                DEC_1 + 61,
                "Encrypt",
                Some("k1"),
                Some("AccessDeniedException"),
            ),
            &mut rows,
        );
        BillingFold::add(
            &call(
                40_001,
                DEC_1 + 62,
                "Decrypt",
                Some("k1"),
                Some("InvalidCiphertextException"),
            ),
            &mut rows,
        );
        // Three rotations: the third adds nothing.
        for (i, day) in [10, 20, 30].into_iter().enumerate() {
            BillingFold::add(
                &call(
                    50_000 + i as u64,
                    DEC_1 + day * 86_400,
                    "RotateKeyOnDemand",
                    Some("k1"),
                    None,
                ),
                &mut rows,
            );
        }
        let input = BillingInput::from_rows(rows);
        let month = BillingMonth::parse("2026-12").unwrap();
        let r = report(&input, month, None, &Prices::default(), i64::MAX);
        let bill = &r.accounts[0];
        assert_eq!(bill.requests.len(), 1);
        // CreateKey, 30,000 Encrypt and 3 rotations; the denied and the failed call apart.
        assert_eq!(bill.requests[0].requests, 30_004);
        assert_eq!(bill.requests[0].amount_micros, 30_004 * 3);
        assert_eq!(bill.uncharged.len(), 2);
        assert_eq!(bill.free_tier.requests, 20_000);
        assert_eq!(bill.free_tier.amount_micros, -60_000);
        // The whole month for the key; the rotations from day 11 and day 21.
        assert_eq!(bill.keys[0].hours, 744);
        assert_eq!(bill.keys[0].amount_micros, 1_000_000);
        assert_eq!(
            bill.rotations.iter().map(|l| l.hours).collect::<Vec<_>>(),
            [(31 - 10) * 24, (31 - 20) * 24]
        );
        assert_eq!(
            bill.rotations[0].amount_micros,
            prorate(1_000_000, 504, 744)
        );
        assert_eq!(
            bill.totals.amount_micros,
            90_012 - 60_000
                + 1_000_000
                + bill.rotations[0].amount_micros
                + bill.rotations[1].amount_micros
        );
        // Failed requests charged when configured.
        let prices = Prices {
            charge_failed_requests: true,
            ..Prices::default()
        };
        let charged = report(&input, month, None, &prices, i64::MAX);
        assert_eq!(charged.accounts[0].requests[0].requests, 30_006);
    }

    #[test]
    fn a_key_pending_deletion_is_not_charged_unless_the_deletion_is_cancelled() {
        let key = KeyRow {
            key_id: "k".into(),
            account: "a".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_manager: "CUSTOMER".into(),
            created_s: DEC_1,
        };
        let change = |seq, day: i64, change| ChangeRow {
            key_id: "k".into(),
            seq,
            time_s: DEC_1 + day * 86_400,
            change,
        };
        let month = BillingMonth::parse("2026-12").unwrap();
        let hours = |changes: Vec<ChangeRow>| {
            let input = BillingInput {
                requests: vec![],
                keys: vec![key.clone()],
                changes,
            };
            report(&input, month, None, &Prices::default(), i64::MAX).accounts[0]
                .keys
                .first()
                .map_or(0, |l| l.hours)
        };
        assert_eq!(hours(vec![]), 744);
        assert_eq!(hours(vec![change(1, 10, Change::DeletionScheduled)]), 240);
        assert_eq!(
            hours(vec![
                change(1, 10, Change::DeletionScheduled),
                change(2, 17, Change::Deleted)
            ]),
            240
        );
        assert_eq!(
            hours(vec![
                change(1, 10, Change::DeletionScheduled),
                change(2, 12, Change::DeletionCancelled)
            ]),
            744
        );
        // An AWS-managed key is never charged.
        let aws = BillingInput {
            requests: vec![],
            keys: vec![KeyRow {
                key_manager: "AWS".into(),
                ..key.clone()
            }],
            changes: vec![],
        };
        assert!(
            report(&aws, month, None, &Prices::default(), i64::MAX).accounts[0]
                .keys
                .is_empty()
        );
        // Part of an hour counts as the hour; a report mid-month charges up to then.
        let mid = report(
            &BillingInput {
                requests: vec![],
                keys: vec![KeyRow {
                    created_s: DEC_1 + 1800,
                    ..key.clone()
                }],
                changes: vec![],
            },
            month,
            None,
            &Prices::default(),
            DEC_1 + 3 * 3600 + 1,
        );
        assert_eq!(mid.accounts[0].keys[0].hours, 4);
    }

    #[test]
    fn service_events_change_keys_and_unknown_callers_are_not_billed() {
        let mut rows = BillingRows::default();
        let mut service = call(1, DEC_1, "RotateKey", Some("k"), None);
        service.principal = None;
        BillingFold::add(&service, &mut rows);
        let mut anonymous = call(
            2,
            DEC_1,
            "Encrypt",
            None,
            Some("UnrecognizedClientException"),
        );
        anonymous.account = None;
        anonymous.principal = None;
        BillingFold::add(&anonymous, &mut rows);
        BillingFold::add(&call(3, DEC_1, "LookupEvents", None, None), &mut rows);
        assert!(rows.requests().is_empty());
        assert_eq!(rows.changes.len(), 1);
        assert_eq!(rows.changes[0].change, Change::Rotated);
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
    }
}
