//! The tiny_http server loop shared by both services.
//!
//! A fixed pool of worker threads calls `recv()`; each request becomes a [`Request`], the
//! service's [`Service::handle`] answers it (inside `catch_unwind`, so a panic is a 500 for that
//! request only), and the answer gets the request id, CORS headers and one access-log line.
//!
//! Expensive work (bcrypt) is handed to the bounded offload pool together with the connection, so
//! a flood of it never holds the request workers: cheap requests keep being answered, and when the
//! offload queue is full the answer is an immediate 503.
//!
//! tiny_http's accept thread ends for good on an `accept()` error, after which `recv()` fails;
//! then the process exits with [`EXIT_ACCEPT_LOOP_DIED`] so its supervisor restarts it. SIGTERM
//! and SIGINT stop the workers after the requests already received are answered; requests that
//! arrive after that are answered 503 until the process exits.

use crate::body::MAX_BODY_BYTES;
use crate::clock::{now_micros, write_timestamp};
use crate::http::{Method, Request, Response};
use crate::stranded;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The exit code when tiny_http's accept loop has died and the process must be restarted.
pub const EXIT_ACCEPT_LOOP_DIED: i32 = 70;

/// Work to run on the offload pool; it returns the response to send.
pub type Job = Box<dyn FnOnce() -> Response + Send + 'static>;

/// Arranges a later answer: it is given the request's [`Responder`] right after the handler
/// returns and hands it to whatever will produce the answer.
pub type Deferred = Box<dyn FnOnce(Responder) + Send + 'static>;

/// A handler's answer.
pub enum Reply {
    /// Send this response now.
    Now(Response),
    /// Run this on the offload pool and send what it returns.
    Offload(Job),
    /// Answer later, from whichever thread has the answer (for example once a journal line is
    /// durable); the request worker goes on to the next request meanwhile. When another request
    /// of the same connection is outstanding (pipelining), the worker waits for the answer and
    /// writes it itself instead, since tiny_http writes a connection's answers in order.
    Later(Deferred),
}

/// Sends the answer to a request whose reply was [`Reply::Later`], from any thread.
///
/// Dropped without an answer (a lost callback, a panic), it answers 500, so no client is ever
/// left waiting.
pub struct Responder {
    send: Option<Box<dyn FnOnce(Response) + Send + 'static>>,
}

impl Responder {
    /// A responder that hands the answer to `send` (the server's sends it on the connection;
    /// tests and fuzz targets keep it).
    pub fn new(send: impl FnOnce(Response) + Send + 'static) -> Responder {
        Responder {
            send: Some(Box::new(send)),
        }
    }

    /// A responder whose answer arrives on the returned receiver, for a caller that waits for it
    /// on its own thread.
    pub fn channel() -> (Responder, Receiver<Response>) {
        let (sent, answer) = std::sync::mpsc::channel();
        let responder = Responder::new(move |response| {
            let _ = sent.send(response);
        });
        (responder, answer)
    }

