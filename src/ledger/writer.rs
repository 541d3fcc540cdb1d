//! Group commit: one writer task drains the queue of pending appends, checks
//! stream versions, chains hashes, writes the whole batch in one transaction
//! (one fsync), then tells projections and wakes every waiting request.

use super::{AppendBatch, AppendError, Heads, LedgerStore, NewEvent, Row};
use crate::domain::ids::KeyId;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Appends waiting in the queue at most; callers beyond it wait for room.
const QUEUE_CAPACITY: usize = 16 * 1024;
/// Appends in one transaction at most.
const MAX_BATCH: usize = 1024;

/// Told about every committed batch, in log order, before any waiting request is answered.
pub trait CommitListener: Send + Sync + 'static {
    fn committed(&self, events: &[(u64, &NewEvent)], shredding_keys: &[(KeyId, Vec<u8>)]);
}

struct Pending {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<Vec<u64>, AppendError>>,
}

/// The handle requests append through. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    queue: mpsc::Sender<Pending>,
}

impl Ledger {
    /// Start the writer task over `store`, which stands at `heads`.
    pub fn start<S: LedgerStore>(
        store: S,
        heads: Heads,
        listener: Arc<dyn CommitListener>,
    ) -> Ledger {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(store, heads, rx, listener));
        Ledger { queue }
    }

    /// Append a batch; returns its positions once it is durable.
    pub async fn append(&self, batch: AppendBatch) -> Result<Vec<u64>, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { batch, reply })
            .await
            .map_err(|_| AppendError::Unavailable("the ledger writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppendError::Unavailable("the ledger writer has stopped".into()))?
    }
}

/// Check a batch's stream versions against `heads` and the batch's own earlier events.
fn check_streams(
    batch: &AppendBatch,
    committed: &HashMap<String, u64>,
    tentative: &mut HashMap<String, u64>,
) -> Result<(), AppendError> {
    let mut local: HashMap<&str, u64> = HashMap::new();
    for event in &batch.events {
        if let Some((stream, version)) = &event.stream {
            let actual = local
                .get(stream.as_str())
                .or_else(|| tentative.get(stream))
                .or_else(|| committed.get(stream))
                .copied()
                .unwrap_or(0);
            let expected = version.saturating_sub(1);
            if actual != expected {
                return Err(AppendError::Conflict {
                    stream: stream.clone(),
                    expected,
                    actual,
                });
            }
            local.insert(stream, *version);
        }
    }
    for (stream, version) in local {
        tentative.insert(stream.to_owned(), version);
    }
    Ok(())
}

/// Batch sizes and commit times, logged at debug level every few seconds.
#[derive(Default)]
struct CommitStats {
    commits: u64,
    events: u64,
    busy: std::time::Duration,
    since: Option<std::time::Instant>,
}

impl CommitStats {
    fn record(&mut self, events: usize, took: std::time::Duration) {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.commits += 1;
        self.events += events as u64;
        self.busy += took;
        if since.elapsed() >= std::time::Duration::from_secs(5) {
            tracing::debug!(
                commits = self.commits,
                events_per_commit = self.events as f64 / self.commits as f64,
                mean_commit_us = self.busy.as_micros() as u64 / self.commits,
                "ledger writer"
            );
            *self = CommitStats::default();
        }
    }
}

