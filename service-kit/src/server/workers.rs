//! The request workers, the body readers, and the answers given after a stop.
//!
//! A request worker takes the next request from tiny_http's queue, has the [`App`] answer it,
//! writes the answer and logs it; a handler that waits (for a bcrypt turn, an undo's sync) holds
//! its worker meanwhile. A check-in is answered later, by the journal's sync thread, which
//! writes the answer itself while the worker goes on to the next request (see [`Outstanding`]
//! for when it cannot). A big answer (over [`BIG_ANSWER_BYTES`]) is handed to the writer threads
//! (see `writers`) holding its bytes of the big-answer budget (see `budget`); when neither has
//! room, the worker answers 503 instead.
//!
//! A request whose body is still on the wire is answered on a thread of its own instead (see
//! [`body_is_buffered`]), so a client that never finishes its body holds that thread (as it
//! already holds its connection's thread in tiny_http), never a request worker. There are at
//! most a bounded number of such threads at once; past that the worker answers 503. Dropping a
//! tiny_http request with its body unread still reads the rest of the body (to keep the
//! connection in step), so even that 503 waits for the client to finish sending or to close:
//! the edge buffers request bodies before it forwards them, so only a client on the LAN talking
//! to a service's port directly, with more unfinished bodies open than the bound, can hold a
//! worker this way, one per connection.

use super::budget::{hold_answer_bytes, Held, BIG_ANSWER_BYTES, BIG_ANSWER_WAIT};
use super::reading::{self, body_is_buffered};
use super::watchdog;
use super::writers::Writers;
use crate::access_log::{self, printable};
use crate::app::{App, Service};
use crate::http::Response;
use crate::later::Answer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

/// A big answer on its way to a writer thread.
pub struct BigAnswer {
    request: tiny_http::Request,
    answer: Response,
    started: Instant,
    outstanding: Arc<Outstanding>,
}

/// The writer threads of a server, with the answers they write.
pub type AnswerWriters = Writers<BigAnswer>;

/// Writes a big answer (the writer threads' job) for service `S`.
pub fn write_big<S: Service>(big: BigAnswer) {
    respond::<S>(big.request, big.answer, big.started, &big.outstanding);
}

/// The 503 for a big answer that neither the budget nor the writers have room for.
fn too_busy_for_big_answers() -> Response {
    Response::unavailable(
        "Too many large answers are being sent right now; please retry shortly",
        2,
    )
}

/// Reads, answers, writes and logs one request.
///
/// The body is read under its route's limit ([`App::body_limit`]); one that may be larger
/// than [`crate::MAX_BODY_BYTES`] only after its token and role pass ([`App::check_access`])
/// and while it holds its bytes of the large-body budget, given back once the app has
/// answered (see `reading::body`).
///
/// An answer that comes later ([`Answer::Later`], a check-in once its journal line is durable)
/// is written by the thread that sends it when the request is its connection's only outstanding
/// one; otherwise this worker waits for it and writes it itself (see [`Outstanding`]).
pub fn exchange<S: Service>(
    app: &App<S>,
    outstanding: &Arc<Outstanding>,
    writers: &AnswerWriters,
    mut request: tiny_http::Request,
) {
    let started = Instant::now();
    let limit = app.body_limit(request.method().as_str(), request.url());
    let (body, held) = match reading::body(&mut request, limit, |request| {
        app.check_access(
            request.method().as_str(),
            request.url(),
            reading::headers(request),
        )
    }) {
        Ok(read) => (Ok(read.bytes), read.held),
        Err(refused) => (Err(refused), None),
    };
    let answer = app.answer_deferred(
        request.remote_addr().map(|addr| addr.ip()),
        request.method().as_str(),
        request.url(),
        reading::headers(&request),
        body,
    );
    // The app has dropped the body by now (a later answer keeps none of it).
    drop(held);
    let client = request.remote_addr().copied();
    match answer {
        Answer::Now(response)
            if response.body.len() > BIG_ANSWER_BYTES && outstanding.alone(client) =>
        {
            hand_over(app, outstanding, writers, request, response, started);
        }
        Answer::Now(response) => respond::<S>(request, response, started, outstanding),
        Answer::Later(later) if outstanding.alone(client) => {
            let outstanding = Arc::clone(outstanding);
            later.on_answer(move |response| respond::<S>(request, response, started, &outstanding));
        }
        Answer::Later(later) => respond::<S>(request, later.wait(), started, outstanding),
    }
}