    /// Sends `response`.
    pub fn send(mut self, response: Response) {
        if let Some(send) = self.send.take() {
            send(response);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(send) = self.send.take() {
            send(Response::detail(500, "Internal Server Error"));
        }
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply::Now(response)
    }
}

/// A service: one function from request to reply.
pub trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: &Request) -> Reply;
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The service's name in logs and the `Server` header.
    pub name: &'static str,
    /// Where to listen.
    pub bind: SocketAddr,
    /// Request worker threads.
    pub workers: usize,
    /// Offload pool threads (0: no pool; offloaded jobs then run on the worker).
    pub offload_threads: usize,
    /// How many offloaded jobs may wait before new ones are answered 503.
    pub offload_queue: usize,
    /// Origins that get CORS headers.
    pub cors_origins: Vec<String>,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// The address could not be bound.
    Bind(SocketAddr, io::Error),
    /// tiny_http or the signal handler could not be set up.
    Setup(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServerError::Setup(e) => write!(f, "cannot start the server: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// How long writing an answer may block on a client that does not read (tiny_http has no
/// timeouts of its own); the same as the edge's `send_timeout`.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the listener with `TCP_NODELAY` and a [`WRITE_TIMEOUT`], both inherited by every
/// accepted connection: small responses are not held back by Nagle's algorithm on keep-alive
/// connections, and a client that stops reading holds the thread writing to it for at most the
/// timeout. (A read timeout cannot be set the same way: it would also end tiny_http's `accept`.)
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Runs `service` until SIGTERM or SIGINT; returns once every received request is answered.
///
/// Prints `listening on <addr>` on stdout once ready (with the real port when asked for port 0).
pub fn serve<S: Service>(service: Arc<S>, options: ServerOptions) -> Result<(), ServerError> {
    let listener = bind(options.bind).map_err(|e| ServerError::Bind(options.bind, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServerError::Bind(options.bind, e))?;
    let server = Arc::new(
        tiny_http::Server::from_listener(listener, None)
            .map_err(|e| ServerError::Setup(e.to_string()))?,
    );
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&server), Arc::clone(&stopping), options.workers)?;
    stranded::watch(local, Arc::clone(&stopping), options.name);

    let context = Arc::new(Context {
        service,
        cors_origins: options.cors_origins.clone(),
        name: options.name,
        ids: RequestIds::new(),
        outstanding: Outstanding::default(),
    });
    let offload = OffloadPool::start(
        Arc::clone(&context),
        options.offload_threads,
        options.offload_queue,
    );
    start_access_log_writer();
    log_line(&format!("{} listening on {local}", options.name));

    let workers: Vec<_> = (0..options.workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let stopping = Arc::clone(&stopping);
            let context = Arc::clone(&context);
            let offload = offload.sender();
            thread::spawn(move || loop {
                match context.outstanding.receive(&server) {
                    Ok(request) if body_is_buffered(&request) => {
                        context.handle(request, offload.as_ref())
                    }
                    Ok(request) => handle_on_own_thread(&context, request, offload.clone()),
                    Err(_) if stopping.load(Ordering::SeqCst) => break,
                    Err(e) => {
                        eprintln!(
                            "{}: the accept loop has died ({e}); exiting so the supervisor restarts us",
                            context.name
                        );
                        flush_access_log();
                        std::process::exit(EXIT_ACCEPT_LOOP_DIED);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    answer_late_requests(server, Arc::clone(&context));
    offload.finish();
    flush_access_log();
    Ok(())
}

/// After the request workers have stopped, answers every request that still arrives with 503
/// (`Retry-After: 1`), on one thread, until the process exits.
///
/// tiny_http keeps reading requests from open connections into its queue; one that is dropped
/// unanswered (when the last of its connection threads lets the queue go) gets a bare 500 from
/// tiny_http. Keeping the server alive here means no request is dropped: it is answered, or
/// still queued when the process exits.
fn answer_late_requests<S: Service>(server: Arc<tiny_http::Server>, context: Arc<Context<S>>) {
    let spawned = thread::Builder::new()
        .name("late-requests".into())
        .spawn(move || {
            while let Ok(request) = context.outstanding.receive(&server) {
                let exchange = context.exchange(&request);
                let busy =
                    Response::unavailable("The service is shutting down; please retry shortly", 1);
                context.respond(request, exchange, busy);
            }
        });
    if let Err(e) = spawned {
        eprintln!("cannot start the thread that answers late requests: {e}");
    }
}

/// The largest body tiny_http reads on the connection's own thread, before the request is
/// queued (`tiny_http::request::new_request`: a `Content-Length` of at most 1024 bytes, without
/// `Expect: 100-continue`).
const BUFFERED_BODY_BYTES: usize = 1024;

/// Whether the request's whole body is already in memory, so handling it cannot wait on the
/// client.
///
/// Any other body is read from the socket by whoever reads or drops the request, and tiny_http
/// has no timeouts: a client that announces a body and never finishes it would hold that thread
/// for as long as it keeps the connection open (and dropping a request with its body unread
/// reads the rest of it, also to answer 413). Such requests must not hold a request worker.
fn body_is_buffered(request: &tiny_http::Request) -> bool {
    let has = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    let upgrade = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Connection"))
        .any(|h| h.value.as_str().to_ascii_lowercase().contains("upgrade"));
    !has("Transfer-Encoding")
        && !has("Expect")
        && !upgrade
        && request
            .body_length()
            .is_none_or(|n| n <= BUFFERED_BODY_BYTES)
}

/// Handles a request whose body is still on the wire on a thread of its own, so a client that
/// never finishes its body holds that thread (as it already holds its connection's thread) and
/// never a request worker. If no thread can be started, the worker handles it after all.
fn handle_on_own_thread<S: Service>(
    context: &Arc<Context<S>>,
    request: tiny_http::Request,
    offload: Option<SyncSender<Task>>,
) {
    let (tx, rx) = std::sync::mpsc::channel::<tiny_http::Request>();
    let inner = Arc::clone(context);
    let spawned = thread::Builder::new()
        .name("request-body".into())
        .spawn(move || {
            if let Ok(request) = rx.recv() {
                inner.handle(request, offload.as_ref());
            }
        });
    match spawned {
        Ok(_) => {
            if let Err(std::sync::mpsc::SendError(request)) = tx.send(request) {
                context.handle(request, None);
            }
        }
        Err(_) => context.handle(request, None),
    }
}

/// On SIGTERM/SIGINT: mark the server as stopping and unblock every worker once.
///
/// tiny_http's queue is first-in first-out, so the requests received before the signal are
/// answered before a worker sees its unblock.
fn watch_signals(
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: usize,
) -> Result<(), ServerError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| ServerError::Setup(format!("cannot install signal handlers: {e}")))?;
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            stopping.store(true, Ordering::SeqCst);
            for _ in 0..workers {
                server.unblock();
            }
        }
    });
    Ok(())
}

/// What every worker shares.
struct Context<S> {
    service: Arc<S>,
    cors_origins: Vec<String>,
    name: &'static str,
    ids: RequestIds,
    outstanding: Outstanding,
}

/// The requests received and not yet answered, counted per connection (by the client's
/// address), so that a deferred answer is sent by another thread only when it cannot have to wait
/// for another answer.
///
/// tiny_http reads a connection's next request before the previous one is answered (HTTP
/// pipelining) and writes a connection's answers in order: writing the answer to a later request
/// blocks until the earlier one is written. The thread that sends deferred answers (the journal's
/// sync thread) must never block that way, since it may be the one that owes the earlier answer,
/// or that a worker waits for before it can give it. So a request gets the [`Reply::Later`]
/// treatment only when it is its connection's only outstanding request; any other waits for its
/// answer on its worker and writes it there, like a [`Reply::Now`].
#[derive(Default)]
struct Outstanding {
    /// Held while taking a request from tiny_http's queue and counting it, so requests are
    /// counted in the order tiny_http delivered them.
    receiving: Mutex<()>,
    by_client: Mutex<HashMap<SocketAddr, u32>>,
}

impl Outstanding {
    /// The next request from tiny_http, counted.
    fn receive(&self, server: &tiny_http::Server) -> io::Result<tiny_http::Request> {
        let _turn = self
            .receiving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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

    /// Counts an answer to `client` as written.
    fn answered(&self, client: Option<SocketAddr>) {
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
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request's facts kept for the response and the access log.
struct Exchange {
    started: Instant,
    client: Option<SocketAddr>,
    method: tiny_http::Method,
    path: String,
    request_id: String,
    origin: Option<String>,
}

impl<S: Service> Context<S> {
    fn handle(
        self: &Arc<Self>,
        mut request: tiny_http::Request,
        offload: Option<&SyncSender<Task>>,
    ) {
        let exchange = self.exchange(&request);
        let reply = match self.to_request(&mut request) {
            Ok(parsed)
                if parsed.method == Method::Options && self.allowed_origin(&exchange).is_some() =>
            {
                Reply::Now(preflight())
            }
            Ok(parsed) => catch_unwind(AssertUnwindSafe(|| self.service.handle(&parsed)))
                .unwrap_or_else(|_| Reply::Now(Response::detail(500, "Internal Server Error"))),
            Err(response) => Reply::Now(response),
        };
        match (reply, offload) {
            (Reply::Now(response), _) => self.respond(request, exchange, response),
            (Reply::Later(deferred), _) if self.outstanding.alone(exchange.client) => {
                let context = Arc::clone(self);
                let responder = Responder::new(move |response| {
                    context.respond(request, exchange, response);
                });
                // A panic here drops the responder, which answers 500.
                let _ = catch_unwind(AssertUnwindSafe(|| deferred(responder)));
            }
            (Reply::Later(deferred), _) => {
                // Pipelined: wait for the answer here and write it in turn (see `Outstanding`).
                let (responder, answer) = Responder::channel();
                let _ = catch_unwind(AssertUnwindSafe(|| deferred(responder)));
                let response = answer
                    .recv()
                    .unwrap_or_else(|_| Response::detail(500, "Internal Server Error"));
                self.respond(request, exchange, response);
            }
            (Reply::Offload(job), None) => {
                let response = run_job(job);
                self.respond(request, exchange, response);
            }
            (Reply::Offload(job), Some(queue)) => {
                if let Err(TrySendError::Full(task) | TrySendError::Disconnected(task)) = queue
                    .try_send(Task {
                        request,
                        exchange,
                        job,
                    })
                {
                    let busy = Response::unavailable("Server busy, please retry shortly", 1);
                    self.respond(task.request, task.exchange, busy);
                }
            }
        }
    }

    fn exchange(&self, request: &tiny_http::Request) -> Exchange {
        let header = |name: &'static str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_owned())
        };
        let request_id = header("X-Request-Id")
            .filter(|id| valid_request_id(id))
            .unwrap_or_else(|| self.ids.next());
        let url = request.url();
        Exchange {
            started: Instant::now(),
            client: request.remote_addr().copied(),
            method: request.method().clone(),
            path: printable(url.split('?').next().unwrap_or(url)),
            request_id,
            origin: header("Origin"),
        }
    }

    /// Reads the body under the cap and builds the handler's view of the request.
    fn to_request(&self, request: &mut tiny_http::Request) -> Result<Request, Response> {
        if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        request
            .as_reader()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|_| Response::detail(400, "Could not read the request body"))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let headers = request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect();
        Request::new(
            Method::parse(request.method().as_str()),
            request.url(),
            headers,
            body,
        )
    }

    fn allowed_origin<'a>(&self, exchange: &'a Exchange) -> Option<&'a str> {
        exchange
            .origin
            .as_deref()
            .filter(|o| self.cors_origins.iter().any(|allowed| allowed == o))
    }

    fn respond(&self, request: tiny_http::Request, exchange: Exchange, response: Response) {
        let status = response.status;
        let mut out = tiny_http::Response::from_data(response.body)
            .with_status_code(status)
            .with_chunked_threshold(usize::MAX);
        // Headers go straight to tiny_http, without an intermediate owned copy of each.
        let mut add = |name: &str, value: &str| {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                out.add_header(header);
            }
        };
        for (name, value) in &response.headers {
            add(name, value);
        }
        add("Content-Type", response.content_type);
        add("X-Request-Id", &exchange.request_id);
        add("Server", self.name);
        if let Some(origin) = self.allowed_origin(&exchange) {
            add("Access-Control-Allow-Origin", origin);
            add("Vary", "Origin");
            add(
                "Access-Control-Expose-Headers",
                "X-Request-Id, Retry-After, WWW-Authenticate",
            );
        }
        // tiny_http reads and drops an unread body when the request is dropped; for an absurd
        // `Content-Length` that panics (capacity overflow). Keep this worker alive if it does.
        let _ = catch_unwind(AssertUnwindSafe(|| request.respond(out)));
        self.outstanding.answered(exchange.client);
        let micros = exchange.started.elapsed().as_micros();
        access_log(format_args!(
            " {} {} {} {status} {}.{:03}ms rid={}",
            self.name,
            exchange.method.as_str(),
            exchange.path,
            micros / 1000,
            micros % 1000,
            exchange.request_id
        ));
    }
}

