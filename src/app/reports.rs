//! Billing and compliance reports, read from their models (never by scanning the trail).
//! Billing's report is `replay::billing::report` over the `billing` model's rows; the
//! compliance report folds the `compliance` model's rows up to a time (`as_of`). Both render
//! as JSON (and billing as CSV) here and as one HTML page each in [`super::report_html`].

use crate::ledger::{LedgerReader, StoreError};
use crate::projections::compliance::{ComplianceInput, KeyEventRow};
use replay::billing::{BillingMonth, BillingReport, Outcome, Prices};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const NS_PER_HOUR: i64 = 3_600_000_000_000;
const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

/// The settings of the reports (config file `[billing]` and `[compliance]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSettings {
    pub prices: Prices,
    pub compliance: ComplianceSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceSettings {
    /// A key's material older than this is overdue for rotation.
    pub rotation_max_age_days: i64,
    /// A key with no successful cryptographic call for this long is unused.
    pub unused_key_days: i64,
    /// The report's period ends at `as_of` and starts this many days before it.
    pub period_days: i64,
}

impl Default for ComplianceSettings {
    fn default() -> ComplianceSettings {
        ComplianceSettings {
            rotation_max_age_days: 365,
            unused_key_days: 90,
            period_days: 30,
        }
    }
}

/// The month's billing report, charged up to `now` (or the month's end if it is over).
pub async fn billing(
    reader: &LedgerReader,
    month: BillingMonth,
    account: Option<&str>,
    prices: &Prices,
    now: OffsetDateTime,
) -> Result<BillingReport, StoreError> {
    let input = reader.billing_input(month, account).await?;
    Ok(replay::billing::report(
        &input,
        month,
        account,
        prices,
        now.unix_timestamp(),
    ))
}

