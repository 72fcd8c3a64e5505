//! The tiny_http server that runs an [`App`]: the listener, the request workers, the writer
//! threads, the watchdog, the stop.
//!
//! A fixed pool of request workers calls tiny_http's `recv()`; each request is answered by the
//! [`App`] and written back on the worker, or, for an answer that comes later (a check-in), by
//! the thread that sends it (see `workers`, also for the requests whose body is still on the
//! wire). A big answer is written by one of a few writer threads instead, so that slow readers
//! hold writers, never workers (`writers`), and holds its bytes of a process-wide budget while in
//! flight (`budget`). A request body is read under its route's limit; one larger than 64 KiB
//! only after its token passes and while it holds its bytes of another such budget (`reading`). A handler that waits, for a bcrypt turn or an undo's sync, simply holds its
//! worker.
//!
//! When the service can no longer accept or serve, the process exits non-zero so that its
//! supervisor restarts it (`fatal`): tiny_http's accept loop ended on an error
//! ([`EXIT_ACCEPT_LOOP_DIED`]), one of tiny_http's threads panicked, as when a thread cannot be
//! spawned under a pids limit ([`EXIT_SERVER_THREAD_PANICKED`]), or the watchdog's probes of the
//! listener failed ([`EXIT_UNRESPONSIVE`], see `watchdog`). SIGTERM and SIGINT stop the workers
//! after the requests already received are answered (the writers get a few seconds to finish
//! theirs); requests that arrive after that are answered 503 until the process exits.

pub(crate) mod budget;
mod fatal;
mod listener;
mod reading;
mod watchdog;
mod workers;
mod writers;

use crate::access_log::{self, log_line};
use crate::app::{App, Service};
use crate::http::Response;
use crate::stranded;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use workers::{AnswerWriters, BodyThreads, Outstanding};

pub use budget::{
    hold_answer_bytes, HeldBytes, OverBudget, BIG_ANSWER_BUDGET, BIG_ANSWER_BYTES,
    LARGE_BODY_BUDGET,
};
pub use fatal::{EXIT_ACCEPT_LOOP_DIED, EXIT_SERVER_THREAD_PANICKED, EXIT_UNRESPONSIVE};
pub use listener::WRITE_TIMEOUT;
use writers::{WRITER_QUEUE, WRITER_THREADS};

/// How long a graceful stop waits for the writer threads to finish the big answers they have.
const DRAIN_WRITERS: Duration = Duration::from_secs(5);

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Request worker threads.
    pub workers: usize,
    /// How many requests whose body is still on the wire may be answered at once, each on a
    /// thread of its own; more are answered 503.
    pub body_threads: usize,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// The address could not be bound.
    Bind(SocketAddr, io::Error),
    /// tiny_http, a thread or the signal handler could not be set up.
    Setup(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServerError::Setup(e) => write!(f, "cannot start the server: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Turns an I/O error while setting up `what` into a [`ServerError::Setup`].
fn setup(what: &'static str) -> impl Fn(io::Error) -> ServerError {
    move |e| ServerError::Setup(format!("{what}: {e}"))
}

/// Serves `app` until SIGTERM or SIGINT; returns once every received request is answered.
///
/// Prints `<name> listening on <addr>` on stdout once ready (with the real port when asked for
/// port 0).
pub fn serve<S: Service>(app: Arc<App<S>>, options: &ServerOptions) -> Result<(), ServerError> {
    fatal::exit_on_server_thread_panics(S::NAME);
    let listener = listener::bind(options.bind).map_err(|e| ServerError::Bind(options.bind, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServerError::Bind(options.bind, e))?;
    let server = Arc::new(
        tiny_http::Server::from_listener(listener, None)
            .map_err(|e| ServerError::Setup(e.to_string()))?,
    );
    let stopping = Arc::new(AtomicBool::new(false));
    listener::watch_signals(Arc::clone(&server), Arc::clone(&stopping), options.workers)
        .map_err(setup("cannot install signal handlers"))?;
    stranded::watch(local, Arc::clone(&stopping), S::NAME);
    let outstanding = Arc::new(Outstanding::default());
    let writers: Arc<AnswerWriters> =
        writers::Writers::start(WRITER_THREADS, WRITER_QUEUE, workers::write_big::<S>)
            .map_err(setup("cannot start the answer writers"))?;
    let body_threads = Arc::new(BodyThreads::new(
        &app,
        &outstanding,
        &writers,
        options.body_threads,
    ));
    watchdog::start(
        local,
        Arc::clone(&stopping),
        Arc::clone(&outstanding),
        S::NAME,
    )
    .map_err(setup("cannot start the watchdog"))?;
    access_log::start_writer();

    let mut threads = Vec::with_capacity(options.workers);
    for _ in 0..options.workers {
        let server = Arc::clone(&server);
        let stopping = Arc::clone(&stopping);
        let app = Arc::clone(&app);
        let body_threads = Arc::clone(&body_threads);
        let outstanding = Arc::clone(&outstanding);
        let writers = Arc::clone(&writers);
        let spawned = thread::Builder::new()
            .name("request-worker".into())
            .spawn(move || loop {
                match outstanding.receive(&server) {
                    Ok(request) => {
                        workers::work(&app, &outstanding, &writers, request, &body_threads);
                    }
                    Err(_) if stopping.load(Ordering::SeqCst) => break,
                    Err(e) => fatal::Fatal::AcceptLoopDied(e.to_string()).exit(S::NAME),
                }
            });
        threads.push(spawned.map_err(setup("cannot start the request workers"))?);
    }
    // Only now, with every thread of the server running: a client that starts once it reads
    // this line (a supervisor, a test flooding connections) never races the start for threads.
    log_line(&format!("{}: listening on {local}", S::NAME));
    for thread in threads {
        let _ = thread.join();
    }
    answer_late_requests(server, Arc::clone(&app), Arc::clone(&outstanding));
    if !writers.drain(DRAIN_WRITERS) {
        log_line(&format!(
            "{}: stopping with big answers still being written (cut off after {} s)",
            S::NAME,
            DRAIN_WRITERS.as_secs()
        ));
    }
    access_log::flush();
    Ok(())
}

/// After the request workers have stopped, answers every request that still arrives with 503
/// (`Retry-After: 1`), on one thread, until the process exits.
///
/// tiny_http keeps reading requests from open connections into its queue; one that is dropped
/// unanswered (when the last of its connection threads lets the queue go) gets a bare 500 from
/// tiny_http. Keeping the server alive here means no request is dropped: it is answered, or
/// still queued when the process exits.
fn answer_late_requests<S: Service>(
    server: Arc<tiny_http::Server>,
    app: Arc<App<S>>,
    outstanding: Arc<Outstanding>,
) {
    let spawned = thread::Builder::new()
        .name("late-requests".into())
        .spawn(move || {
            while let Ok(request) = outstanding.receive(&server) {
                let busy =
                    Response::unavailable("The service is shutting down; please retry shortly", 1);
                workers::refuse(&app, &outstanding, request, busy);
            }
        });
    if let Err(e) = spawned {
        eprintln!("cannot start the thread that answers late requests: {e}");
    }
}
