//! The listening socket and the stop signals.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long writing an answer may block on a client that does not read (tiny_http has no
/// timeouts of its own); the same as the edge's `send_timeout`.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the listener with `TCP_NODELAY` and a [`WRITE_TIMEOUT`], both inherited by every
/// accepted connection: small responses are not held back by Nagle's algorithm on keep-alive
/// connections, and a client that stops reading holds the thread writing to it for at most the
/// timeout. (A read timeout cannot be set the same way: it would also end tiny_http's `accept`.)
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
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

/// On SIGTERM/SIGINT: marks the server as stopping and unblocks each of `workers` once.
///
/// tiny_http's queue is first-in first-out, so the requests received before the signal are
/// answered before a worker sees its unblock.
pub fn watch_signals(
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: usize,
) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                stopping.store(true, Ordering::SeqCst);
                for _ in 0..workers {
                    server.unblock();
                }
            }
        })?;
    Ok(())
}
