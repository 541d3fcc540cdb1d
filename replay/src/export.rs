//! Trail exports: CloudTrail-format log files, one per hour (gzipped `{"Records": [...]}`),
//! and a digest per hour in the spirit of CloudTrail log file integrity validation — each
//! digest lists its hour's log files with their SHA-256, names the SHA-256 of the previous
//! digest, and is a C2SP signed note by the ledger's note key. [`verify_export`] needs
//! nothing but the export and the verifier key; it detects a modified, missing or added log
//! file, and a modified, missing or reordered digest before the last.
//!
//! Layout under the export directory:
//! `CloudTrail/YYYY/MM/DD/<account>_CloudTrail_YYYYMMDDTHH00Z_keyledger.json.gz` and
//! `CloudTrail-Digest/YYYY/MM/DD/<account>_CloudTrail-Digest_YYYYMMDDTHH00Z.json`.

use crate::trail::{NoteSigner, TrailError};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The first line of every digest note: what the signature is over.
pub const DIGEST_HEADER: &str = "keyledger trail export digest v1";
const LOG_DIR: &str = "CloudTrail";
const DIGEST_DIR: &str = "CloudTrail-Digest";

/// One log file as a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    /// The file's path, relative to the export directory.
    pub s3_object: String,
    /// Hex SHA-256 of the file's bytes (gzipped, as stored).
    pub hash_value: String,
    pub hash_algorithm: String,
    pub oldest_event_time: String,
    pub newest_event_time: String,
}

/// An hour's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_object: String,
    pub digest_signature_algorithm: String,
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest file's bytes; `None` for the first.
    pub previous_digest_hash_value: Option<String>,
    pub previous_digest_hash_algorithm: Option<String>,
    pub log_files: Vec<LogFileEntry>,
}

/// An hour of records to export: its start, and the CloudTrail records (JSON objects) in
/// log order.
pub struct Hour {
    pub start: OffsetDateTime,
    pub records: Vec<serde_json::Value>,
}

fn stamp(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}00Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour()
    )
}

fn day_dir(t: OffsetDateTime) -> String {
    format!("{:04}/{:02}/{:02}", t.year(), u8::from(t.month()), t.day())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Trail(#[from] TrailError),
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // An export never overwrites: a second export into the same directory is refused.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub log_files: usize,
    pub digests: usize,
    pub records: usize,
}

/// Write `hours` (consecutive, ascending) under `out`, signing each digest with `signer`.
pub fn write_export(
    out: &Path,
    account: &str,
    hours: &[Hour],
    signer: &NoteSigner,
) -> Result<Exported, ExportError> {
    let mut previous: Option<(String, String)> = None; // (path, sha256 hex)
    let mut written = Exported {
        log_files: 0,
        digests: 0,
        records: 0,
    };
    for hour in hours {
        let end = hour.start + time::Duration::hours(1);
        let mut log_files = Vec::new();
        if !hour.records.is_empty() {
            let relative = format!(
                "{LOG_DIR}/{}/{account}_CloudTrail_{}_keyledger.json.gz",
                day_dir(hour.start),
                stamp(hour.start)
            );
            let json = serde_json::to_vec(&serde_json::json!({ "Records": hour.records }))
                .map_err(|e| ExportError::Invalid(e.to_string()))?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&json).map_err(io(Path::new(&relative)))?;
            let gz = gz.finish().map_err(io(Path::new(&relative)))?;
            write_new(&out.join(&relative), &gz)?;
            let time_of =
                |r: &serde_json::Value| r["eventTime"].as_str().unwrap_or_default().to_owned();
            log_files.push(LogFileEntry {
                s3_object: relative,
                hash_value: sha256_hex(&gz),
                hash_algorithm: "SHA-256".into(),
                oldest_event_time: hour.records.first().map(time_of).unwrap_or_default(),
                newest_event_time: hour.records.last().map(time_of).unwrap_or_default(),
            });
            written.log_files += 1;
            written.records += hour.records.len();
        }
        let digest_path = format!(
            "{DIGEST_DIR}/{}/{account}_CloudTrail-Digest_{}.json",
            day_dir(hour.start),
            stamp(hour.start)
        );
        let digest = DigestFile {
            aws_account_id: account.to_owned(),
            digest_start_time: rfc3339(hour.start),
            digest_end_time: rfc3339(end),
            digest_s3_object: digest_path.clone(),
            digest_signature_algorithm: "Ed25519 (C2SP signed-note)".into(),
            previous_digest_s3_object: previous.as_ref().map(|(p, _)| p.clone()),
            previous_digest_hash_value: previous.as_ref().map(|(_, h)| h.clone()),
            previous_digest_hash_algorithm: previous.as_ref().map(|_| "SHA-256".into()),
            log_files,
        };
        let text = format!(
            "{DIGEST_HEADER}\n{}\n",
            serde_json::to_string(&digest).map_err(|e| ExportError::Invalid(e.to_string()))?
        );
        let note = signer.sign_text(&text)?;
        write_new(&out.join(&digest_path), note.as_bytes())?;
        previous = Some((digest_path, sha256_hex(note.as_bytes())));
        written.digests += 1;
    }
    Ok(written)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ExportError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportVerified {
    pub digests: usize,
    pub log_files: usize,
    pub first_hour: Option<String>,
    pub last_hour: Option<String>,
}

impl std::fmt::Display for ExportVerified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} digests and {} log files verified ({} to {})",
            self.digests,
            self.log_files,
            self.first_hour.as_deref().unwrap_or("-"),
            self.last_hour.as_deref().unwrap_or("-")
        )
    }
}

