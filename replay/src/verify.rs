//! Re-derive the hash chain from stored rows and report the first break.

use crate::{chain_hash, GENESIS_HASH};
use futures_util::TryStreamExt;
use sqlx::{sqlite::SqliteConnectOptions, ConnectOptions, Row};
use std::path::Path;

/// One stored event as the ledger keeps it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub position: i64,
    pub stream: Option<String>,
    pub stream_version: Option<i64>,
    pub event_name: String,
    pub data: Vec<u8>,
    pub hash: Vec<u8>,
    pub event_id: Option<String>,
    pub time_ns: Option<i64>,
    pub keys: Option<String>,
    pub error_code: Option<String>,
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub head: [u8; 32],
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events verified, head {}",
            self.events,
            hex::encode(self.head)
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("position {position}: {reason}")]
    Broken { position: i64, reason: String },
    #[error("cannot read the ledger: {0}")]
    Read(String),
}

impl VerifyError {
    /// The first position at which the ledger fails, if the failure is in the data.
    pub fn position(&self) -> Option<i64> {
        match self {
            VerifyError::Broken { position, .. } => Some(*position),
            VerifyError::Read(_) => None,
        }
    }
}

fn broken(position: i64, reason: impl Into<String>) -> VerifyError {
    VerifyError::Broken {
        position,
        reason: reason.into(),
    }
}

/// Verify rows given in ascending position order.
pub struct ChainVerifier {
    expected_position: i64,
    prev: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_position: 1,
            prev: GENESIS_HASH,
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, row: &StoredRow) -> Result<(), VerifyError> {
        let position = row.position;
        if position != self.expected_position {
            // A gap (deleted row) or a reordering: name the first position that is wrong.
            return Err(broken(
                self.expected_position,
                format!(
                    "expected position {}, found {}",
                    self.expected_position, position
                ),
            ));
        }
        let expected = chain_hash(&self.prev, position as u64, &row.data);
        if row.hash.as_slice() != expected.as_slice() {
            return Err(broken(position, "hash does not match the chain"));
        }
        // The envelope fields that are also stored as columns must agree with the hashed data.
        let columns = crate::columns::derive(&row.data)
            .map_err(|e| broken(position, format!("event is not a valid envelope: {e}")))?;
        if columns.event_name != row.event_name
            || columns.stream != row.stream
            || columns.stream_version != row.stream_version
            || Some(&columns.event_id) != row.event_id.as_ref()
            || Some(columns.time_ns) != row.time_ns
            || columns.keys != row.keys
            || columns.error_code != row.error_code
        {
            return Err(broken(
                position,
                "indexed columns disagree with the hashed event",
            ));
        }
        self.prev = expected;
        self.expected_position += 1;
        Ok(())
    }

    pub fn finish(self) -> Verified {
        Verified {
            events: (self.expected_position - 1) as u64,
            head: self.prev,
        }
    }
}

/// Verify an in-memory sequence of rows.
pub fn verify_rows<'a>(
    rows: impl IntoIterator<Item = &'a StoredRow>,
) -> Result<Verified, VerifyError> {
    let mut verifier = ChainVerifier::default();
    for row in rows {
        verifier.push(row)?;
    }
    Ok(verifier.finish())
}

fn stored_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredRow, sqlx::Error> {
    Ok(StoredRow {
        position: row.try_get("position")?,
        stream: row.try_get("stream")?,
        stream_version: row.try_get("stream_version")?,
        event_name: row.try_get("event_name")?,
        data: row.try_get("data")?,
        hash: row.try_get("hash")?,
        event_id: row.try_get("event_id")?,
        time_ns: row.try_get("time_ns")?,
        keys: row.try_get("keys")?,
        error_code: row.try_get("error_code")?,
    })
}