async fn run<S: LedgerStore>(
    mut store: S,
    mut heads: Heads,
    mut rx: mpsc::Receiver<Pending>,
    listener: Arc<dyn CommitListener>,
) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut stats = CommitStats::default();
    while let Some(first) = rx.recv().await {
        pending.push(first);
        while pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => pending.push(next),
                Err(_) => break,
            }
        }

        // Decide which appends go in: a conflicting one is answered now, the rest wait.
        let mut tentative = HashMap::new();
        let mut accepted = Vec::with_capacity(pending.len());
        for p in pending.drain(..) {
            match check_streams(&p.batch, &heads.streams, &mut tentative) {
                Ok(()) => accepted.push(p),
                Err(conflict) => {
                    let _ = p.reply.send(Err(conflict));
                }
            }
        }
        if accepted.is_empty() {
            continue;
        }

        // Chain the accepted events.
        let mut rows = Vec::new();
        let mut shredding_keys = Vec::new();
        let mut shredded = Vec::new();
        let mut position = heads.position;
        let mut hash = heads.hash;
        for p in &accepted {
            for event in &p.batch.events {
                position += 1;
                hash = replay::chain_hash(&hash, position, &event.data);
                rows.push(Row {
                    position,
                    stream: event.stream.as_ref().map(|(s, _)| s.as_str()),
                    stream_version: event.stream.as_ref().map(|(_, v)| *v),
                    event_name: &event.event_name,
                    data: &event.data,
                    hash,
                });
            }
            shredding_keys.extend(p.batch.shredding_keys.iter().cloned());
            shredded.extend(p.batch.shredded.iter().copied());
        }

        let started = std::time::Instant::now();
        let mut outcome = store.commit(&rows, &shredding_keys, &shredded).await;
        stats.record(rows.len(), started.elapsed());
        if let Err(e) = &outcome {
            // A failure reported at COMMIT may still have landed: believe the store, not the
            // error. If the store now ends exactly where this batch would, it committed.
            match store.heads().await {
                Ok(fresh) if fresh.position == position && fresh.hash == hash => {
                    tracing::warn!(error = %e, "commit reported a failure but landed; treating it as committed");
                    outcome = Ok(());
                }
                Ok(fresh) if fresh.position == heads.position && fresh.hash == heads.hash => {}
                Ok(fresh) => {
                    // Neither before nor after this batch: memory cannot be trusted any more.
                    tracing::error!(
                        expected = position,
                        found = fresh.position,
                        "ledger head moved unexpectedly; stopping the writer"
                    );
                    for p in accepted {
                        let _ = p.reply.send(Err(AppendError::Unavailable(
                            "the ledger changed underneath the writer".into(),
                        )));
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot re-read ledger heads after a failed commit")
                }
            }
        }
        match outcome {
            Ok(()) => {
                drop(rows);
                let first_position = heads.position + 1;
                heads.position = position;
                heads.hash = hash;
                heads.streams.extend(tentative);
                let committed: Vec<(u64, &NewEvent)> = (first_position..)
                    .zip(accepted.iter().flat_map(|p| p.batch.events.iter()))
                    .collect();
                listener.committed(&committed, &shredding_keys);
                drop(committed);
                let mut next_position = first_position;
                for p in accepted {
                    let n = p.batch.events.len() as u64;
                    let _ = p
                        .reply
                        .send(Ok((next_position..next_position + n).collect()));
                    next_position += n;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "ledger commit failed; failing {} requests", accepted.len());
                drop(rows);
                for p in accepted {
                    let _ = p.reply.send(Err(AppendError::Unavailable(e.to_string())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::StoreError;
    use std::sync::Mutex;

    /// An in-memory store that can be told to fail.
    #[derive(Default, Clone)]
    struct MemoryStore {
        rows: Arc<Mutex<Vec<(u64, Option<String>, Option<u64>, Vec<u8>, [u8; 32])>>>,
        fail: Arc<std::sync::atomic::AtomicBool>,
        /// Write the rows, then report a failure (an fsync error after the data landed).
        land_then_fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl LedgerStore for MemoryStore {
        async fn heads(&mut self) -> Result<Heads, StoreError> {
            let rows = self.rows.lock().unwrap();
            let mut heads = Heads::default();
            for (position, stream, version, _, hash) in rows.iter() {
                heads.position = *position;
                heads.hash = *hash;
                if let (Some(s), Some(v)) = (stream, version) {
                    heads.streams.insert(s.clone(), *v);
                }
            }
            Ok(heads)
        }
        async fn commit(
            &mut self,
            rows: &[Row<'_>],
            _: &[(KeyId, Vec<u8>)],
            _: &[KeyId],
        ) -> Result<(), StoreError> {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Storage("disk on fire".into()));
            }
            let mut stored = self.rows.lock().unwrap();
            let land_then_fail = self
                .land_then_fail
                .load(std::sync::atomic::Ordering::SeqCst);
            for r in rows {
                stored.push((
                    r.position,
                    r.stream.map(str::to_owned),
                    r.stream_version,
                    r.data.to_vec(),
                    r.hash,
                ));
            }
            if land_then_fail {
                return Err(StoreError::Storage(
                    "fsync reported EIO after the write".into(),
                ));
            }
            Ok(())
        }
    }

    struct Recorder(Mutex<Vec<u64>>);
    impl CommitListener for Recorder {
        fn committed(&self, events: &[(u64, &NewEvent)], _: &[(KeyId, Vec<u8>)]) {
            self.0
                .lock()
                .unwrap()
                .extend(events.iter().map(|(p, _)| *p));
        }
    }

    fn event(stream: Option<(&str, u64)>, data: &str) -> NewEvent {
        NewEvent {
            stream: stream.map(|(s, v)| (s.to_owned(), v)),
            event_name: "Test".into(),
            data: data.as_bytes().to_vec(),
            lifecycle: None,
        }
    }

    fn batch(events: Vec<NewEvent>) -> AppendBatch {
        AppendBatch {
            events,
            ..AppendBatch::default()
        }
    }

    #[tokio::test]
    async fn concurrent_appends_get_gap_free_positions_and_an_intact_chain() {
        let store = MemoryStore::default();
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        let ledger = Ledger::start(store.clone(), Heads::default(), recorder.clone());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                ledger
                    .append(batch(vec![event(None, &format!("{i}"))]))
                    .await
            }));
        }
        let mut positions: Vec<u64> = Vec::new();
        for t in tasks {
            positions.extend(t.await.unwrap().unwrap());
        }
        positions.sort();
        assert_eq!(positions, (1..=200).collect::<Vec<_>>());
        assert_eq!(
            *recorder.0.lock().unwrap(),
            (1..=200).collect::<Vec<_>>(),
            "listener sees log order"
        );
        let rows = store.rows.lock().unwrap();
        let mut prev = replay::GENESIS_HASH;
        for (position, _, _, data, hash) in rows.iter() {
            assert_eq!(*hash, replay::chain_hash(&prev, *position, data));
            prev = *hash;
        }
    }

    #[tokio::test]
    async fn a_stale_stream_version_conflicts_with_expected_and_actual() {
        let ledger = Ledger::start(
            MemoryStore::default(),
            Heads::default(),
            Arc::new(Recorder(Mutex::new(vec![]))),
        );
        ledger
            .append(batch(vec![event(Some(("key/a", 1)), "a1")]))
            .await
            .unwrap();
        ledger
            .append(batch(vec![event(Some(("key/a", 2)), "a2")]))
            .await
            .unwrap();
        let err = ledger
            .append(batch(vec![event(Some(("key/a", 2)), "again")]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            AppendError::Conflict {
                stream: "key/a".into(),
                expected: 1,
                actual: 2
            }
        );
        // Two events of one batch on one stream must be consecutive.
        let err = ledger
            .append(batch(vec![
                event(Some(("key/b", 1)), "b1"),
                event(Some(("key/b", 3)), "b3"),
            ]))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            AppendError::Conflict {
                expected: 2,
                actual: 1,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn racing_appends_to_one_stream_version_admit_exactly_one() {
        let store = MemoryStore::default();
        let ledger = Ledger::start(
            store.clone(),
            Heads::default(),
            Arc::new(Recorder(Mutex::new(vec![]))),
        );
        let mut tasks = Vec::new();
        for i in 0..50 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                ledger
                    .append(batch(vec![event(Some(("key/x", 1)), &format!("{i}"))]))
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(store.rows.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_commit_that_reports_failure_but_landed_counts_as_committed() {
        let store = MemoryStore::default();
        store
            .land_then_fail
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        let ledger = Ledger::start(store.clone(), Heads::default(), recorder.clone());
        assert_eq!(
            ledger
                .append(batch(vec![event(Some(("key/a", 1)), "a1")]))
                .await
                .unwrap(),
            vec![1]
        );
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![1],
            "projections hear of it"
        );
        store
            .land_then_fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        // The stream version moved on in memory too: version 2 is next, not a conflict.
        ledger
            .append(batch(vec![event(Some(("key/a", 2)), "a2")]))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_waiting_append_and_records_nothing() {
        let store = MemoryStore::default();
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        let ledger = Ledger::start(store.clone(), Heads::default(), recorder.clone());
        ledger.append(batch(vec![event(None, "ok")])).await.unwrap();
        store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = ledger
            .append(batch(vec![event(None, "lost")]))
            .await
            .unwrap_err();
        assert!(matches!(err, AppendError::Unavailable(_)));
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![1],
            "the listener never hears of a failed batch"
        );
        store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            ledger
                .append(batch(vec![event(None, "next")]))
                .await
                .unwrap(),
            vec![2]
        );
    }
}