/// Hands a big answer to the writer threads, holding its bytes of the budget (unless the handler
/// already holds them, or all but a few are shared bytes that hold their own); answers 503 instead when the budget or the writers have no room.
fn hand_over<S: Service>(
    app: &App<S>,
    outstanding: &Arc<Outstanding>,
    writers: &AnswerWriters,
    request: tiny_http::Request,
    mut answer: Response,
    started: Instant,
) {
    let unheld = answer.body.unheld_len();
    if !answer.held.is_holding() && unheld > BIG_ANSWER_BYTES {
        match hold_answer_bytes(unheld) {
            Ok(held) => answer.held = Held::of(held),
            Err(_) => return refuse(app, outstanding, request, too_busy_for_big_answers()),
        }
    }
    let big = BigAnswer {
        request,
        answer,
        started,
        outstanding: Arc::clone(outstanding),
    };
    if let Err(big) = writers.offer(big, BIG_ANSWER_WAIT) {
        drop(big.answer);
        refuse(app, outstanding, big.request, too_busy_for_big_answers());
    }
}

/// Answers `request` with `answer` (a refusal decided before the app, such as a 503 during a
/// stop) through the app, so it carries the same headers as every other answer.
pub fn refuse<S: Service>(
    app: &App<S>,
    outstanding: &Outstanding,
    request: tiny_http::Request,
    answer: Response,
) {
    let started = Instant::now();
    let answer = app.answer(
        request.method().as_str(),
        request.url(),
        reading::headers(&request),
        Err(answer),
    );
    respond::<S>(request, answer, started, outstanding);
}

/// Writes `answer`, counts it as answered and logs the exchange.
fn respond<S: Service>(
    request: tiny_http::Request,
    answer: Response,
    started: Instant,
    outstanding: &Outstanding,
) {
    let client = request.remote_addr().copied();
    let method = request.method().clone();
    let url = request.url();
    let path = printable(url.split('?').next().unwrap_or(url));
    let status = answer.status;
    let request_id = answer.header("X-Request-Id").unwrap_or("").to_owned();
    let length = answer.body.len();
    let mut out = tiny_http::Response::new(
        status.into(),
        Vec::new(),
        answer.body.into_reader(),
        Some(length),
        None,
    )
    .with_chunked_threshold(usize::MAX);
    // Headers go straight to tiny_http, without an intermediate owned copy of each.
    let mut add = |name: &str, value: &str| {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    };
    add("Content-Type", answer.content_type);
    for (name, value) in &answer.headers {
        add(name, value);
    }
    // tiny_http reads and drops an unread body when the request is dropped; for an absurd
    // `Content-Length` that panics (capacity overflow). Keep this thread alive if it does.
    let _ = catch_unwind(AssertUnwindSafe(|| request.respond(out)));
    drop(answer.held);
    outstanding.answered(client);
    if watchdog::is_probe(&request_id) {
        return;
    }
    let micros = started.elapsed().as_micros();
    access_log::record(format_args!(
        " {} {} {path} {status} {}.{:03}ms rid={request_id}",
        S::NAME,
        method.as_str(),
        micros / 1000,
        micros % 1000,
    ));
}

/// Takes the next request and says which way it goes.
pub fn work<S: Service>(
    app: &App<S>,
    outstanding: &Arc<Outstanding>,
    writers: &AnswerWriters,
    request: tiny_http::Request,
    body_threads: &BodyThreads<S>,
) {
    if body_is_buffered(&request) {
        return exchange(app, outstanding, writers, request);
    }
    if let Some(request) = body_threads.offer(request) {
        let busy = Response::unavailable("Server busy, please retry shortly", 1);
        refuse(app, outstanding, request, busy);
    }
}