fn too_large() -> Response {
    Response::detail(
        413,
        &format!(
            "Request body too large (limit {} KiB)",
            MAX_BODY_BYTES / 1024
        ),
    )
}

fn preflight() -> Response {
    Response::with_body(204, "text/plain", Vec::new())
        .with_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
        .with_header(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Idempotency-Key, X-Request-Id",
        )
        .with_header("Access-Control-Max-Age", "600")
}

fn run_job(job: Job) -> Response {
    catch_unwind(AssertUnwindSafe(job))
        .unwrap_or_else(|_| Response::detail(500, "Internal Server Error"))
}

/// An offloaded job with the connection it answers.
struct Task {
    request: tiny_http::Request,
    exchange: Exchange,
    job: Job,
}

/// A fixed pool of threads with a bounded queue for expensive jobs.
struct OffloadPool {
    sender: Option<SyncSender<Task>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl OffloadPool {
    fn start<S: Service>(context: Arc<Context<S>>, threads: usize, queue: usize) -> OffloadPool {
        if threads == 0 {
            return OffloadPool {
                sender: None,
                threads: Vec::new(),
            };
        }
        let (sender, receiver) = sync_channel::<Task>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..threads)
            .map(|_| {
                let receiver: Arc<Mutex<Receiver<Task>>> = Arc::clone(&receiver);
                let context = Arc::clone(&context);
                thread::spawn(move || loop {
                    let next = receiver
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    let Ok(task) = next else { break };
                    let response = run_job(task.job);
                    context.respond(task.request, task.exchange, response);
                })
            })
            .collect();
        OffloadPool {
            sender: Some(sender),
            threads,
        }
    }

