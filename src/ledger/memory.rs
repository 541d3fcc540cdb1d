//! An in-memory ledger: the store contract without a disk, for tests and the conformance
//! suite. Several [`MemoryStore`] handles on one [`MemoryDatabase`] are several writers on
//! one database; the database's lock is its transaction. Read models (SQL) are not kept:
//! queries scan the log (`memory/queries.rs`).

use super::{
    check_streams, AppendBatch, AppendOutcome, CheckpointSigner, Head, LedgerReader, LedgerStore,
    StoreError, StoredCheckpoint, StoredEvent,
};
use crate::domain::ids::KeyId;
use replay::trail::Frontier;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

mod queries;

#[derive(Default)]
struct Log {
    events: Vec<StoredEvent>,
    streams: HashMap<String, u64>,
    shredding_keys: HashMap<KeyId, Vec<u8>>,
    /// The trail tree: its frontier and stored hashes (`replay::trail`).
    tree: Frontier,
    hashes: HashMap<(u8, u64), [u8; 32]>,
    checkpoints: Vec<StoredCheckpoint>,
}

/// The shared "database". Cheap to clone.
#[derive(Clone)]
pub struct MemoryDatabase {
    log: Arc<Mutex<Log>>,
    appended: watch::Sender<u64>,
    /// Refuse every append while set (a disk that has gone away).
    pub fail: Arc<AtomicBool>,
    /// Land every append, then report an error (an fsync error after the write).
    pub land_then_fail: Arc<AtomicBool>,
}

impl Default for MemoryDatabase {
    fn default() -> Self {
        MemoryDatabase {
            log: Arc::default(),
            appended: watch::channel(0).0,
            fail: Arc::default(),
            land_then_fail: Arc::default(),
        }
    }
}

impl MemoryDatabase {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock can only come from a bug in this file's short
        // critical sections; the log itself is still consistent, so keep going.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A writer on this database.
    pub fn store(&self) -> MemoryStore {
        MemoryStore { db: self.clone() }
    }

    /// A reader of this database.
    pub fn reader(&self) -> LedgerReader {
        LedgerReader::Memory(MemoryReader { db: self.clone() })
    }
}

/// A writer handle.
pub struct MemoryStore {
    db: MemoryDatabase,
}

/// A reader handle.
#[derive(Clone)]
pub struct MemoryReader {
    db: MemoryDatabase,
}

fn head_of(log: &Log) -> Head {
    log.events.last().map_or_else(Head::default, |e| Head {
        position: e.position,
        hash: e.hash,
    })
}

impl LedgerStore for MemoryStore {
    async fn head(&mut self) -> Result<Head, StoreError> {
        Ok(head_of(&self.db.lock()))
    }

