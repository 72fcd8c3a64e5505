//! Frees connections that tiny_http 0.12's connection pool leaves waiting, from outside it.
//!
//! # The race
//! tiny_http serves each connection on a thread of its pool (`util::TaskPool`) for the
//! connection's whole life. A new connection gets a new thread only when no pool thread is idle;
//! otherwise it is queued for the idle ones. But the pool counts a thread as idle until that
//! thread has actually woken up, so a burst of new connections (a load generator opening 64 at
//! once, a dozen gate phones reconnecting after the Wi-Fi comes back, the edge opening upstream
//! connections in a rush) queues more connections than there are idle threads to take them. The
//! rest wait until some other connection closes — on keep-alive connections possibly never — and
//! their requests are not even read. A freshly started service strands about a quarter of a
//! burst of 64.
//!
//! # The workaround
//! A pool thread whose connection ends takes the next queued connection, and with no thread idle
//! a new connection gets a new thread. So a connection to ourselves, closed at once, frees one
//! stranded connection. The watcher reads the kernel's table of TCP sockets
//! (`/proc/self/net/tcp`, or `tcp6` for an IPv6 listener), finds the connections to our port
//! whose received bytes have sat unread since its previous look, and opens and closes that many
//! connections to itself. A false alarm (a pipelined request waiting behind a slow one) costs one
//! pool thread that idles for five seconds and exits.
//!
//! Reading the table walks the kernel's whole connection hash table (4 ms on a development host
//! sized for 24 GiB, far less on a small box), so it is not read on every tick. Every [`TICK`]
//! the watcher counts its own process's open files; a rise means new connections, and only new
//! connections can be stranded, so for [`FAST_WINDOW`] after a rise it reads the table every
//! tick (a burst is freed within about two ticks). Otherwise it reads it once every
//! [`SLOW_LOOK`], which finds a connection that was stranded while idle and is used later.
//!
//! Where `/proc` cannot be read (an empty chroot), the watcher says so once and stops; the
//! service works as before, with the race.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How often the watcher counts its open files.
pub const TICK: Duration = Duration::from_millis(100);

/// How long after new connections appeared the table is read every tick.
pub const FAST_WINDOW: Duration = Duration::from_secs(1);

/// How often the table is read otherwise.
pub const SLOW_LOOK: Duration = Duration::from_secs(1);

/// The most self-connections opened in one round.
const MAX_FREED_PER_ROUND: usize = 256;

/// How long a self-connection may take to be accepted by the kernel.
const CONNECT_LIMIT: Duration = Duration::from_millis(200);

/// The kernel's table of this network namespace's TCP sockets over IPv4, and over IPv6 (which
/// also lists IPv4 clients of a dual-stack listener). Reading one walks the kernel's whole
/// connection hash table, so only the listener's own is read.
const SOCKET_TABLE_V4: &str = "/proc/self/net/tcp";
const SOCKET_TABLE_V6: &str = "/proc/self/net/tcp6";

/// `st` of an established connection in the socket table.
const ESTABLISHED: &str = "01";

/// Starts the watcher for the server listening on `local`; it stops once `stopping` is set.
pub fn watch(local: SocketAddr, stopping: Arc<AtomicBool>, name: &'static str) {
    let target = self_address(local);
    let spawned = thread::Builder::new()
        .name("stranded-watch".into())
        .spawn(move || {
            let mut unread_before = HashSet::new();
            let mut files_before = open_files();
            let mut last_look = Instant::now();
            let mut fast_until = last_look;
            while !stopping.load(Ordering::Relaxed) {
                thread::sleep(TICK);
                let files = open_files();
                let now = Instant::now();
                if files > files_before {
                    fast_until = now + FAST_WINDOW;
                }
                files_before = files;
                if now >= fast_until && now.duration_since(last_look) < SLOW_LOOK {
                    continue;
                }
                last_look = now;
                let unread = match unread_connections(local) {
                    Ok(unread) => unread,
                    Err(e) => {
                        eprintln!(
                            "{name}: cannot read the socket table ({e}); connections stranded by \
                             tiny_http's pool will wait for another connection to close"
                        );
                        return;
                    }
                };
                let stranded = unread.intersection(&unread_before).count();
                for _ in 0..stranded.min(MAX_FREED_PER_ROUND) {
                    // Accepted and closed: a pool thread that takes it takes a stranded one next.
                    let _ = TcpStream::connect_timeout(&target, CONNECT_LIMIT);
                }
                unread_before = unread;
            }
        });
    if let Err(e) = spawned {
        eprintln!("{name}: cannot start the stranded-connection watcher: {e}");
    }
}

