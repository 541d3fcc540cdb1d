//! The `replay` (also `keyledger-replay`) command: offline checks with no server and no keys.
//!
//! - `verify LEDGER [--vkey KEY]`: the chain, the trail tree and every checkpoint of a SQLite
//!   ledger file or a PostgreSQL ledger (a `postgres://` URL).
//! - `verify-export DIR --vkey KEY`: a trail export's digests and log files.
//! - `billing --export DIR --vkey KEY [--month YYYY-MM] [--account ID] [--prices FILE]
//!   [--through T] [--format json|csv]`: the month's billing report from a verified export.
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: replay verify LEDGER.db|postgres://URL [--vkey KEY]\n       \
         replay verify-export DIR --vkey KEY\n       \
         replay billing --export DIR --vkey KEY [--month YYYY-MM] [--account ID] \
         [--prices FILE] [--through RFC3339] [--format json|csv]"
    );
    ExitCode::from(2)
}

/// A verifier key given inline or as a file holding it.
fn vkey(arg: &str) -> String {
    match std::fs::read_to_string(arg) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => arg.trim().to_owned(),
    }
}

/// Run the command with `args` (without the program name).
pub async fn run(args: Vec<String>) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let ["billing", rest @ ..] = args.as_slice() {
        return match billing(rest) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(None) => usage(),
            Err(Some(e)) => {
                eprintln!("replay billing: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let outcome: Result<String, String> = match args.as_slice() {
        ["verify", location, rest @ ..] => {
            let options = crate::VerifyOptions {
                vkey: match rest {
                    [] => None,
                    ["--vkey", key] => Some(vkey(key)),
                    _ => return usage(),
                },
                saved_checkpoint: None,
            };
            crate::verify_location(location, &options, &mut |_, _| {})
                .await
                .map(|v| v.to_string())
                .map_err(|e| e.to_string())
        }
        ["verify-export", dir, "--vkey", key] => {
            crate::export::verify_export(std::path::Path::new(dir), &vkey(key))
                .map(|v| v.to_string())
                .map_err(|e| e.to_string())
        }
        _ => return usage(),
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("verification failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `billing …`: the report as `GET /v1/reports/billing` gives it, from an export alone;
/// `Err(None)` for a usage error.
pub fn billing(args: &[&str]) -> Result<String, Option<String>> {
    use crate::billing::{fold_records, report, BillingInput, BillingMonth, Prices};
    let mut flags = std::collections::HashMap::new();
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        let known = [
            "--export",
            "--vkey",
            "--month",
            "--account",
            "--prices",
            "--through",
            "--format",
        ];
        if !known.contains(flag) || flags.insert(*flag, *value).is_some() {
            return Err(None);
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(None);
    }
    let (Some(dir), Some(key)) = (flags.get("--export"), flags.get("--vkey")) else {
        return Err(None);
    };
    let fail = |e: String| Err(Some(e));
    let now = time::OffsetDateTime::now_utc();
    let month = match flags.get("--month") {
        None => BillingMonth::of_time(now),
        Some(m) => match BillingMonth::parse(m) {
            Ok(m) => m,
            Err(e) => return fail(e),
        },
    };
    let prices = match flags.get("--prices") {
        None => Prices::default(),
        Some(path) => match prices_file(std::path::Path::new(path)) {
            Ok(p) => p,
            Err(e) => return fail(e),
        },
    };
    let through = match flags.get("--through") {
        // The month's end: an export of the whole month is billed as the month closed.
        None => month.bounds().1,
        Some(t) => {
            match time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
                Ok(t) => t.unix_timestamp(),
                Err(e) => return fail(format!("--through {t:?}: {e}")),
            }
        }
    };
    let records = match crate::export::read_records(std::path::Path::new(dir), &vkey(key)) {
        Ok(r) => r,
        Err(e) => return fail(format!("the export does not verify: {e}")),
    };
    // The records up to `through`, as the server had folded them then.
    let upto: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            r["eventTime"]
                .as_str()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .is_some_and(|t| t.unix_timestamp() <= through)
        })
        .collect();
    let input = BillingInput::from_rows(fold_records(upto));
    let account = flags.get("--account").copied();
    let report = report(&input, month, account, &prices, through);
    match flags.get("--format").copied().unwrap_or("json") {
        "json" => Ok(report.to_json()),
        "csv" => Ok(report.to_csv()),
        _ => Err(None),
    }
}

/// Prices from a TOML file: keyledger's config file (its `[billing]` table) or the table alone.
fn prices_file(path: &std::path::Path) -> Result<crate::billing::Prices, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let document: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let table = match document.get("billing") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => document,
    };
    toml::Value::Table(table)
        .try_into()
        .map_err(|e| format!("{}: {e}", path.display()))
}
