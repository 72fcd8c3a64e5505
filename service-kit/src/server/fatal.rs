//! The ways serving ends for good, each with the exit code a supervisor sees.
//!
//! A service that can no longer accept or answer requests must not stay alive: Docker's
//! `restart: unless-stopped` acts only on an exit, and a process that lingers without listening
//! only fails its health check. So each of these ends the process at once with a non-zero code
//! of its own, after saying why on stderr and flushing the access log:
//!
//! - [`EXIT_ACCEPT_LOOP_DIED`]: tiny_http's accept thread stopped on an `accept()` error (out of
//!   file descriptors, the listening socket destroyed) and will never accept again.
//! - [`EXIT_SERVER_THREAD_PANICKED`]: one of tiny_http's own threads panicked. tiny_http spawns a
//!   thread per connection from its accept thread; under a pids limit the spawn fails and the
//!   accept thread panics (`failed to spawn thread`), which also poisons its connection pool's
//!   lock, so every pool thread panics after it. Nothing would be accepted again, and nothing
//!   tells the request workers. The panic hook ([`exit_on_server_thread_panics`]) catches the
//!   first such panic: tiny_http's threads are the only unnamed threads of the process (every
//!   thread of ours has a name), and a panic of ours never goes through it (a handler's panic is
//!   a 500 for that request, caught where it happens).
//! - [`EXIT_UNRESPONSIVE`]: the watchdog's probes failed (see [`super::watchdog`]).

use crate::access_log;
use std::fmt;
use std::thread;

/// The exit code when tiny_http's accept loop has died.
pub const EXIT_ACCEPT_LOOP_DIED: i32 = 70;

/// The exit code when one of tiny_http's own threads panicked.
pub const EXIT_SERVER_THREAD_PANICKED: i32 = 71;

/// The exit code when the watchdog found the service unable to serve a new client.
pub const EXIT_UNRESPONSIVE: i32 = 72;

/// Why the process must end so that its supervisor restarts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fatal {
    /// tiny_http's accept loop stopped on this error.
    AcceptLoopDied(String),
    /// One of tiny_http's threads panicked with this message.
    ServerThreadPanicked(String),
    /// The watchdog's last probes failed, the last one this way.
    Unresponsive(String),
}

impl Fatal {
    /// The exit code.
    pub fn code(&self) -> i32 {
        match self {
            Fatal::AcceptLoopDied(_) => EXIT_ACCEPT_LOOP_DIED,
            Fatal::ServerThreadPanicked(_) => EXIT_SERVER_THREAD_PANICKED,
            Fatal::Unresponsive(_) => EXIT_UNRESPONSIVE,
        }
    }

    /// Says why on stderr (as service `name`), flushes the access log and exits with the code.
    pub fn exit(self, name: &str) -> ! {
        eprintln!(
            "{name}: {self}; exiting with code {} so the supervisor restarts us",
            self.code()
        );
        access_log::flush();
        std::process::exit(self.code())
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::AcceptLoopDied(e) => write!(f, "the accept loop has died ({e})"),
            Fatal::ServerThreadPanicked(e) => {
                write!(f, "a thread of the HTTP server panicked ({e})")
            }
            Fatal::Unresponsive(e) => {
                write!(f, "the service cannot serve a new connection ({e})")
            }
        }
    }
}

/// Installs a panic hook that, after the usual message, ends the process with
/// [`EXIT_SERVER_THREAD_PANICKED`] when the panicking thread is one of tiny_http's (unnamed).
pub fn exit_on_server_thread_panics(name: &'static str) {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        if thread::current().name().is_none() {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Fatal::ServerThreadPanicked(message).exit(name);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_has_its_own_code_and_message() {
        let all = [
            Fatal::AcceptLoopDied("Too many open files".into()),
            Fatal::ServerThreadPanicked("failed to spawn thread".into()),
            Fatal::Unresponsive("connection refused".into()),
        ];
        let codes: Vec<i32> = all.iter().map(Fatal::code).collect();
        assert_eq!(codes, [70, 71, 72]);
        assert_eq!(
            all[1].to_string(),
            "a thread of the HTTP server panicked (failed to spawn thread)"
        );
    }
}