/// How many files (sockets included) this process has open; `None` when that cannot be read.
fn open_files() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count())
}

/// Where to connect to reach a listener bound to `local` (an unspecified address means every
/// interface, so loopback will do).
pub(crate) fn self_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// The inodes of the established connections to the listener on `local` with received bytes
/// not yet read.
fn unread_connections(local: SocketAddr) -> io::Result<HashSet<u64>> {
    let table = if local.is_ipv4() {
        SOCKET_TABLE_V4
    } else {
        SOCKET_TABLE_V6
    };
    let text = std::fs::read_to_string(table)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| unread_inode(line, local.port()))
        .collect())
}

/// The inode of the socket a table line describes, if it is an established connection to local
/// `port` with unread received bytes.
fn unread_inode(line: &str, port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_, local, _, state, queues, _, _, _, _, inode, ..] = fields.as_slice() else {
        return None;
    };
    let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
    let rx_queue = u64::from_str_radix(queues.split_once(':')?.1, 16).ok()?;
    (local_port == port && *state == ESTABLISHED && rx_queue > 0)
        .then(|| inode.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                          retrnsmt   uid  timeout inode";

    fn line(local: &str, state: &str, rx: &str, inode: u64) -> String {
        format!(
            "   7: {local} 0100007F:D431 {state} 00000000:{rx} 00:00000000 00000000 0 0 {inode} \
             1 0000000000000000 20 4 30 10 -1"
        )
    }

    #[test]
    fn finds_established_connections_to_the_port_with_unread_bytes() {
        // Port 18082 is 0x46A2.
        let table = [
            HEADER.to_owned(),
            line("0100007F:46A2", "01", "0000004F", 101),
            line("0100007F:46A2", "01", "00000000", 102),
            line("0100007F:46A2", "0A", "00000010", 103),
            line("0100007F:46A3", "01", "0000004F", 104),
            line(
                "0000000000000000FFFF00000100007F:46A2",
                "01",
                "00000200",
                105,
            ),
            "garbage".to_owned(),
        ];
        let found: Vec<u64> = table
            .iter()
            .skip(1)
            .filter_map(|l| unread_inode(l, 18082))
            .collect();
        assert_eq!(found, vec![101, 105]);
    }

    /// `unread_connections(local)` once it has `wanted` entries, within two seconds (the
    /// kernel moves sent bytes into the receiving socket's queue asynchronously).
    fn unread_eventually(local: SocketAddr, wanted: usize) -> HashSet<u64> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let unread = unread_connections(local).expect("the socket table can be read");
            if unread.len() == wanted || Instant::now() > deadline {
                return unread;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn finds_a_real_connection_with_unread_bytes_and_forgets_it_once_read() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let mut quiet = TcpStream::connect(local).unwrap();
        let mut talking = TcpStream::connect(local).unwrap();
        let (_quiet_served, _) = listener.accept().unwrap();
        let (mut talking_served, _) = listener.accept().unwrap();
        assert!(unread_eventually(local, 0).is_empty(), "nothing sent yet");

        talking.write_all(b"GET /health HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            unread_eventually(local, 1).len(),
            1,
            "one connection has unread bytes"
        );

        let mut buffer = [0u8; 64];
        let n = talking_served.read(&mut buffer).unwrap();
        assert!(n > 0);
        assert!(unread_eventually(local, 0).is_empty(), "read now");
        quiet.write_all(b"x").unwrap();
        assert_eq!(unread_eventually(local, 1).len(), 1);
    }

    #[test]
    fn connects_to_loopback_for_an_unspecified_address() {
        let v4: SocketAddr = "0.0.0.0:18081".parse().unwrap();
        let v6: SocketAddr = "[::]:18081".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:18081".parse().unwrap();
        assert_eq!(self_address(v4), "127.0.0.1:18081".parse().unwrap());
        assert_eq!(self_address(v6), "[::1]:18081".parse().unwrap());
        assert_eq!(self_address(lan), lan);
    }
}