    fn sender(&self) -> Option<SyncSender<Task>> {
        self.sender.clone()
    }

    /// Lets the queued jobs finish, then stops the threads.
    fn finish(mut self) {
        self.sender.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Generates request ids: a per-process prefix and a counter.
struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> RequestIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        RequestIds {
            prefix: nanos ^ std::process::id().rotate_left(16),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:x}", self.prefix)
    }
}

/// A client's `X-Request-Id` is echoed only when it is 1..=128 characters of `[A-Za-z0-9._:-]`.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Makes client-controlled text safe for a log line: escapes non-printables, caps the length.
fn printable(text: &str) -> String {
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

/// Access-log lines not yet written to stdout.
///
/// A `write` to stdout per request costs as much as answering `/health`, so workers append their
/// line here and the log writer thread writes everything buffered in one `write`, a millisecond
/// after the first line of a batch arrives: a busy server makes one system call per millisecond,
/// an idle one still logs each request within about a millisecond. Lines from [`log_line`] and the
/// end of [`serve`] flush the buffer first, so the order of the lines is kept.
static ACCESS_LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Signalled when [`ACCESS_LOG`] gets its first line of a batch.
static ACCESS_LOG_READY: Condvar = Condvar::new();
/// Past this many buffered bytes, the worker that appends writes the buffer out itself.
const ACCESS_LOG_MAX_BYTES: usize = 64 * 1024;
/// How long the log writer lets lines gather before writing them.
const ACCESS_LOG_DELAY: Duration = Duration::from_millis(1);

fn access_log_buffer() -> MutexGuard<'static, Vec<u8>> {
    ACCESS_LOG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Queues one access-log line, the current time followed by `line` (see [`ACCESS_LOG`]).
fn access_log(line: std::fmt::Arguments<'_>) {
    let mut text = Vec::with_capacity(160);
    write_timestamp(now_micros(), &mut text);
    let _ = text.write_fmt(line);
    text.push(b'\n');
    let mut buffer = access_log_buffer();
    if buffer.is_empty() {
        ACCESS_LOG_READY.notify_one();
    }
    buffer.extend_from_slice(&text);
    let full = buffer.len() >= ACCESS_LOG_MAX_BYTES;
    drop(buffer);
    if full {
        flush_access_log();
    }
}

/// Starts the thread that writes the buffered access-log lines (once per process).
fn start_access_log_writer() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let _ = thread::Builder::new()
            .name("access-log".into())
            .spawn(|| loop {
                let mut buffer = access_log_buffer();
                while buffer.is_empty() {
                    buffer = ACCESS_LOG_READY
                        .wait(buffer)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                drop(buffer);
                thread::sleep(ACCESS_LOG_DELAY);
                flush_access_log();
            });
    });
}

