//! Settings: command-line flag, else environment variable (clap reads both),
//! else the TOML config file, else the documented default. `keyledger.example.toml` at the
//! repository's root documents every key of [`FileConfig`] (a test keeps the two in step).

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_DIR: &str = "keyledger-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_REGION: &str = "us-east-1";

/// The `[serve]`-level keys of the TOML config file; every one optional.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub region: Option<String>,
    /// The Regions requests may be signed for (each of AWS's form); unset: any of AWS's form.
    pub regions: Option<Vec<String>>,
    pub account_id: Option<String>,
    pub workers: Option<usize>,
    pub trail_origin: Option<String>,
    pub public_tlog: Option<bool>,
    /// A PostgreSQL URL (`postgres://…`) instead of the data dir's SQLite file.
    pub database: Option<String>,
    pub root_key_file: Option<PathBuf>,
    /// FIPS mode (decision 0015); `--fips` or KEYLEDGER_FIPS turn it on too.
    pub fips: Option<bool>,
    /// TLS: the certificate chain (PEM, leaf first) and its private key (PEM); both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (refused otherwise).
    pub allow_plain_http: Option<bool>,
    /// `[billing]`: the price table (micro-dollars; any key left out keeps AWS's price).
    pub billing: Option<replay::billing::Prices>,
    /// `[compliance]`: the compliance report's thresholds.
    pub compliance: Option<crate::app::reports::ComplianceSettings>,
    /// `[quotas]`: request quotas per class (any left out keeps AWS's), `enabled`, and the
    /// per-source bound of failed unauthenticated attempts (`unauthenticated`).
    pub quotas: Option<crate::app::quotas::QuotaSettings>,
    /// The log lines' format on stderr; `--log-format` or KEYLEDGER_LOG_FORMAT win over it.
    pub log_format: Option<LogFormat>,
}

/// How log lines are written to stderr.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event, with its spans' fields (the request id).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, and `span` /
    /// `spans` with the request id of a request's lines.
    Json,
}

/// A comma-separated list of Regions: beats `regions` in the file (empty: as if unset).
pub const REGIONS_ENV: &str = "KEYLEDGER_REGIONS";

/// `on` or `off`: beats `[quotas] enabled` (empty: as if unset).
pub const QUOTAS_ENV: &str = "KEYLEDGER_QUOTAS";

impl FileConfig {
    /// The reports' settings: the file's, else the defaults.
    pub fn report_settings(&self) -> crate::app::reports::ReportSettings {
        crate::app::reports::ReportSettings {
            prices: self.billing.clone().unwrap_or_default(),
            compliance: self.compliance.clone().unwrap_or_default(),
        }
    }
}

impl FileConfig {
    /// The checks `serve` would make of the file's values, made without starting anything
    /// (`keyledger config check`; `serve` makes them too): the first problem, in words.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(listen) = &self.listen {
            if !is_listen_address(listen) {
                return Err(format!(
                    "listen = {listen:?}: not HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks a free port)"
                ));
            }
        }
        if let Some(region) = &self.region {
            if crate::domain::ids::Region::parse(region).is_none() {
                return Err(format!(
                    "region = {region:?}: not a region name (lowercase letters, digits and '-', e.g. us-east-1)"
                ));
            }
        }
        if let Some(regions) = &self.regions {
            parse_regions(regions.iter().map(String::as_str))?;
        }
        if let Some(account) = &self.account_id {
            if crate::domain::ids::AccountId::parse(account).is_none() {
                return Err(format!("account_id = {account:?}: it must be 12 digits"));
            }
        }
        if self.workers == Some(0) {
            return Err("workers = 0: at least one HTTP worker is needed".into());
        }
        if self.trail_origin.as_deref().is_some_and(|o| {
            // It names the note key too: C2SP signed-note key names have no space and no '+'.
            o.is_empty()
                || o.chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '+')
        }) {
            return Err("trail_origin: empty, or with a space, '+' or control character".into());
        }
        if let Some(url) = &self.database {
            if !crate::ledger::postgres::is_postgres_url(url) {
                return Err("database: not a postgres:// or postgresql:// URL".into());
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err("tls_cert without tls_key: TLS needs both".into()),
            (None, Some(_)) => return Err("tls_key without tls_cert: TLS needs both".into()),
            _ => {}
        }
        Ok(())
    }

    /// The request quotas: the file's (AWS's for what it leaves out), on or off as
    /// `KEYLEDGER_QUOTAS` says, else as the file says, else on.
    pub fn quota_settings(&self) -> Result<crate::app::quotas::QuotaSettings, String> {
        let mut settings = self.quotas.clone().unwrap_or_default();
        match std::env::var(QUOTAS_ENV).ok().as_deref() {
            None | Some("") => {}
            Some("on") => settings.enabled = true,
            Some("off") => settings.enabled = false,
            Some(other) => return Err(format!("{QUOTAS_ENV}={other:?}: expected on or off")),
        }
        Ok(settings)
    }

    /// The Regions requests may be signed for: `KEYLEDGER_REGIONS`, else the file's, else
    /// `None` (any Region of AWS's form).
    pub fn allowed_regions(&self) -> Result<Option<Vec<crate::domain::ids::Region>>, String> {
        match std::env::var(REGIONS_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(list) => parse_regions(list.split(',').map(str::trim))
                .map(Some)
                .map_err(|e| format!("{REGIONS_ENV}: {e}")),
            None => self
                .regions
                .as_ref()
                .map(|r| parse_regions(r.iter().map(String::as_str)))
                .transpose(),
        }
    }

    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }
}