/// The requests received and not yet answered, counted per connection (by the client's
/// address), so that an answer that comes later is written by the thread that sends it only when
/// it cannot have to wait for another answer.
///
/// tiny_http reads a connection's next request before the previous one is answered (HTTP
/// pipelining) and writes a connection's answers in order: writing the answer to a later request
/// blocks until the earlier one is written. The thread that sends later answers (the journal's
/// sync thread) must never block that way, since it may be the one that owes the earlier answer,
/// or that a worker waits for before it can give it. So a request's later answer is written by
/// the sender only when the request is its connection's only outstanding one; any other's worker
/// waits for the answer and writes it itself.
#[derive(Debug, Default)]
pub struct Outstanding {
    /// Held while taking a request from tiny_http's queue and counting it, so requests are
    /// counted in the order tiny_http delivered them.
    receiving: Mutex<()>,
    by_client: Mutex<HashMap<SocketAddr, u32>>,
    /// Answers written since the start, for the watchdog.
    answers: AtomicU64,
}

impl Outstanding {
    /// The next request from tiny_http, counted.
    pub fn receive(&self, server: &tiny_http::Server) -> std::io::Result<tiny_http::Request> {
        let _turn = self
            .receiving
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let request = server.recv()?;
        if let Some(client) = request.remote_addr() {
            *self.counts().entry(*client).or_default() += 1;
        }
        Ok(request)
    }

    /// Whether `client`'s connection has no other request outstanding.
    fn alone(&self, client: Option<SocketAddr>) -> bool {
        client.is_some_and(|client| self.counts().get(&client) == Some(&1))
    }

    /// How many answers have been written since the start.
    pub fn answers(&self) -> u64 {
        self.answers.load(Ordering::Relaxed)
    }

    /// Counts an answer to `client` as written.
    fn answered(&self, client: Option<SocketAddr>) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        let Some(client) = client else { return };
        let mut counts = self.counts();
        if let Some(count) = counts.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&client);
            }
        }
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<SocketAddr, u32>> {
        self.by_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The threads that answer requests whose body is still on the wire: one per such request, at
/// most `cap` at once.
pub struct BodyThreads<S> {
    app: Arc<App<S>>,
    outstanding: Arc<Outstanding>,
    writers: Arc<AnswerWriters>,
    running: Arc<AtomicUsize>,
    cap: usize,
}

impl<S: Service> BodyThreads<S> {
    /// Threads for `app`'s requests with unread bodies, at most `cap` at once.
    pub fn new(
        app: &Arc<App<S>>,
        outstanding: &Arc<Outstanding>,
        writers: &Arc<AnswerWriters>,
        cap: usize,
    ) -> BodyThreads<S> {
        BodyThreads {
            app: Arc::clone(app),
            outstanding: Arc::clone(outstanding),
            writers: Arc::clone(writers),
            running: Arc::new(AtomicUsize::new(0)),
            cap,
        }
    }

    /// Answers `request` on a thread of its own; gives it back when `cap` threads are busy or
    /// no thread can be started.
    fn offer(&self, request: tiny_http::Request) -> Option<tiny_http::Request> {
        if self.running.fetch_add(1, Ordering::SeqCst) >= self.cap {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return Some(request);
        }
        let (hand, take) = std::sync::mpsc::channel::<tiny_http::Request>();
        let (app, outstanding) = (Arc::clone(&self.app), Arc::clone(&self.outstanding));
        let (writers, running) = (Arc::clone(&self.writers), Arc::clone(&self.running));
        let spawned = thread::Builder::new()
            .name("request-body".into())
            .spawn(move || {
                if let Ok(request) = take.recv() {
                    exchange(&app, &outstanding, &writers, request);
                }
                running.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(_) => hand.send(request).err().map(|unsent| unsent.0),
            Err(_) => {
                self.running.fetch_sub(1, Ordering::SeqCst);
                Some(request)
            }
        }
    }
}