    async fn append(&mut self, batches: &[&AppendBatch]) -> Result<Vec<AppendOutcome>, StoreError> {
        if self.db.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Storage("injected: the disk is gone".into()));
        }
        let position = {
            let mut log = self.db.lock();
            let mut head = head_of(&log);
            let mut outcomes = Vec::with_capacity(batches.len());
            for batch in batches {
                let versions =
                    match check_streams(batch, |s| log.streams.get(s).copied().unwrap_or(0)) {
                        Ok(versions) => versions,
                        Err(conflict) => {
                            outcomes.push(Err(conflict));
                            continue;
                        }
                    };
                let first = head.position + 1;
                for event in &batch.events {
                    head.position += 1;
                    head.hash = replay::chain_hash(&head.hash, head.position, &event.data);
                    let mut stored = Vec::new();
                    log.tree
                        .push(replay::trail::leaf_hash(&event.data), &mut stored);
                    log.hashes
                        .extend(stored.iter().map(|h| ((h.level, h.index), h.hash)));
                    log.events.push(StoredEvent {
                        position: head.position,
                        stream: event.stream.as_ref().map(|(s, _)| s.clone()),
                        stream_version: event.stream.as_ref().map(|(_, v)| *v),
                        event_name: event.event_name.clone(),
                        data: event.data.clone(),
                        hash: head.hash,
                        event_id: Some(event.columns.event_id.clone()),
                        time_ns: Some(event.columns.time_ns),
                        keys: event.columns.keys.clone(),
                        error_code: event.columns.error_code.clone(),
                        account: event.columns.account.clone(),
                        principal: event.columns.principal.clone(),
                    });
                }
                log.streams.extend(versions);
                for (key_id, wrapped) in &batch.shredding_keys {
                    log.shredding_keys.insert(*key_id, wrapped.clone());
                }
                for key_id in &batch.shredded {
                    log.shredding_keys.remove(key_id);
                }
                outcomes.push(Ok(first..head.position + 1));
            }
            if self.db.land_then_fail.load(Ordering::SeqCst) {
                // The "disk" reports a failure after the write; as the SQLite store does,
                // believe the log: it ends where this append would, so it landed.
                let end = head;
                if head_of(&log) != end {
                    return Err(StoreError::Storage("injected: fsync reported EIO".into()));
                }
                tracing::warn!("commit reported a failure but landed; treating it as committed");
            }
            self.db.appended.send_replace(head.position);
            outcomes
        };
        Ok(position)
    }

    async fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut log = self.db.lock();
        let size = log.tree.size();
        if size == 0 || log.checkpoints.last().is_some_and(|c| c.size == size) {
            return Ok(None);
        }
        let root = log.tree.root();
        let note = signer.sign(size, root).map_err(StoreError::Storage)?;
        let checkpoint = StoredCheckpoint::new(size, root, note);
        log.checkpoints.push(checkpoint.clone());
        Ok(Some(checkpoint))
    }
}

impl MemoryReader {
    pub fn head(&self) -> Head {
        head_of(&self.db.lock())
    }

    pub fn read_stream(&self, stream: &str, from_version: u64) -> Vec<StoredEvent> {
        self.db
            .lock()
            .events
            .iter()
            .filter(|e| {
                e.stream.as_deref() == Some(stream) && e.stream_version >= Some(from_version)
            })
            .cloned()
            .collect()
    }

    pub fn read_all(&self, after: u64, limit: usize, lifecycle_only: bool) -> Vec<StoredEvent> {
        self.db
            .lock()
            .events
            .iter()
            .skip(after as usize)
            .filter(|e| !lifecycle_only || e.stream.is_some())
            .take(limit)
            .cloned()
            .collect()
    }

    pub async fn wait_beyond(&self, position: u64) -> Head {
        let mut appended = self.db.appended.subscribe();
        loop {
            if *appended.borrow_and_update() > position {
                return self.head();
            }
            if appended.changed().await.is_err() {
                // The database is gone: nothing more will be appended.
                return self.head();
            }
        }
    }

    pub fn stored_hashes(&self, level: u8, range: std::ops::Range<u64>) -> Vec<[u8; 32]> {
        let log = self.db.lock();
        range
            .map_while(|i| log.hashes.get(&(level, i)).copied())
            .collect()
    }

    pub fn checkpoint(&self, size: Option<u64>) -> Option<StoredCheckpoint> {
        let log = self.db.lock();
        match size {
            None => log.checkpoints.last().cloned(),
            Some(size) => log.checkpoints.iter().find(|c| c.size == size).cloned(),
        }
    }

    pub fn checkpoints(&self) -> Vec<StoredCheckpoint> {
        self.db.lock().checkpoints.clone()
    }

    pub fn event_by_id(&self, event_id: &str) -> Option<StoredEvent> {
        let log = self.db.lock();
        log.events
            .iter()
            .find(|e| e.event_id.as_deref() == Some(event_id))
            .cloned()
    }

    pub fn shredding_keys(&self) -> Vec<(KeyId, Vec<u8>)> {
        let mut keys: Vec<_> = self
            .db
            .lock()
            .shredding_keys
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        keys.sort();
        keys
    }
}