/// Verify the SQLite ledger file `path`, opened read-only, streaming its rows.
pub async fn verify_sqlite(path: &Path) -> Result<Verified, VerifyError> {
    if !path.exists() {
        return Err(VerifyError::Read(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| VerifyError::Read(e.to_string()))?;
    let mut verifier = ChainVerifier::default();
    let mut rows = sqlx::query(
        "SELECT position, stream, stream_version, event_name, data, hash, event_id, time_ns, keys, error_code \
         FROM events ORDER BY position",
    )
    .fetch(&mut conn);
    while let Some(row) = rows.try_next().await.map_err(|e| {
        // A damaged page can make SQLite itself fail: say where the good part ends.
        VerifyError::Read(format!(
            "{e} (the events up to position {} verified)",
            verifier.expected_position - 1
        ))
    })? {
        let stored = stored_row(&row).map_err(|e| VerifyError::Read(e.to_string()))?;
        verifier.push(&stored)?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredRow> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|position| {
                let data = format!(
                    r#"{{"event_name":"Encrypt","event_id":"e{position}","time":"2026-12-01T00:00:00Z","n":{position}}}"#
                )
                .into_bytes();
                let hash = chain_hash(&prev, position as u64, &data);
                prev = hash;
                StoredRow {
                    position,
                    stream: None,
                    stream_version: None,
                    event_name: "Encrypt".into(),
                    data,
                    hash: hash.to_vec(),
                    event_id: Some(format!("e{position}")),
                    time_ns: Some(1_796_083_200_000_000_000),
                    keys: None,
                    error_code: None,
                }
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let verified = verify_rows(&rows).expect("intact");
        assert_eq!(verified.events, 5);
        assert_eq!(verified.head.to_vec(), rows[4].hash);
    }

    #[test]
    fn an_edited_event_is_caught_at_its_position() {
        let mut rows = chain(5);
        rows[2].data[3] ^= 1;
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
    }

    #[test]
    fn a_deleted_event_is_caught() {
        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
    }

    #[test]
    fn swapped_events_are_caught() {
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        // An attacker who edits an event and recomputes its own hash still breaks the link after it.
        let mut rows = chain(5);
        rows[1].data =
            br#"{"event_name":"Encrypt","event_id":"e2","time":"2026-12-01T00:00:00Z","n":99}"#
                .to_vec();
        rows[1].hash =
            chain_hash(&rows[0].hash.clone().try_into().unwrap(), 2, &rows[1].data).to_vec();
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
    }

    #[test]
    fn a_column_that_disagrees_with_the_data_is_caught() {
        let mut rows = chain(3);
        rows[0].event_name = "Decrypt".into();
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(1));
    }

    #[test]
    fn a_keys_column_that_disagrees_with_the_data_is_caught() {
        // The read models are rebuilt from the columns: a forged key column must not pass.
        let mut rows = chain(3);
        rows[1].keys = Some("1234abcd-12ab-34cd-56ef-1234567890ab".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
        let mut rows = chain(3);
        rows[2].error_code = Some("AccessDeniedException".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
        let mut rows = chain(3);
        rows[0].event_id = Some("e9".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(1));
        let mut rows = chain(3);
        rows[1].time_ns = rows[1].time_ns.map(|t| t - 1);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
        let mut rows = chain(3);
        rows[2].event_id = None;
        assert_eq!(
            verify_rows(&rows).unwrap_err().position(),
            Some(3),
            "a missing column"
        );
    }

    #[test]
    fn the_keys_column_is_each_resource_key_once() {
        use crate::columns::{lifecycle_keys, usage_keys};
        let arn = |id: &str| format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
        let (a, b) = (arn("k-a"), arn("k-b"));
        assert_eq!(
            usage_keys([a.as_str(), b.as_str(), a.as_str()]),
            Some("k-a k-b".into())
        );
        assert_eq!(
            usage_keys(["arn:aws:kms:us-east-1:111122223333:alias/x"]),
            None
        );
        assert_eq!(lifecycle_keys("key/k-a"), Some("k-a".into()));
        assert_eq!(lifecycle_keys("alias/us-east-1/111122223333/alias/x"), None);
    }
}