/// A list of Region names, each of AWS's form (`us-east-1`, `us-gov-west-1`), none twice.
fn parse_regions<'a>(
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<crate::domain::ids::Region>, String> {
    let mut regions: Vec<crate::domain::ids::Region> = Vec::new();
    for name in names {
        let region = crate::domain::ids::Region::parse(name)
            .filter(|r| crate::app::limits::is_aws_region(r.as_str()))
            .ok_or_else(|| {
                format!("regions: {name:?} is not a Region name of AWS's form (e.g. eu-west-1)")
            })?;
        if regions.contains(&region) {
            return Err(format!("regions: {name} is listed twice"));
        }
        regions.push(region);
    }
    if regions.is_empty() {
        return Err("regions: the list is empty (leave it out to allow any Region)".into());
    }
    Ok(regions)
}

/// `HOST:PORT` as `serve` can bind it: an IP socket address (`[::1]:8080` too), or a host
/// name and a port. No name is resolved here.
fn is_listen_address(text: &str) -> bool {
    if text.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    port.parse::<u16>().is_ok()
        && !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_parses_and_rejects_unknown_keys() {
        let parsed: FileConfig = toml::from_str("data_dir = \"/var/lib/keyledger\"\nlisten = \"0.0.0.0:9000\"\nregion = \"eu-west-1\"\n").unwrap();
        assert_eq!(parsed.data_dir, Some(PathBuf::from("/var/lib/keyledger")));
        assert_eq!(parsed.listen.as_deref(), Some("0.0.0.0:9000"));
        assert!(toml::from_str::<FileConfig>("datadir = \"x\"").is_err());
        let tls: FileConfig = toml::from_str(
            "tls_cert = \"/etc/kl/cert.pem\"\ntls_key = \"/etc/kl/key.pem\"\nallow_plain_http = true\n",
        )
        .unwrap();
        assert_eq!(tls.tls_cert, Some(PathBuf::from("/etc/kl/cert.pem")));
        assert_eq!(tls.tls_key, Some(PathBuf::from("/etc/kl/key.pem")));
        assert_eq!(tls.allow_plain_http, Some(true));
    }

    #[test]
    fn prices_and_thresholds_come_from_their_tables_with_defaults_for_the_rest() {
        let parsed: FileConfig = toml::from_str(
            "[billing]\nsymmetric_per_10k = 40000\ncharge_failed_requests = true\n[compliance]\nunused_key_days = 30\n",
        )
        .unwrap();
        let settings = parsed.report_settings();
        assert_eq!(settings.prices.symmetric_per_10k, 40_000);
        assert!(settings.prices.charge_failed_requests);
        assert_eq!(settings.prices.rsa_key_pair_per_10k, 12_000_000);
        assert_eq!(settings.compliance.unused_key_days, 30);
        assert_eq!(settings.compliance.rotation_max_age_days, 365);
        assert!(toml::from_str::<FileConfig>("[billing]\nsymetric_per_10k = 1\n").is_err());
    }

    #[test]
    fn validation_names_the_bad_value() {
        let check = |text: &str| toml::from_str::<FileConfig>(text).unwrap().validate();
        assert_eq!(
            check("listen = \"[::1]:0\"\nregion = \"eu-west-1\"\n"),
            Ok(())
        );
        assert_eq!(check("listen = \"localhost:8080\""), Ok(()));
        assert!(check("listen = \"127.0.0.1\"")
            .unwrap_err()
            .contains("listen"));
        assert!(check("listen = \"127.0.0.1:99999\"").is_err());
        assert!(check("region = \"US_EAST\"")
            .unwrap_err()
            .contains("region"));
        assert!(check("account_id = \"12345\"")
            .unwrap_err()
            .contains("12 digits"));
        assert!(check("workers = 0").is_err());
        assert!(check("database = \"mysql://x\"").is_err());
        assert!(check("tls_cert = \"c.pem\"")
            .unwrap_err()
            .contains("tls_key"));
        assert!(check("tls_key = \"k.pem\"")
            .unwrap_err()
            .contains("tls_cert"));
        let json: FileConfig = toml::from_str("log_format = \"json\"").unwrap();
        assert_eq!(json.log_format, Some(LogFormat::Json));
        assert!(toml::from_str::<FileConfig>("log_format = \"xml\"").is_err());
    }
}
