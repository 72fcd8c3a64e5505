//! A bounded pool of database connections that reconnects by itself.

use crate::Error;
use postgres::{Client, NoTls};
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How much a [`Pool`] may use, and how long anything may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at most (the server's `max_connections` is shared by every instance).
    pub connections: usize,
    /// How long a request waits for a busy pool before it is [`Error::Unavailable`].
    pub wait: Duration,
    /// How long connecting may take.
    pub connect: Duration,
    /// How long one statement may run on the server (`statement_timeout`), and about how long
    /// a connection to a server that vanished takes to be found dead (TCP keepalives and
    /// `tcp_user_timeout`).
    pub statement: Duration,
}

impl Default for Limits {
    /// 8 connections, a 2 s wait, a 2 s connect, 5 s statements: well inside the time a gate
    /// phone waits before it queues the scan and retries.
    fn default() -> Limits {
        Limits {
            connections: 8,
            wait: Duration::from_secs(2),
            connect: Duration::from_secs(2),
            statement: Duration::from_secs(5),
        }
    }
}

/// A bounded pool of connections to one database. Connections are opened when needed, and
/// kept for the next request; one that broke (the server restarted, the network failed) is
/// dropped when it is given back, so the next request opens a new one.
pub struct Pool {
    config: postgres::Config,
    limits: Limits,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Client>,
    /// Connections idle, lent out or being opened.
    open: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Pool")
            .field("open", &state.open)
            .field("idle", &state.idle.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Pool {
    /// A pool for the database at `url` (`postgres://user:password@host:port/db`, or the
    /// key=value form), connecting nothing yet. `application` names the connections in
    /// `pg_stat_activity`. The error says what is wrong with the URL without repeating it, since
    /// it holds a password.
    pub fn new(url: &str, application: &str, limits: Limits) -> Result<Pool, String> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| format!("not a PostgreSQL connection URL ({e})"))?;
        if config.get_hosts().is_empty() {
            return Err("the URL names no host".to_owned());
        }
        let ms = limits.statement.as_millis();
        let ours = format!(
            "-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={}",
            ms * 2
        );
        let options = match config.get_options() {
            Some(theirs) => format!("{theirs} {ours}"),
            None => ours,
        };
        config
            .options(&options)
            .application_name(application)
            .connect_timeout(limits.connect)
            .tcp_user_timeout(limits.statement)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3);
        Ok(Pool {
            config,
            limits: Limits {
                connections: limits.connections.max(1),
                ..limits
            },
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        })
    }

    /// A connection: an idle one, a new one while fewer than [`Limits::connections`] are open,
    /// or the first one given back within [`Limits::wait`]. [`Error::Unavailable`] when none
    /// comes in time or the database cannot be reached.
    pub fn get(&self) -> Result<Conn<'_>, Error> {
        let deadline = Instant::now() + self.limits.wait;
        let mut state = self.lock();
        loop {
            while let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(self.lend(client));
            }
            if state.open < self.limits.connections {
                state.open += 1;
                drop(state);
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(self.lend(client)),
                    Err(e) => {
                        let mut state = self.lock();
                        state.open -= 1;
                        self.freed.notify_one();
                        Err(Error::from_driver(&e))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Unavailable(format!(
                    "all {} connections stayed busy for {} ms",
                    self.limits.connections,
                    self.limits.wait.as_millis()
                )));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Whether the database answers now: a connection and `SELECT 1` (`GET /ready`).
    pub fn check(&self) -> Result<(), Error> {
        let mut conn = self.get()?;
        conn.simple_query("SELECT 1")
            .map(drop)
            .map_err(|e| Error::from_driver(&e))
    }

    fn lend(&self, client: Client) -> Conn<'_> {
        Conn {
            client: Some(client),
            pool: self,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection lent by a [`Pool`]; given back when dropped (and closed instead, if it broke).
pub struct Conn<'a> {
    client: Option<Client>,
    pool: &'a Pool,
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a lent connection holds its client")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a lent connection holds its client")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let mut state = self.pool.lock();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        let err = Pool::new("postgres://u:s3cret@[bad", "t", Limits::default()).unwrap_err();
        assert!(err.starts_with("not a PostgreSQL connection URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = Pool::new("user=tixgo", "t", Limits::default()).unwrap_err();
        assert_eq!(err, "the URL names no host");
    }

    #[test]
    fn nobody_listening_is_unavailable_at_once_and_frees_the_slot() {
        // Port 1 on loopback: nobody listens there, so the connect is refused.
        let limits = Limits {
            connections: 1,
            ..Limits::default()
        };
        let pool = Pool::new("postgres://tixgo@127.0.0.1:1/tixgo", "t", limits).unwrap();
        for _ in 0..3 {
            let err = pool.get().err().expect("nobody listens on port 1");
            assert!(err.is_unavailable(), "{err}");
            assert!(pool.check().is_err());
        }
        assert_eq!(pool.lock().open, 0, "a failed connect gives its slot back");
    }
}
