//! The access log: one line on stdout per request, and the service's own log lines in order
//! with them.
//!
//! A `write` to stdout per request costs as much as answering `/health`, so workers append their
//! line to a buffer and the log writer thread writes everything buffered in one `write`, a
//! millisecond after the first line of a batch arrives: a busy server makes one system call per
//! millisecond, an idle one still logs each request within about a millisecond. [`log_line`] and
//! the end of the server flush the buffer first, so the order of the lines is kept.

use crate::clock::{now_micros, write_timestamp};
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::thread;
use std::time::Duration;

/// Access-log lines not yet written to stdout.
static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Signalled when [`BUFFER`] gets its first line of a batch.
static READY: Condvar = Condvar::new();
/// Past this many buffered bytes, the worker that appends writes the buffer out itself.
const MAX_BUFFERED_BYTES: usize = 64 * 1024;
/// How long the log writer lets lines gather before writing them.
const DELAY: Duration = Duration::from_millis(1);

fn buffer() -> MutexGuard<'static, Vec<u8>> {
    BUFFER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Queues one access-log line: the current time followed by `line`.
pub(crate) fn record(line: std::fmt::Arguments<'_>) {
    let mut text = Vec::with_capacity(160);
    write_timestamp(now_micros(), &mut text);
    let _ = text.write_fmt(line);
    text.push(b'\n');
    let mut buffer = buffer();
    if buffer.is_empty() {
        READY.notify_one();
    }
    buffer.extend_from_slice(&text);
    let full = buffer.len() >= MAX_BUFFERED_BYTES;
    drop(buffer);
    if full {
        flush();
    }
}

/// Starts the thread that writes the buffered lines (once per process).
pub(crate) fn start_writer() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let _ = thread::Builder::new()
            .name("access-log".into())
            .spawn(|| loop {
                let mut pending = buffer();
                while pending.is_empty() {
                    pending = READY
                        .wait(pending)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                drop(pending);
                thread::sleep(DELAY);
                flush();
            });
    });
}

/// Writes every buffered access-log line to stdout now.
pub fn flush() {
    let mut out = io::stdout().lock();
    let pending = std::mem::take(&mut *buffer());
    if !pending.is_empty() {
        let _ = out.write_all(&pending);
        let _ = out.flush();
    }
}

/// Writes one line to stdout, after the access-log lines queued before it; a closed stdout is
/// ignored rather than fatal.
pub fn log_line(line: &str) {
    flush();
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Makes client-controlled text safe for a log line: escapes non-printables, caps the length.
pub(crate) fn printable(text: &str) -> String {
    // What `char::escape_default` leaves alone; the usual path is all of it.
    let plain = |b: u8| (b' '..=b'~').contains(&b) && !matches!(b, b'\\' | b'\'' | b'"');
    if text.len() <= 256 && text.bytes().all(plain) {
        return text.to_owned();
    }
    let mut out: String = text
        .chars()
        .take(256)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 256 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_is_escaped_and_capped() {
        assert_eq!(printable("/a\nb"), "/a\\nb");
        assert_eq!(printable("/a'b\"c\\d"), "/a\\'b\\\"c\\\\d");
        assert_eq!(printable("/attendance/evt-1?x=1"), "/attendance/evt-1?x=1");
        assert!(printable(&"x".repeat(1000)).len() < 300);
    }
}
