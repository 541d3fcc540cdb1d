//! Group commit: one writer task drains the queue of pending appends and hands them to the
//! store as one transaction (one fsync); the store checks stream versions, assigns positions
//! and chains hashes. Then projections are told and every waiting request is woken.
//! The same task signs checkpoints of the trail tree: at least once every
//! [`CHECKPOINT_EVERY`](super::CHECKPOINT_EVERY) while there are new events, and on demand.

use super::{
    AppendBatch, AppendError, AppendOutcome, CheckpointSigner, Foreign, LedgerStore, NewEvent,
    StoreError, StoredCheckpoint, CHECKPOINT_EVERY,
};
use crate::domain::ids::KeyId;
use std::ops::Range;
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
    reply: oneshot::Sender<Result<Range<u64>, AppendError>>,
    /// The caller's span (a request's, with its request id): the writer's lines about this
    /// append are logged in it, so they carry the id the trail and the response carry.
    span: tracing::Span,
}

type CheckpointReply = oneshot::Sender<Result<Option<StoredCheckpoint>, StoreError>>;

/// What the writer task is asked to do, in order.
enum Message {
    Append(Pending),
    /// Sign checkpoints with this from now on.
    SetSigner(Arc<dyn CheckpointSigner>),
    /// Checkpoint everything appended so far, now.
    Checkpoint(CheckpointReply),
}

/// The handle requests append through. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    queue: mpsc::Sender<Message>,
    tail: Arc<Tail>,
    metrics: Arc<WriterMetrics>,
}

/// What the writer measures of its commits (`/metrics`).
pub struct WriterMetrics {
    /// Events per committed group.
    pub batch_events: crate::metrics::Histogram,
    /// One group's `append` on the store: its transaction, and its fsync (which SQLite does
    /// inside the commit and does not report apart).
    pub commit_seconds: crate::metrics::Histogram,
    /// Groups whose commit failed (every call in them failed unaudited).
    pub append_failures: std::sync::atomic::AtomicU64,
}

impl Default for WriterMetrics {
    fn default() -> WriterMetrics {
        WriterMetrics {
            batch_events: crate::metrics::Histogram::new(crate::metrics::BATCH_BUCKETS),
            commit_seconds: crate::metrics::Histogram::new(crate::metrics::LATENCY_BUCKETS),
            append_failures: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

/// How far this node's projections are behind the log other nodes announce (always caught
/// up on a backend one node writes alone).
#[derive(Debug, Default)]
pub struct Tail {
    /// The newest head position announced by any node.
    announced: std::sync::atomic::AtomicU64,
    /// The newest position this node's projections have applied.
    applied: std::sync::atomic::AtomicU64,
    /// Since when (ms since `epoch`) the node has been behind; 0 while it is not.
    behind_since_ms: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

/// A node's tail lag: events announced but not applied, and for how long it has been behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TailLag {
    pub events: u64,
    pub seconds: f64,
}

impl Tail {
    fn now_ms(&self) -> u64 {
        // 1 + elapsed, so that 0 keeps meaning "not behind".
        1 + self
            .epoch
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64
    }

    fn update(&self, announced: Option<u64>, applied: Option<u64>) {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some(a) = announced {
            self.announced.fetch_max(a, SeqCst);
        }
        if let Some(a) = applied {
            self.applied.fetch_max(a, SeqCst);
        }
        if self.announced.load(SeqCst) > self.applied.load(SeqCst) {
            let _ = self
                .behind_since_ms
                .compare_exchange(0, self.now_ms(), SeqCst, SeqCst);
        } else {
            self.behind_since_ms.store(0, SeqCst);
        }
    }

    pub fn lag(&self) -> TailLag {
        use std::sync::atomic::Ordering::SeqCst;
        let since = self.behind_since_ms.load(SeqCst);
        TailLag {
            events: self
                .announced
                .load(SeqCst)
                .saturating_sub(self.applied.load(SeqCst)),
            seconds: if since == 0 {
                0.0
            } else {
                self.now_ms().saturating_sub(since) as f64 / 1000.0
            },
        }
    }
}

impl Ledger {
    /// Start the writer task over `store`.
    pub fn start<S: LedgerStore>(store: S, listener: Arc<dyn CommitListener>) -> Ledger {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let tail = Arc::new(Tail::default());
        let metrics = Arc::new(WriterMetrics::default());
        tokio::spawn(run(store, rx, listener, tail.clone(), metrics.clone()));
        Ledger {
            queue,
            tail,
            metrics,
        }
    }

    /// Batch sizes, commit times and failed commits.
    pub fn metrics(&self) -> &WriterMetrics {
        &self.metrics
    }

    /// How far this node is behind other nodes' appends.
    pub fn tail_lag(&self) -> TailLag {
        self.tail.lag()
    }

    /// Sign checkpoints with `signer` from now on (the note key is unsealed after the
    /// ledger opens, so it arrives later than the store).
    pub async fn set_signer(&self, signer: Arc<dyn CheckpointSigner>) -> Result<(), AppendError> {
        self.queue
            .send(Message::SetSigner(signer))
            .await
            .map_err(|_| stopped())
    }

    /// Sign and store a checkpoint of everything appended so far (at clean shutdown, and
    /// for tests); `None` when the newest checkpoint already covers it or there is no signer.
    pub async fn checkpoint_now(&self) -> Result<Option<StoredCheckpoint>, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Checkpoint(reply))
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| AppendError::Unavailable(e.to_string()))
    }