fn rfc3339_ns(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A key in the inventory, as of the report's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInventory {
    pub key_id: String,
    pub account: String,
    pub region: String,
    pub state: String,
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    pub key_manager: String,
    pub description: String,
    pub created: String,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<i64>,
    pub last_rotation: Option<String>,
    pub next_rotation: Option<String>,
    /// Days since the current material was made (creation or last rotation).
    pub material_age_days: i64,
    /// `None` where rotation does not apply (asymmetric and HMAC keys cannot be rotated).
    pub rotation_overdue: Option<bool>,
    pub deletion_date: Option<String>,
    pub last_used: Option<String>,
    pub unused: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeletionLine {
    pub key_id: String,
    pub scheduled_at: Option<String>,
    pub scheduled_by: Option<String>,
    pub deletion_date: Option<String>,
    pub cancelled_at: Option<String>,
    /// When the key's shredding key was destroyed (its material can never be opened again).
    pub shredded_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `+` added, `-` removed, ` ` unchanged.
    pub op: char,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyChange {
    pub key_id: String,
    pub time: String,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub policy_name: String,
    pub diff: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalKeyRequests {
    pub principal: String,
    pub account: String,
    pub key_id: String,
    pub outcome: Outcome,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyKeyRequests {
    pub day: String,
    pub key_id: String,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailIntegrity {
    pub tree_size: Option<u64>,
    pub root_hash: Option<String>,
    pub created: Option<String>,
    pub verifies: bool,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplianceSummary {
    pub keys: usize,
    pub by_state: BTreeMap<String, usize>,
    pub rotation_overdue: usize,
    pub unused: usize,
    pub deletions: usize,
    pub policy_changes: usize,
    pub denied_requests: i64,
    pub failed_requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplianceReport {
    pub as_of: String,
    pub period_start: String,
    pub settings: ComplianceSettings,
    pub summary: ComplianceSummary,
    pub keys: Vec<KeyInventory>,
    pub deletions: Vec<DeletionLine>,
    pub policy_changes: Vec<PolicyChange>,
    /// Denied and failed requests in the period, by principal and key.
    pub denied_and_failed: Vec<PrincipalKeyRequests>,
    /// Successful requests in the period, by principal and key.
    pub usage: Vec<PrincipalKeyRequests>,
    /// Requests per day and key in the period (the chart's data).
    pub daily: Vec<DailyKeyRequests>,
    pub trail: TrailIntegrity,
}

impl ComplianceReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes") + "\n"
    }
}

/// A key as its lifecycle facts leave it.
#[derive(Default)]
struct KeyFold {
    account: String,
    region: String,
    state: String,
    key_spec: String,
    key_usage: String,
    origin: String,
    description: String,
    created_ns: i64,
    policy: String,
    rotation_period_days: Option<i64>,
    next_rotation_ns: Option<i64>,
    last_rotation_ns: Option<i64>,
    deletion: DeletionLine,
    deleted: bool,
    /// When its deletion was scheduled, cancelled, done.
    deletion_times: Vec<i64>,
    /// The material versions permanently the key's (not one pending rotation), and those
    /// of them whose imported material is deleted or expired now: a key missing any is
    /// `PendingImport`, as the key-state projection has it.
    permanent_versions: std::collections::BTreeSet<i64>,
    missing_versions: std::collections::BTreeSet<i64>,
    /// A multi-Region member's shared `mrk-` id: what the trail and the usage models name
    /// it by, and what the report shows.
    shown_id: Option<String>,
}

impl KeyFold {
    fn has_material(&self) -> bool {
        !self.permanent_versions.is_empty() && self.missing_versions.is_empty()
    }
}

fn time_field(detail: &Value, field: &str) -> Option<i64> {
    let text = detail[field].as_str()?;
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos() as i64)
}

/// A policy document as lines to compare: pretty JSON when it parses, else as written.
fn policy_lines(policy: &str) -> Vec<String> {
    let pretty = serde_json::from_str::<Value>(policy)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| policy.to_owned());
    pretty.lines().map(str::to_owned).collect()
}

/// A line diff (longest common subsequence; policies are at most 32 KB).
pub fn diff_lines(before: &[String], after: &[String]) -> Vec<DiffLine> {
    let (n, m) = (before.len(), after.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if before[i] == after[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    let line = |op, text: &String| DiffLine {
        op,
        text: text.clone(),
    };
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            out.push(line(' ', &before[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as unified diffs show them.
            out.push(line('-', &before[i]));
            i += 1;
        } else {
            out.push(line('+', &after[j]));
            j += 1;
        }
    }
    out
}

/// The compliance report as of `as_of_ns` (everything recorded up to then).
pub async fn compliance(
    reader: &LedgerReader,
    as_of_ns: i64,
    exact_now: bool,
    settings: &ComplianceSettings,
    vkey: Option<&str>,
) -> Result<ComplianceReport, StoreError> {
    let period_start_ns = as_of_ns.saturating_sub(settings.period_days.max(0) * NS_PER_DAY);
    let from_day = period_start_ns.div_euclid(NS_PER_DAY);
    let input = reader.compliance_input(as_of_ns, from_day).await?;
    // Now: the `key_usage` model knows each key's last use exactly; in the past, the
    // compliance model's days do.
    let mut last_used_ns: BTreeMap<String, i64> = input
        .last_crypto_day
        .iter()
        .map(|(k, d)| (k.clone(), d * NS_PER_DAY))
        .collect();
    if exact_now {
        last_used_ns.extend(reader.last_cryptographic_uses().await?);
    }
    let trail = trail_integrity(reader, as_of_ns, vkey).await;
    Ok(fold_report(
        &input,
        as_of_ns,
        period_start_ns,
        settings,
        &last_used_ns,
        trail,
    ))
}

async fn trail_integrity(
    reader: &LedgerReader,
    as_of_ns: i64,
    vkey: Option<&str>,
) -> TrailIntegrity {
    let checkpoints = match reader.checkpoints().await {
        Ok(c) => c,
        Err(e) => {
            return TrailIntegrity {
                tree_size: None,
                root_hash: None,
                created: None,
                verifies: false,
                problem: Some(format!("the checkpoints could not be read: {e}")),
            }
        }
    };
    let Some(latest) = checkpoints
        .into_iter()
        .filter(|c| c.time_ns <= as_of_ns)
        .max_by_key(|c| c.size)
    else {
        return TrailIntegrity {
            tree_size: None,
            root_hash: None,
            created: None,
            verifies: false,
            problem: Some("no checkpoint was signed by then".into()),
        };
    };
    let problem = match vkey {
        None => Some("the ledger has no verifier key".to_owned()),
        Some(vkey) => super::evidence::check_checkpoint(reader, &latest, vkey)
            .await
            .err(),
    };
    use base64::Engine as _;
    TrailIntegrity {
        tree_size: Some(latest.size),
        root_hash: Some(base64::engine::general_purpose::STANDARD.encode(latest.root)),
        created: Some(rfc3339_ns(latest.time_ns)),
        verifies: problem.is_none(),
        problem,
    }
}

fn fold_report(
    input: &ComplianceInput,
    as_of_ns: i64,
    period_start_ns: i64,
    settings: &ComplianceSettings,
    last_used_ns: &BTreeMap<String, i64>,
    trail: TrailIntegrity,
) -> ComplianceReport {
    let mut keys: BTreeMap<&str, KeyFold> = BTreeMap::new();
    let mut policy_changes = Vec::new();
    let in_period = |t: i64| t >= period_start_ns && t <= as_of_ns;
    for event in &input.key_events {
        let detail: Value = serde_json::from_str(&event.detail).unwrap_or(Value::Null);
        let key = keys.entry(&event.key_id).or_default();
        apply(key, event, &detail, in_period, &mut policy_changes);
    }
    let mut inventory = Vec::new();
    let mut deletions = Vec::new();
    let day = |ns: i64| ns.div_euclid(NS_PER_DAY);
    for (own_id, key) in &keys {
        // Shown (and looked up in the usage models) by the id the trail names it by.
        let key_id = &key.shown_id.as_deref().unwrap_or(own_id);
        // Scheduled, cancelled or shredded in the period.
        if key.deletion_times.iter().any(|t| in_period(*t)) {
            deletions.push(DeletionLine {
                key_id: key_id.to_string(),
                ..key.deletion.clone()
            });
        }
        if key.deleted {
            continue;
        }
        let material_ns = key.last_rotation_ns.unwrap_or(key.created_ns);
        let material_age_days = day(as_of_ns - material_ns);
        let rotatable = key.key_spec == "SYMMETRIC_DEFAULT" && key.origin == "AWS_KMS";
        let live = key.state != "PendingDeletion";
        let last_used = last_used_ns.get(*key_id).copied();
        let unused_since = last_used.unwrap_or(key.created_ns);
        inventory.push(KeyInventory {
            key_id: key_id.to_string(),
            account: key.account.clone(),
            region: key.region.clone(),
            state: key.state.clone(),
            key_spec: key.key_spec.clone(),
            key_usage: key.key_usage.clone(),
            origin: key.origin.clone(),
            key_manager: "CUSTOMER".into(),
            description: key.description.clone(),
            created: rfc3339_ns(key.created_ns),
            rotation_enabled: key.rotation_period_days.is_some(),
            rotation_period_days: key.rotation_period_days,
            last_rotation: key.last_rotation_ns.map(rfc3339_ns),
            next_rotation: key.next_rotation_ns.map(rfc3339_ns),
            material_age_days,
            rotation_overdue: rotatable
                .then_some(live && material_age_days > settings.rotation_max_age_days),
            deletion_date: (key.state == "PendingDeletion")
                .then(|| key.deletion.deletion_date.clone())
                .flatten(),
            last_used: last_used.map(rfc3339_ns),
            unused: live && day(as_of_ns - unused_since) >= settings.unused_key_days,
        });
    }
    // Requests of the period, by principal and key, and per day and key.
    let by_principal = &input.by_principal;
    let daily = &input.daily;
    let line = |((principal, account, key_id, outcome), requests): (
        &(String, String, String, Outcome),
        &i64,
    )| {
        PrincipalKeyRequests {
            principal: principal.to_string(),
            account: account.to_string(),
            key_id: key_id.to_string(),
            outcome: *outcome,
            requests: *requests,
        }
    };
    let denied_and_failed: Vec<_> = by_principal
        .iter()
        .filter(|((.., o), _)| *o != Outcome::Succeeded)
        .map(line)
        .collect();
    let usage: Vec<_> = by_principal
        .iter()
        .filter(|((.., o), _)| *o == Outcome::Succeeded)
        .map(line)
        .collect();
    let count = |outcome| {
        denied_and_failed
            .iter()
            .filter(|l| l.outcome == outcome)
            .map(|l| l.requests)
            .sum()
    };
    let mut by_state = BTreeMap::new();
    for key in &inventory {
        *by_state.entry(key.state.clone()).or_default() += 1;
    }
    ComplianceReport {
        as_of: rfc3339_ns(as_of_ns),
        period_start: rfc3339_ns(period_start_ns),
        settings: settings.clone(),
        summary: ComplianceSummary {
            keys: inventory.len(),
            by_state,
            rotation_overdue: inventory
                .iter()
                .filter(|k| k.rotation_overdue == Some(true))
                .count(),
            unused: inventory.iter().filter(|k| k.unused).count(),
            deletions: deletions.len(),
            policy_changes: policy_changes.len(),
            denied_requests: count(Outcome::Denied),
            failed_requests: count(Outcome::Failed),
        },
        keys: inventory,
        deletions,
        policy_changes,
        denied_and_failed,
        usage,
        daily: daily
            .iter()
            .map(|((d, key_id), requests)| DailyKeyRequests {
                day: replay::billing::day_of(d * 86_400),
                key_id: key_id.clone(),
                requests: *requests,
            })
            .collect(),
        trail,
    }
}

fn apply(
    key: &mut KeyFold,
    event: &KeyEventRow,
    detail: &Value,
    in_period: impl Fn(i64) -> bool,
    policy_changes: &mut Vec<PolicyChange>,
) {
    let text = |field: &str| detail[field].as_str().unwrap_or_default().to_owned();
    match event.event_type.as_str() {
        "KeyCreated" => {
            key.account = text("account_id");
            key.region = text("region");
            key.key_spec = text("key_spec");
            key.key_usage = text("key_usage");
            key.origin = text("origin");
            key.description = text("description");
            key.created_ns = time_field(detail, "creation_date").unwrap_or(event.time_ns);
            key.policy = text("policy");
            key.shown_id = detail["multi_region"]["key_id"]
                .as_str()
                .and_then(|id| uuid::Uuid::parse_str(id).ok())
                .map(|id| crate::domain::ids::KeyId::from_uuid(id).to_string());
            // A key has material from its creation unless it is made for imported material.
            if key.origin != "EXTERNAL" {
                key.permanent_versions.insert(1);
            }
            key.state = if key.has_material() {
                "Enabled".into()
            } else {
                "PendingImport".into()
            };
        }
        "KeyMaterialImported" => {
            let version = detail["material_version"].as_i64().unwrap_or(0);
            // The first material is the key's; later new material waits for a rotation.
            if key.permanent_versions.is_empty() {
                key.permanent_versions.insert(version);
            }
            key.missing_versions.remove(&version);
            if key.state == "PendingImport" && key.has_material() {
                key.state = "Enabled".into();
            }
        }
        "ImportedKeyMaterialDeleted" => {
            let version = detail["material_version"].as_i64().unwrap_or(0);
            if key.permanent_versions.contains(&version) {
                key.missing_versions.insert(version);
                if key.state != "PendingDeletion" {
                    key.state = "PendingImport".into();
                }
            }
        }
        "KeyEnabled" => key.state = "Enabled".into(),
        "KeyDisabled" => key.state = "Disabled".into(),
        "KeyDescriptionUpdated" => key.description = text("description"),
        "KeyPolicyPut" => {
            let after = text("policy");
            if in_period(event.time_ns) {
                policy_changes.push(PolicyChange {
                    key_id: event.key_id.clone(),
                    time: rfc3339_ns(event.time_ns),
                    principal: event.principal.clone(),
                    account: event.account.clone(),
                    policy_name: text("policy_name"),
                    diff: diff_lines(&policy_lines(&key.policy), &policy_lines(&after)),
                });
            }
            key.policy = after;
        }
        "KeyRotationEnabled" => {
            key.rotation_period_days = detail["rotation_period_days"].as_i64();
            key.next_rotation_ns = time_field(detail, "next_rotation_date");
        }
        "KeyRotationDisabled" => {
            key.rotation_period_days = None;
            key.next_rotation_ns = None;
        }
        "KeyRotated" => {
            key.permanent_versions
                .insert(detail["material_version"].as_i64().unwrap_or(0));
            let at = time_field(detail, "rotation_date").unwrap_or(event.time_ns);
            key.last_rotation_ns = Some(at);
            if let Some(days) = key.rotation_period_days {
                key.next_rotation_ns = Some(at + days * NS_PER_DAY);
            }
        }
        "KeyDeletionScheduled" => {
            key.state = if detail["waiting_for_replicas"] == true {
                "PendingReplicaDeletion".into()
            } else {
                "PendingDeletion".into()
            };
            key.deletion_times.push(event.time_ns);
            key.deletion = DeletionLine {
                key_id: String::new(),
                scheduled_at: Some(rfc3339_ns(event.time_ns)),
                scheduled_by: event.principal.clone().or_else(|| event.account.clone()),
                deletion_date: time_field(detail, "deletion_date").map(rfc3339_ns),
                cancelled_at: None,
                shredded_at: None,
            };
        }
        "KeyDeletionCancelled" => {
            // AWS leaves a key whose deletion is cancelled disabled (or without material).
            key.state = if key.has_material() {
                "Disabled".into()
            } else {
                "PendingImport".into()
            };
            key.deletion_times.push(event.time_ns);
            key.deletion.cancelled_at = Some(rfc3339_ns(event.time_ns));
        }
        "KeyDeleted" => {
            key.state = "Deleted".into();
            key.deleted = true;
            key.deletion_times.push(event.time_ns);
            key.deletion.shredded_at = Some(rfc3339_ns(event.time_ns));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_policy_diff_shows_what_was_removed_and_added() {
        let diff = diff_lines(&lines("a\nb\nc"), &lines("a\nx\nc\nd"));
        let ops: String = diff.iter().map(|l| l.op).collect();
        assert_eq!(ops, " -+ +");
        assert_eq!(diff[1].text, "b");
        assert_eq!(diff[2].text, "x");
        assert!(diff_lines(&lines("same"), &lines("same"))
            .iter()
            .all(|l| l.op == ' '));
    }

    fn event(position: u64, day: i64, event_type: &str, detail: Value) -> KeyEventRow {
        KeyEventRow {
            key_id: "k".into(),
            position,
            time_ns: day * NS_PER_DAY,
            event_type: event_type.into(),
            account: Some("111122223333".into()),
            principal: Some("arn:aws:iam::111122223333:user/alice".into()),
            detail: detail.to_string(),
        }
    }

    fn created(day: i64) -> KeyEventRow {
        event(
            1,
            day,
            "KeyCreated",
            serde_json::json!({
                "account_id": "111122223333", "region": "us-east-1", "key_spec": "SYMMETRIC_DEFAULT",
                "key_usage": "ENCRYPT_DECRYPT", "origin": "AWS_KMS", "description": "",
                "creation_date": rfc3339_ns(day * NS_PER_DAY), "policy": "{\"Version\":\"2012-10-17\"}"
            }),
        )
    }

    fn report_at(events: Vec<KeyEventRow>, as_of_day: i64) -> ComplianceReport {
        let input = ComplianceInput {
            key_events: events
                .into_iter()
                .filter(|e| e.time_ns <= as_of_day * NS_PER_DAY)
                .collect(),
            ..ComplianceInput::default()
        };
        let settings = ComplianceSettings::default();
        let trail = TrailIntegrity {
            tree_size: None,
            root_hash: None,
            created: None,
            verifies: false,
            problem: None,
        };
        let as_of = as_of_day * NS_PER_DAY;
        fold_report(
            &input,
            as_of,
            as_of - 30 * NS_PER_DAY,
            &settings,
            &BTreeMap::new(),
            trail,
        )
    }

    #[test]
    fn imported_keys_read_as_the_key_state_projection_has_them() {
        let mut create = created(20_000);
        create.detail = create.detail.replace("\"AWS_KMS\"", "\"EXTERNAL\"");
        let imported = |position, day, version: i64| {
            event(
                position,
                day,
                "KeyMaterialImported",
                serde_json::json!({ "material_version": version }),
            )
        };
        let deleted = |position, day, version: i64| {
            event(
                position,
                day,
                "ImportedKeyMaterialDeleted",
                serde_json::json!({ "material_version": version }),
            )
        };
        let events = vec![
            create,
            imported(2, 20_001, 1),
            // New material pending rotation, deleted: the key keeps its own.
            imported(3, 20_002, 2),
            deleted(4, 20_003, 2),
            imported(5, 20_004, 2),
            event(
                6,
                20_005,
                "KeyRotated",
                serde_json::json!({"material_version": 2, "rotation_date": rfc3339_ns(20_005 * NS_PER_DAY)}),
            ),
            // Its old material deleted: PendingImport until it comes back.
            deleted(7, 20_006, 1),
            imported(8, 20_007, 1),
        ];
        let state_on = |day| report_at(events.clone(), day).keys[0].state.clone();
        assert_eq!(state_on(20_000), "PendingImport");
        assert_eq!(state_on(20_001), "Enabled");
        assert_eq!(state_on(20_003), "Enabled");
        assert_eq!(state_on(20_005), "Enabled");
        assert_eq!(state_on(20_006), "PendingImport");
        assert_eq!(state_on(20_007), "Enabled");
    }

    #[test]
    fn the_report_as_of_a_time_reads_as_it_would_have_then() {
        let events = vec![
            created(20_000),
            event(2, 20_100, "KeyDisabled", serde_json::json!({})),
            event(
                3,
                20_400,
                "KeyDeletionScheduled",
                serde_json::json!({"deletion_date": rfc3339_ns(20_407 * NS_PER_DAY), "pending_window_days": 7}),
            ),
            event(4, 20_407, "KeyDeleted", serde_json::json!({})),
        ];
        let early = report_at(events.clone(), 20_050);
        assert_eq!(early.keys[0].state, "Enabled");
        assert_eq!(early.keys[0].rotation_overdue, Some(false));
        assert!(!early.keys[0].unused, "50 days without use is not yet 90");
        let later = report_at(events.clone(), 20_380);
        assert_eq!(later.keys[0].state, "Disabled");
        assert_eq!(
            later.keys[0].rotation_overdue,
            Some(true),
            "380 days on one material"
        );
        assert!(later.keys[0].unused);
        assert!(later.deletions.is_empty());
        let pending = report_at(events.clone(), 20_401);
        assert_eq!(pending.keys[0].state, "PendingDeletion");
        assert_eq!(pending.deletions.len(), 1);
        let gone = report_at(events, 20_410);
        assert!(gone.keys.is_empty(), "a deleted key leaves the inventory");
        assert_eq!(
            gone.deletions[0].shredded_at.as_deref(),
            Some(rfc3339_ns(20_407 * NS_PER_DAY).as_str())
        );
    }
}