/// Writes every buffered access-log line to stdout now.
pub fn flush_access_log() {
    let mut out = io::stdout().lock();
    let pending = std::mem::take(&mut *access_log_buffer());
    if !pending.is_empty() {
        let _ = out.write_all(&pending);
        let _ = out.flush();
    }
}

/// Writes one line to stdout (after the access-log lines queued before it); a closed stdout is
/// ignored rather than fatal.
pub fn log_line(line: &str) {
    flush_access_log();
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responder_sends_once_and_answers_500_when_dropped_unsent() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = tx.clone();
        Responder::new(move |r: Response| sent.send(r.status).unwrap())
            .send(Response::detail(201, "made"));
        let dropped = Responder::new(move |r: Response| tx.send(r.status).unwrap());
        drop(dropped);
        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![201, 500]);
    }

    #[test]
    fn request_ids_are_checked() {
        assert!(valid_request_id("abc-123_x.y:z"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("has space"));
        assert!(!valid_request_id(&"a".repeat(129)));
    }

    #[test]
    fn generated_ids_are_unique_and_valid() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert!(valid_request_id(&a));
    }

    #[test]
    fn log_text_is_escaped_and_capped() {
        assert_eq!(printable("/a\nb"), "/a\\nb");
        assert_eq!(printable("/a'b\"c\\d"), "/a\\'b\\\"c\\\\d");
        assert_eq!(printable("/attendance/evt-1?x=1"), "/attendance/evt-1?x=1");
        assert!(printable(&"x".repeat(1000)).len() < 300);
    }
}