    /// Append a batch; returns its positions once it is durable.
    pub async fn append(&self, batch: AppendBatch) -> Result<Range<u64>, AppendError> {
        if batch.events.is_empty() {
            // Stores judge whether an append landed by its last event; one without events
            // (shredding keys alone) could neither be found nor audited.
            return Err(AppendError::Unavailable(
                "an append must record at least one event".into(),
            ));
        }
        if let Some(event) = batch
            .events
            .iter()
            .find(|e| e.data.len() > super::MAX_EVENT_BYTES)
        {
            return Err(AppendError::Unavailable(format!(
                "a {} event of {} bytes is over the {} a trail entry may have",
                event.event_name,
                event.data.len(),
                super::MAX_EVENT_BYTES
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Append(Pending {
                batch,
                reply,
                span: tracing::Span::current(),
            }))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Whether the writer task still runs.
    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }
}

fn stopped() -> AppendError {
    AppendError::Unavailable("the ledger writer has stopped".into())
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

/// A committed (or failed) group, waiting to be told to projections and its callers.
struct Delivery {
    pending: Vec<Pending>,
    outcome: Result<Vec<AppendOutcome>, StoreError>,
    /// What other nodes appended before this group: told first, in log order.
    foreign: Foreign,
}

/// Tell the projections what other nodes appended.
fn deliver_foreign(foreign: &Foreign, listener: &dyn CommitListener) {
    if foreign.events.is_empty() && foreign.shredding_keys.is_empty() {
        return;
    }
    let events: Vec<(u64, &NewEvent)> = foreign.events.iter().map(|(p, e)| (*p, e)).collect();
    listener.committed(&events, &foreign.shredding_keys);
}

impl Delivery {
    fn deliver(self, listener: &dyn CommitListener) {
        let Delivery {
            pending,
            outcome,
            foreign,
        } = self;
        deliver_foreign(&foreign, listener);
        match outcome {
            Ok(outcomes) => {
                let mut committed: Vec<(u64, &NewEvent)> = Vec::new();
                let mut shredding_keys: Vec<(KeyId, Vec<u8>)> = Vec::new();
                for (p, outcome) in pending.iter().zip(&outcomes) {
                    if let Ok(range) = outcome {
                        committed.extend(range.clone().zip(p.batch.events.iter()));
                        shredding_keys.extend(p.batch.shredding_keys.iter().cloned());
                    }
                }
                // Projections first: whoever is answered sees the state their call made.
                listener.committed(&committed, &shredding_keys);
                drop(committed);
                for (p, outcome) in pending.into_iter().zip(outcomes) {
                    if let Err(conflict) = &outcome {
                        p.span.in_scope(|| {
                            tracing::debug!(
                                expected = conflict.expected,
                                actual = conflict.actual,
                                "append refused: its stream moved on"
                            )
                        });
                    }
                    let _ = p.reply.send(outcome.map_err(AppendError::Conflict));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "ledger commit failed; failing {} requests", pending.len());
                for p in pending {
                    p.span.in_scope(
                        || tracing::error!(error = %e, "this request's events were not recorded"),
                    );
                    let _ = p.reply.send(Err(AppendError::Unavailable(e.to_string())));
                }
            }
        }
    }
}

/// When checkpoints are due: the signer, and whether events were appended since the last.
struct Checkpoints {
    signer: Option<Arc<dyn CheckpointSigner>>,
    /// Set while committed events are not yet in a checkpoint: when one is due.
    due: Option<tokio::time::Instant>,
}

impl Checkpoints {
    fn appended(&mut self) {
        self.due
            .get_or_insert_with(|| tokio::time::Instant::now() + CHECKPOINT_EVERY);
    }

    async fn write<S: LedgerStore>(
        &mut self,
        store: &mut S,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        let written = store.write_checkpoint(signer.as_ref()).await;
        match &written {
            Ok(_) => self.due = None,
            Err(e) => {
                tracing::error!(error = %e, "checkpoint failed; will retry");
                self.due = Some(tokio::time::Instant::now() + CHECKPOINT_EVERY);
            }
        }
        written
    }

    async fn write_if_due<S: LedgerStore>(&mut self, store: &mut S) {
        if self
            .due
            .is_some_and(|due| due <= tokio::time::Instant::now())
        {
            let _ = self.write(store).await;
        }
    }
}

/// Resolves when the backend announces a head beyond what this store has (never, for a
/// backend one node writes alone).
async fn announced(watch: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    match watch {
        Some(rx) => {
            if rx.changed().await.is_err() {
                // The announcer is gone: nothing more will come.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// The group-commit loop. Group N+1 is handed to the store before group N is delivered, so
/// telling projections and waking N's callers overlaps N+1's commit instead of delaying it.
async fn run<S: LedgerStore>(
    mut store: S,
    mut rx: mpsc::Receiver<Message>,
    listener: Arc<dyn CommitListener>,
    tail: Arc<Tail>,
    metrics: Arc<WriterMetrics>,
) {
    let mut stats = CommitStats::default();
    let mut delivering: Option<Delivery> = None;
    let mut checkpoints = Checkpoints {
        signer: None,
        due: None,
    };
    // A control message that ended the gathering of a group, handled after it commits.
    let mut control: Option<Message> = None;
    let mut foreign_appends = store.foreign_appends();
    loop {
        if let Some(message) = control.take() {
            match message {
                Message::SetSigner(signer) => {
                    checkpoints.signer = Some(signer);
                    // Whatever was appended before the key was ready is checkpointed soon.
                    checkpoints.appended();
                }
                Message::Checkpoint(reply) => {
                    let _ = reply.send(checkpoints.write(&mut store).await);
                }
                Message::Append(_) => unreachable!("appends are never held as control"),
            }
        }
        let mut pending: Vec<Pending> = Vec::new();
        let first = match rx.try_recv() {
            Ok(first) => Some(first),
            Err(_) => {
                // Nothing queued: deliver what committed, then wait for work or a due checkpoint.
                if let Some(done) = delivering.take() {
                    done.deliver(listener.as_ref());
                }
                checkpoints.write_if_due(&mut store).await;
                let due = match (checkpoints.due, &checkpoints.signer) {
                    (Some(due), Some(_)) => Some(due),
                    _ => None,
                };
                let received = tokio::select! {
                    received = rx.recv() => Some(received),
                    () = async {
                        match due {
                            Some(due) => tokio::time::sleep_until(due).await,
                            None => std::future::pending().await,
                        }
                    } => None,
                    // Another node appended: take it in while idle (busy, every append does).
                    () = announced(&mut foreign_appends) => {
                        let newest = foreign_appends.as_mut().map(|rx| *rx.borrow_and_update());
                        tail.update(newest, None);
                        if let Err(e) = store.catch_up().await {
                            tracing::error!(error = %e, "cannot read other nodes' appends; will retry");
                        }
                        let foreign = store.take_foreign();
                        if !foreign.events.is_empty() {
                            checkpoints.appended();
                        }
                        deliver_foreign(&foreign, listener.as_ref());
                        tail.update(None, Some(foreign.head));
                        continue;
                    }
                };
                match received {
                    None => continue, // a checkpoint fell due
                    Some(None) => {
                        // Every handle is gone: a last checkpoint, then stop.
                        let _ = checkpoints.write(&mut store).await;
                        return;
                    }
                    Some(Some(first)) => Some(first),
                }
            }
        };
        match first {
            Some(Message::Append(p)) => pending.push(p),
            Some(other) => {
                control = Some(other);
                continue;
            }
            None => continue,
        }
        while pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Append(next)) => pending.push(next),
                Ok(other) => {
                    control = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let batches: Vec<&AppendBatch> = pending.iter().map(|p| &p.batch).collect();
        let started = std::time::Instant::now();
        let previous = delivering.take();
        // join polls the append first: it hands the group to the store (to SQLite's thread),
        // then the previous group is delivered while this one commits.
        let timed_append = async {
            let started = std::time::Instant::now();
            let outcome = store.append(&batches).await;
            (outcome, started.elapsed())
        };
        let ((outcome, committing), ()) = futures_util::future::join(timed_append, async {
            if let Some(done) = previous {
                done.deliver(listener.as_ref());
            }
        })
        .await;
        let events: usize = batches.iter().map(|b| b.events.len()).sum();
        metrics.commit_seconds.observe_duration(committing);
        if outcome.is_ok() {
            metrics.batch_events.observe(events as f64);
        } else {
            metrics
                .append_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        drop(batches);
        let foreign = store.take_foreign();
        if let Ok(outcomes) = &outcome {
            // Applied once delivered, which happens before the next append or wait.
            let own = outcomes.iter().flatten().map(|r| r.end - 1).max();
            tail.update(None, own.max(Some(foreign.head)));
        }
        stats.record(
            pending.iter().map(|p| p.batch.events.len()).sum(),
            started.elapsed(),
        );
        if outcome.is_ok() {
            checkpoints.appended();
        }
        delivering = Some(Delivery {
            pending,
            outcome,
            foreign,
        });
        checkpoints.write_if_due(&mut store).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::memory::MemoryDatabase;
    use crate::ledger::Columns;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

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
            columns: Columns::new(
                uuid::Uuid::now_v7(),
                time::OffsetDateTime::UNIX_EPOCH,
                None,
                None,
            ),
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
    async fn concurrent_appends_get_gap_free_positions_and_the_listener_sees_log_order() {
        let db = MemoryDatabase::default();
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        let ledger = Ledger::start(db.store(), recorder.clone());
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
        assert_eq!(*recorder.0.lock().unwrap(), (1..=200).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_conflict_is_answered_to_its_append_alone() {
        let db = MemoryDatabase::default();
        let ledger = Ledger::start(db.store(), Arc::new(Recorder(Mutex::new(vec![]))));
        ledger
            .append(batch(vec![event(Some(("key/a", 1)), "a1")]))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                // Odd appends race for one stream version; even ones have no stream.
                let stream = (i % 2 == 1).then_some(("key/a", 2));
                ledger
                    .append(batch(vec![event(stream, &format!("{i}"))]))
                    .await
            }));
        }
        let mut conflicts = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(AppendError::Conflict(c)) => {
                    assert_eq!((c.expected, c.actual), (1, 2));
                    conflicts += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((ok, conflicts), (26, 24));
    }

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_writers_line_about_a_failed_append_carries_the_callers_request_id() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        // The writer task runs on this thread (current_thread), so it logs here too.
        let _guard = tracing::subscriber::set_default(subscriber);
        let db = MemoryDatabase::default();
        let ledger = Ledger::start(db.store(), Arc::new(Recorder(Mutex::new(vec![]))));
        db.fail.store(true, Ordering::SeqCst);
        let span = tracing::info_span!("request", request_id = "req-7f3a");
        let failed =
            tracing::Instrument::instrument(ledger.append(batch(vec![event(None, "x")])), span)
                .await;
        assert!(matches!(failed, Err(AppendError::Unavailable(_))));
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("this request's events were not recorded"))
            .unwrap_or_else(|| panic!("no line for the request in {log}"));
        assert!(line.contains("request_id=\"req-7f3a\""), "{line}");
    }

    #[tokio::test]
    async fn an_append_without_events_is_refused() {
        let db = MemoryDatabase::default();
        let ledger = Ledger::start(db.store(), Arc::new(Recorder(Mutex::new(vec![]))));
        let shredding_only = AppendBatch {
            shredded: vec![KeyId::from_uuid(uuid::Uuid::new_v4())],
            ..AppendBatch::default()
        };
        assert!(matches!(
            ledger.append(shredding_only).await,
            Err(AppendError::Unavailable(_))
        ));
        assert_eq!(db.reader().head().await.unwrap().position, 0);
    }

    #[tokio::test]
    async fn an_event_too_large_for_a_trail_entry_is_refused_and_nothing_lands() {
        let db = MemoryDatabase::default();
        let ledger = Ledger::start(db.store(), Arc::new(Recorder(Mutex::new(vec![]))));
        let largest = "x".repeat(crate::ledger::MAX_EVENT_BYTES);
        let too_large = format!("{largest}x");
        let refused = ledger
            .append(batch(vec![event(None, "small"), event(None, &too_large)]))
            .await;
        assert!(matches!(refused, Err(AppendError::Unavailable(_))));
        assert_eq!(db.reader().head().await.unwrap().position, 0);
        // An entry's length is a uint16: 65,535 bytes still fit.
        let data = |e: &NewEvent| e.data.len();
        let fits = event(None, "");
        let pad = crate::ledger::MAX_EVENT_BYTES - data(&fits);
        let fits = event(None, &"y".repeat(pad));
        assert_eq!(data(&fits), crate::ledger::MAX_EVENT_BYTES);
        assert_eq!(ledger.append(batch(vec![fits])).await.unwrap(), 1..2);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_waiting_append_and_the_listener_never_hears_of_it() {
        let db = MemoryDatabase::default();
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        let ledger = Ledger::start(db.store(), recorder.clone());
        ledger.append(batch(vec![event(None, "ok")])).await.unwrap();
        db.fail.store(true, Ordering::SeqCst);
        let err = ledger
            .append(batch(vec![event(None, "lost")]))
            .await
            .unwrap_err();
        assert!(matches!(err, AppendError::Unavailable(_)));
        assert_eq!(*recorder.0.lock().unwrap(), vec![1]);
        db.fail.store(false, Ordering::SeqCst);
        assert_eq!(
            ledger
                .append(batch(vec![event(None, "next")]))
                .await
                .unwrap(),
            2..3
        );
    }
}
