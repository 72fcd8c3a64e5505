//! The watchdog: the service probes itself as a new client would, and exits when it cannot
//! serve one.
//!
//! Every [`PROBE_EVERY`] a thread started with the server opens a new connection to its own
//! listener and sends `GET /health` (with `Connection: close`). Any HTTP answer passes, a 503
//! too: something accepted the connection, read the request and wrote an answer. A probe fails
//! when
//!
//! - the connection is refused: nothing listens on the port any more (the listener is gone,
//!   tiny_http's accept thread ended and dropped it). New clients cannot get in whatever else
//!   still works, so this counts as a failure even while old keep-alive connections are served;
//! - or it got no answer within [`CONNECT_WAIT`] and [`ANSWER_WAIT`] *and no other request was
//!   answered meanwhile*. A probe that waits behind busy workers (a login flood keeping them in
//!   bcrypt, slow readers) is a slow service, not a dead one, and other answers keep being
//!   written while it waits; a probe stuck in a server that answers nobody is a dead one (an
//!   accept thread that hangs, a connection pool that lost its threads).
//!
//! After [`FAILURES_TO_EXIT`] failed probes in a row the process exits with
//! [`super::fatal::EXIT_UNRESPONSIVE`], so the supervisor restarts it: about 3 s after the
//! listener goes, about 10 s after the server stops answering. Once a graceful stop has begun
//! the watchdog stops probing, so a stop never ends in its exit.
//!
//! The probes are not written to the access log (they carry the watchdog's own request id), and
//! each costs one short-lived connection a second.

use super::fatal::Fatal;
use super::workers::Outstanding;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the service probes itself.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How long a probe's connection may take to be established.
pub const CONNECT_WAIT: Duration = Duration::from_secs(1);

/// How long a probe waits for its answer once connected.
pub const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// How many failed probes in a row end the process.
pub const FAILURES_TO_EXIT: u32 = 3;

/// What one probe met.
#[derive(Debug)]
enum Probe {
    /// An HTTP answer.
    Answered,
    /// The connection was refused: nothing listens.
    Refused(io::Error),
    /// No answer in time (or the connection closed without one).
    Unanswered(String),
}

/// Failed probes in a row, and what ends the process.
#[derive(Debug, Default)]
struct Tally {
    failures: u32,
}

impl Tally {
    /// Counts one probe; `others_answered` says whether any other request was answered while it
    /// ran. Returns why the process must end, once it must.
    fn count(&mut self, probe: Probe, others_answered: bool) -> Option<Fatal> {
        let failure = match probe {
            Probe::Answered => None,
            Probe::Refused(e) => Some(format!("{FAILURES_TO_EXIT} probes refused: {e}")),
            Probe::Unanswered(_) if others_answered => None,
            Probe::Unanswered(e) => Some(format!(
                "{FAILURES_TO_EXIT} probes unanswered while nothing else was answered: {e}"
            )),
        };
        match failure {
            None => {
                self.failures = 0;
                None
            }
            Some(why) => {
                self.failures += 1;
                (self.failures >= FAILURES_TO_EXIT).then_some(Fatal::Unresponsive(why))
            }
        }
    }
}

/// The request id the probes carry, so that their answers are not logged.
fn probe_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("watchdog-{:x}-{nanos:x}", std::process::id())
    })
}

/// Whether `request_id` is the watchdog's.
pub fn is_probe(request_id: &str) -> bool {
    request_id == probe_id()
}

/// Starts the watchdog of the server listening on `local` (which answers through
/// `outstanding`); it stops once `stopping` is set.
pub fn start(
    local: SocketAddr,
    stopping: Arc<AtomicBool>,
    outstanding: Arc<Outstanding>,
    name: &'static str,
) -> io::Result<()> {
    let target = crate::stranded::self_address(local);
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: watchdog\r\nX-Request-Id: {}\r\nConnection: close\r\n\r\n",
        probe_id()
    );
    thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut tally = Tally::default();
            loop {
                thread::sleep(PROBE_EVERY);
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let answered_before = outstanding.answers();
                let probe = probe(target, request.as_bytes());
                let others_answered = outstanding.answers() > answered_before;
                if let Some(fatal) = tally.count(probe, others_answered) {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    fatal.exit(name);
                }
            }
        })?;
    Ok(())
}

/// One probe: a new connection to `target`, `request` sent, the status line awaited.
fn probe(target: SocketAddr, request: &[u8]) -> Probe {
    let mut stream = match TcpStream::connect_timeout(&target, CONNECT_WAIT) {
        Ok(stream) => stream,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Probe::Refused(e),
        Err(e) => return Probe::Unanswered(format!("connect: {e}")),
    };
    let deadline = Instant::now() + ANSWER_WAIT;
    if let Err(e) = stream
        .set_write_timeout(Some(ANSWER_WAIT))
        .and_then(|()| stream.write_all(request))
    {
        return Probe::Unanswered(format!("send: {e}"));
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        if answer.starts_with(b"HTTP/1.") && answer.len() >= 12 {
            return Probe::Answered;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Probe::Unanswered(format!("no answer within {ANSWER_WAIT:?}"));
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return Probe::Unanswered(format!("read: {e}"));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Probe::Unanswered("closed without an answer".into()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Probe::Unanswered(format!("no answer within {ANSWER_WAIT:?}"))
            }
            Err(e) => return Probe::Unanswered(format!("read: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn refused() -> Probe {
        Probe::Refused(io::Error::from(io::ErrorKind::ConnectionRefused))
    }

    #[test]
    fn exits_after_failures_in_a_row_only() {
        let mut tally = Tally::default();
        assert_eq!(tally.count(refused(), true), None);
        assert_eq!(tally.count(refused(), true), None);
        assert_eq!(tally.count(Probe::Answered, false), None, "starts again");
        assert_eq!(tally.count(refused(), false), None);
        assert_eq!(tally.count(refused(), true), None);
        let fatal = tally.count(refused(), true).expect("the third refusal");
        assert!(matches!(fatal, Fatal::Unresponsive(ref why) if why.contains("refused")));
    }

    #[test]
    fn an_unanswered_probe_fails_only_while_nothing_else_is_answered() {
        let mut tally = Tally::default();
        for _ in 0..10 {
            assert_eq!(tally.count(Probe::Unanswered("slow".into()), true), None);
        }
        assert_eq!(tally.count(Probe::Unanswered("x".into()), false), None);
        assert_eq!(tally.count(Probe::Unanswered("x".into()), false), None);
        assert!(tally.count(Probe::Unanswered("x".into()), false).is_some());
    }

    #[test]
    fn probes_tell_refused_unanswered_and_answered_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut silent, _) = listener.accept().unwrap();
            let (mut talking, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = talking.read(&mut buf);
            talking
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
                .unwrap();
            let _ = silent.read(&mut buf);
            thread::sleep(ANSWER_WAIT + Duration::from_millis(500));
        });
        let silent = thread::spawn(move || probe(addr, b"GET /health HTTP/1.1\r\n\r\n"));
        thread::sleep(Duration::from_millis(100));
        assert!(matches!(
            probe(addr, b"GET / HTTP/1.1\r\n\r\n"),
            Probe::Answered
        ));
        assert!(matches!(silent.join().unwrap(), Probe::Unanswered(_)));
        server.join().unwrap();
        assert!(matches!(probe(addr, b"x"), Probe::Refused(_)));
    }

    #[test]
    fn only_the_watchdogs_own_id_is_a_probe() {
        assert!(is_probe(probe_id()));
        assert!(!is_probe("watchdog-1-2"));
    }
}
