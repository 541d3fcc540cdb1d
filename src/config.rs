//! Settings: command-line flag, else environment variable (clap reads both),
//! else the TOML config file, else the documented default.

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
    pub account_id: Option<String>,
    pub workers: Option<usize>,
    pub trail_origin: Option<String>,
    pub public_tlog: Option<bool>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }
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
    }
}
