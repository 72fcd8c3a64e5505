//! Answers given later, by another thread: the one deferred path of the house.
//!
//! Almost every handler returns its [`Response`]. A check-in's answer, though, is known only
//! once its journal line is durable, and measured on the two cores of the box (BENCHMARKS.md),
//! having the request worker sleep through the sync and be woken afterwards costs about half the
//! check-ins per second that letting the journal's sync thread write the answer itself does. So
//! a handler may return [`Answer::Later`] with a [`Later`], and give its [`Answerer`] to whatever
//! produces the answer.
//!
//! The server then writes the answer from the thread that sends it, when the request is its
//! connection's only outstanding one; otherwise (HTTP pipelining: tiny_http writes a
//! connection's answers in order, so this answer could have to wait behind an earlier one) the
//! worker waits for it and writes it itself. In-process callers ([`crate::app::App::answer`])
//! simply wait.

use crate::http::Response;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A handler's answer: now, or later from another thread.
#[derive(Debug)]
pub enum Answer {
    /// The response.
    Now(Response),
    /// The response, once its [`Answerer`] sends it.
    Later(Later),
}

impl From<Response> for Answer {
    fn from(response: Response) -> Answer {
        Answer::Now(response)
    }
}

impl Answer {
    /// The response, waiting for it if it comes later.
    pub fn wait(self) -> Response {
        match self {
            Answer::Now(response) => response,
            Answer::Later(later) => later.wait(),
        }
    }
}

/// A pair: the [`Answerer`] that will send a response and the [`Later`] that receives it.
pub fn later() -> (Answerer, Later) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Empty),
    });
    (
        Answerer {
            slot: Some(Arc::clone(&slot)),
        },
        Later { slot },
    )
}

/// Sends the response of an [`Answer::Later`], from any thread, once.
///
/// Dropped without sending (a lost callback, a panic), it sends 500, so no client is ever left
/// waiting.
#[derive(Debug)]
pub struct Answerer {
    slot: Option<Arc<Slot>>,
}

/// Receives the response of an [`Answer::Later`].
#[derive(Debug)]
pub struct Later {
    slot: Arc<Slot>,
}

#[derive(Debug)]
struct Slot {
    state: Mutex<State>,
}

/// Whichever of the two sides comes first leaves its part here for the other.
enum State {
    Empty,
    Answered(Response),
    Waiting(Box<dyn FnOnce(Response) + Send + 'static>),
    Done,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Empty => "Empty",
            State::Answered(_) => "Answered",
            State::Waiting(_) => "Waiting",
            State::Done => "Done",
        })
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Answerer {
    /// Sends `response`: to whoever waits for it, on this thread.
    pub fn send(mut self, response: Response) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, response);
        }
    }
}

impl Drop for Answerer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, Response::detail(500, "Internal Server Error"));
        }
    }
}

fn deliver(slot: &Slot, response: Response) {
    let mut state = slot.lock();
    match std::mem::replace(&mut *state, State::Done) {
        State::Waiting(receive) => {
            drop(state);
            receive(response);
        }
        State::Empty => *state = State::Answered(response),
        State::Answered(_) | State::Done => {}
    }
}

impl Later {
    /// Calls `receive` with the response: at once on this thread if it was sent already,
    /// otherwise on the sending thread when it is sent.
    pub fn on_answer(self, receive: impl FnOnce(Response) + Send + 'static) {
        let mut state = self.slot.lock();
        match std::mem::replace(&mut *state, State::Done) {
            State::Answered(response) => {
                drop(state);
                receive(response);
            }
            State::Empty => *state = State::Waiting(Box::new(receive)),
            State::Waiting(_) | State::Done => {}
        }
    }

    /// A `Later` of `f` applied to this one's response (applied on whichever thread has it).
    pub fn map(self, f: impl FnOnce(Response) -> Response + Send + 'static) -> Later {
        let (answerer, mapped) = later();
        self.on_answer(move |response| answerer.send(f(response)));
        mapped
    }

    /// Blocks this thread until the response is sent.
    pub fn wait(self) -> Response {
        let (sent, response) = std::sync::mpsc::channel();
        self.on_answer(move |r| {
            let _ = sent.send(r);
        });
        response
            .recv()
            .unwrap_or_else(|_| Response::detail(500, "Internal Server Error"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn the_answer_reaches_the_receiver_whichever_side_comes_first() {
        let (answerer, later) = super::later();
        answerer.send(Response::detail(201, "first"));
        assert_eq!(later.wait().status, 201);

        let (answerer, later) = super::later();
        let sender = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(20));
            answerer.send(Response::detail(201, "later"));
        });
        assert_eq!(later.wait().body, br#"{"detail":"later"}"#);
        sender.join().unwrap();
    }

    #[test]
    fn on_answer_runs_on_the_sending_thread_when_it_waits() {
        let (answerer, later) = super::later();
        let (tx, rx) = std::sync::mpsc::channel();
        later.on_answer(move |r| tx.send((r.status, thread::current().id())).unwrap());
        let sender = thread::spawn(move || {
            answerer.send(Response::detail(201, "x"));
            thread::current().id()
        });
        let sender_id = sender.join().unwrap();
        assert_eq!(rx.recv().unwrap(), (201, sender_id));
    }

    #[test]
    fn a_dropped_answerer_answers_500_and_map_applies_on_the_way() {
        let (answerer, later) = super::later();
        let later = later.map(|r| r.with_header("X-Seen", "yes"));
        drop(answerer);
        let response = later.wait();
        assert_eq!(response.status, 500);
        assert_eq!(response.header("X-Seen"), Some("yes"));
        assert_eq!(
            Answer::from(Response::detail(200, "now")).wait().status,
            200
        );
    }
}
