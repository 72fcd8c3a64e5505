//! The request workers, the body readers, and the answers given after a stop.
//!
//! A request worker takes the next request from tiny_http's queue, has the [`App`] answer it,
//! writes the answer and logs it; a handler that waits (for its journal batch to be durable, for
//! a bcrypt turn) holds its worker meanwhile, which is why there are many workers.
//!
//! A request whose body is still on the wire goes to a body reader instead (see
//! [`body_is_buffered`]): a small fixed pool with a bounded queue, so a client that never
//! finishes its body holds a body reader, never a request worker. When every body reader is
//! busy and the queue is full, the worker answers 503 at once. Dropping a tiny_http request
//! with its body unread still reads the rest of the body (to keep the connection in step), so
//! even that 503 waits for the client to finish sending or to close: the edge buffers request
//! bodies before it forwards them, so only a client on the LAN talking to a service's port
//! directly can hold a worker this way, one per connection.

use super::reading::{self, body_is_buffered};
use crate::access_log::{self, printable};
use crate::app::{App, Service};
use crate::http::Response;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Reads, answers, writes and logs one request.
pub fn exchange<S: Service>(app: &App<S>, mut request: tiny_http::Request) {
    let started = Instant::now();
    let body = reading::body(&mut request);
    let answer = app.answer(
        request.method().as_str(),
        request.url(),
        reading::headers(&request),
        body,
    );
    respond::<S>(request, answer, started);
}

/// Answers `request` with `answer` (a refusal decided before the app, such as a 503 during a
/// stop) through the app, so it carries the same headers as every other answer.
pub fn refuse<S: Service>(app: &App<S>, request: tiny_http::Request, answer: Response) {
    let started = Instant::now();
    let answer = app.answer(
        request.method().as_str(),
        request.url(),
        reading::headers(&request),
        Err(answer),
    );
    respond::<S>(request, answer, started);
}

/// Writes `answer` and logs the exchange.
fn respond<S: Service>(request: tiny_http::Request, answer: Response, started: Instant) {
    let method = request.method().clone();
    let url = request.url();
    let path = printable(url.split('?').next().unwrap_or(url));
    let status = answer.status;
    let request_id = answer.header("X-Request-Id").unwrap_or("").to_owned();
    let mut out = tiny_http::Response::from_data(answer.body)
        .with_status_code(status)
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
pub fn work<S: Service>(app: &App<S>, request: tiny_http::Request, body_readers: &BodyReaders) {
    if body_is_buffered(&request) {
        return exchange(app, request);
    }
    if let Some(request) = body_readers.offer(request) {
        let busy = Response::unavailable("Server busy, please retry shortly", 1);
        refuse(app, request, busy);
    }
}

/// A fixed pool of threads that answer the requests whose body is still on the wire.
pub struct BodyReaders {
    queue: Option<SyncSender<tiny_http::Request>>,
    threads: Vec<JoinHandle<()>>,
}

impl BodyReaders {
    /// Starts `threads` body readers with room for `queued` waiting requests.
    pub fn start<S: Service>(
        app: &Arc<App<S>>,
        threads: usize,
        queued: usize,
    ) -> std::io::Result<BodyReaders> {
        let (queue, requests) = sync_channel::<tiny_http::Request>(queued);
        let requests: Arc<Mutex<Receiver<tiny_http::Request>>> = Arc::new(Mutex::new(requests));
        let threads = (0..threads.max(1))
            .map(|_| {
                let app = Arc::clone(app);
                let requests = Arc::clone(&requests);
                thread::Builder::new()
                    .name("body-reader".into())
                    .spawn(move || loop {
                        let next = requests
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .recv();
                        let Ok(request) = next else { break };
                        exchange(&app, request);
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(BodyReaders {
            queue: Some(queue),
            threads,
        })
    }

    /// Queues `request` for a body reader; gives it back when the queue is full.
    fn offer(&self, request: tiny_http::Request) -> Option<tiny_http::Request> {
        let Some(queue) = &self.queue else {
            return Some(request);
        };
        match queue.try_send(request) {
            Ok(()) => None,
            Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) => Some(request),
        }
    }

    /// Lets the queued requests be answered, then stops the threads.
    pub fn finish(mut self) {
        self.queue.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
