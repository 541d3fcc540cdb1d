//! Log lines to stderr through one buffer, written by one thread a batch at a time.
//!
//! Every answered request logs a line. Written straight to stderr, each line is a `write`
//! system call under stderr's lock on the worker that answered: 6–10 µs of the ~100 µs of
//! server CPU an Encrypt takes (`keyledger-bench --workload encrypt`, 64 connections, on 2
//! cores). Here a line is copied into a shared buffer, and a writer thread hands the
//! buffer to stderr when its oldest line has waited [`FLUSH_EVERY`] or it holds
//! [`FLUSH_AT`] bytes (it sleeps while the buffer is empty). The [`Flusher`] that `start`
//! returns writes what is left when it is dropped or asked to (before the process ends); a
//! process killed outright loses at most the last [`FLUSH_EVERY`] of lines, never the
//! trail's records (the ledger commits those before any answer).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this full is written at once.
pub const FLUSH_AT: usize = 64 * 1024;

type Sink = Box<dyn Write + Send>;

struct Shared {
    lines: Mutex<Vec<u8>>,
    /// Wakes the writer thread: for the first line in an empty buffer, and for a full one.
    wake: Condvar,
    /// stderr, but for the tests. Its lock keeps two batches in order.
    sink: Mutex<Sink>,
}

impl Shared {
    /// Write out what the buffer holds.
    fn flush(&self) {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        write_out(sink, lines);
    }

    /// [`Shared::flush`], unless a lock it needs is held (a panic while writing a line
    /// must not wait for itself).
    fn flush_unless_held(&self) {
        if let (Ok(sink), Ok(lines)) = (self.sink.try_lock(), self.lines.try_lock()) {
            write_out(sink, lines);
        }
    }
}

/// Hand the buffered lines to the sink; writers may fill the buffer again meanwhile.
fn write_out(mut sink: MutexGuard<'_, Sink>, mut lines: MutexGuard<'_, Vec<u8>>) {
    let batch = std::mem::take(&mut *lines);
    drop(lines);
    if !batch.is_empty() {
        // Nowhere to report a failure to write the logs.
        let _ = sink.write_all(&batch);
        let _ = sink.flush();
    }
}

/// Writes out the lines still buffered when dropped (or on [`Flusher::flush`]).
pub struct Flusher(Arc<Shared>);

impl Flusher {
    pub fn flush(&self) {
        self.0.flush();
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// The writer for the subscriber and its flusher; a thread writes the batches. Without
/// that thread (it could not be started), each line goes to stderr as it comes.
pub fn start() -> (BufferedStderr, Flusher) {
    let (make, flusher) = start_with(Box::new(std::io::stderr()));
    // A panic's message goes to stderr directly: the lines that led to it go first.
    let shared = Arc::clone(&flusher.0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        shared.flush_unless_held();
        previous(info)
    }));
    (make, flusher)
}

fn start_with(sink: Sink) -> (BufferedStderr, Flusher) {
    let shared = Arc::new(Shared {
        lines: Mutex::default(),
        wake: Condvar::new(),
        sink: Mutex::new(sink),
    });
    let writer = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || loop {
            {
                let mut lines = writer.lines.lock().unwrap_or_else(|e| e.into_inner());
                // Asleep while there is nothing to write (an idle server does not wake).
                while lines.is_empty() {
                    lines = writer.wake.wait(lines).unwrap_or_else(|e| e.into_inner());
                }
                // Then the first line waits FLUSH_EVERY at most, less if the buffer fills.
                let _ = writer
                    .wake
                    .wait_timeout_while(lines, FLUSH_EVERY, |lines| lines.len() < FLUSH_AT)
                    .unwrap_or_else(|e| e.into_inner());
            }
            writer.flush();
        });
    let buffered = spawned.is_ok();
    (
        BufferedStderr {
            shared: Arc::clone(&shared),
            buffered,
        },
        Flusher(shared),
    )
}

/// The `MakeWriter` of the subscriber.
#[derive(Clone)]
pub struct BufferedStderr {
    shared: Arc<Shared>,
    buffered: bool,
}

/// Where one event's line goes. The formatter hands it the whole line in one `write_all`
/// (it formats into its own buffer first), so lines never interleave.
pub struct Line<'a>(&'a BufferedStderr);

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let make = self.0;
        if !make.buffered {
            let mut sink = make.shared.sink.lock().unwrap_or_else(|e| e.into_inner());
            return sink.write(bytes);
        }
        let mut lines = make.shared.lines.lock().unwrap_or_else(|e| e.into_inner());
        let first = lines.is_empty();
        lines.extend_from_slice(bytes);
        if first || lines.len() >= FLUSH_AT {
            make.shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt::MakeWriter as _;

    /// A sink the test can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn every_line_reaches_the_sink_in_order_by_the_flusher_or_the_thread() {
        let captured = Captured::default();
        let (make, flusher) = start_with(Box::new(captured.clone()));
        let mut expected = String::new();
        for i in 0..100 {
            let line = format!("line {i}\n");
            make.make_writer().write_all(line.as_bytes()).unwrap();
            expected.push_str(&line);
        }
        flusher.flush();
        assert_eq!(captured.text(), expected);

        // Without a flush, the thread writes them within FLUSH_EVERY (allow a loaded machine).
        make.make_writer().write_all(b"later\n").unwrap();
        expected.push_str("later\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while captured.text() != expected && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(captured.text(), expected);

        // What is left when the flusher is dropped is written then.
        make.make_writer().write_all(b"last\n").unwrap();
        expected.push_str("last\n");
        drop(flusher);
        assert_eq!(captured.text(), expected);
    }

    #[test]
    fn the_panic_flush_skips_a_held_buffer_instead_of_waiting_for_it() {
        let captured = Captured::default();
        let (make, flusher) = start_with(Box::new(captured.clone()));
        let held = make.shared.lines.lock().unwrap();
        // A panic raised while this thread holds the buffer: returns, writes nothing.
        make.shared.flush_unless_held();
        drop(held);
        make.make_writer().write_all(b"before the panic\n").unwrap();
        make.shared.flush_unless_held();
        assert_eq!(captured.text(), "before the panic\n");
        drop(flusher);
    }
}