/// Check an export with nothing but the verifier key: every digest's signature, the chain
/// of digests hour after hour, every listed log file's SHA-256, and that no log file is
/// there that no digest lists.
pub fn verify_export(dir: &Path, vkey: &str) -> Result<ExportVerified, ExportError> {
    let mut digests = Vec::new();
    files_under(&dir.join(DIGEST_DIR), &mut digests)?;
    let mut logs = Vec::new();
    files_under(&dir.join(LOG_DIR), &mut logs)?;
    if digests.is_empty() {
        return Err(ExportError::Invalid(format!(
            "{} holds no digest files",
            dir.display()
        )));
    }
    let mut parsed = Vec::new();
    for path in &digests {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let name = relative(dir, path);
        let text = crate::trail::verify_note(&bytes, vkey)
            .map_err(|e| ExportError::Invalid(format!("digest {name}: {e}")))?;
        let json = text
            .strip_prefix(DIGEST_HEADER)
            .and_then(|t| t.strip_prefix('\n'))
            .ok_or_else(|| ExportError::Invalid(format!("digest {name}: not a trail digest")))?;
        let digest: DigestFile = serde_json::from_str(json.trim_end())
            .map_err(|e| ExportError::Invalid(format!("digest {name}: {e}")))?;
        if digest.digest_s3_object != name {
            return Err(ExportError::Invalid(format!(
                "digest {name} says it is {}: moved or renamed",
                digest.digest_s3_object
            )));
        }
        parsed.push((digest, sha256_hex(&bytes)));
    }
    parsed.sort_by(|a, b| a.0.digest_start_time.cmp(&b.0.digest_start_time));
    let mut listed = BTreeSet::new();
    for (i, (digest, _)) in parsed.iter().enumerate() {
        let name = &digest.digest_s3_object;
        match i.checked_sub(1).map(|p| &parsed[p]) {
            None => {
                if digest.previous_digest_hash_value.is_some() {
                    // The export starts after a digest that is not here.
                    return Err(ExportError::Invalid(format!(
                        "digest {name} follows {}, which is missing",
                        digest.previous_digest_s3_object.as_deref().unwrap_or("?")
                    )));
                }
            }
            Some((previous, previous_hash)) => {
                if digest.digest_start_time != previous.digest_end_time
                    || digest.previous_digest_hash_value.as_ref() != Some(previous_hash)
                    || digest.previous_digest_s3_object.as_ref() != Some(&previous.digest_s3_object)
                {
                    return Err(ExportError::Invalid(format!(
                        "digest {name} does not follow {}: a digest was changed, removed or added",
                        previous.digest_s3_object
                    )));
                }
            }
        }
        for file in &digest.log_files {
            let path = dir.join(&file.s3_object);
            let bytes = std::fs::read(&path).map_err(|_| {
                ExportError::Invalid(format!("log file {} is missing", file.s3_object))
            })?;
            if sha256_hex(&bytes) != file.hash_value {
                return Err(ExportError::Invalid(format!(
                    "log file {} was modified (its SHA-256 is not the digest's)",
                    file.s3_object
                )));
            }
            listed.insert(file.s3_object.clone());
        }
    }
    for path in &logs {
        let name = relative(dir, path);
        if !listed.contains(&name) {
            return Err(ExportError::Invalid(format!(
                "log file {name} is in no digest: it was added"
            )));
        }
    }
    Ok(ExportVerified {
        digests: parsed.len(),
        log_files: listed.len(),
        first_hour: parsed.first().map(|d| d.0.digest_start_time.clone()),
        last_hour: parsed.last().map(|d| d.0.digest_start_time.clone()),
    })
}

/// The records of every log file of a verified export, in order (for recomputations such
/// as billing from an export).
pub fn read_records(dir: &Path, vkey: &str) -> Result<Vec<serde_json::Value>, ExportError> {
    verify_export(dir, vkey)?;
    let mut logs = Vec::new();
    files_under(&dir.join(LOG_DIR), &mut logs)?;
    logs.sort();
    let mut records = Vec::new();
    for path in logs {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json)
            .map_err(io(&path))?;
        let file: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| ExportError::Invalid(e.to_string()))?;
        if let Some(list) = file["Records"].as_array() {
            records.extend(list.iter().cloned());
        }
    }
    Ok(records)
}
