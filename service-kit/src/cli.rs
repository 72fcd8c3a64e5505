//! The command line every service binary shares: `--help`, `--version`, `healthcheck`.
//!
//! A `FROM scratch` image has no curl, so the container's `HEALTHCHECK` runs
//! `<binary> healthcheck`, which asks the service on `PORT` for `/health` over loopback.

use crate::config::Env;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the service.
    Serve,
    /// Print usage.
    Help,
    /// Print the version.
    Version,
    /// Probe the running service's `/health`.
    Healthcheck,
    /// An argument nobody knows.
    Unknown(String),
}

/// Reads the command from the arguments after the program name.
pub fn parse_args(mut args: impl Iterator<Item = String>) -> Command {
    match args.next().as_deref() {
        None => Command::Serve,
        Some("-h" | "--help" | "help") => Command::Help,
        Some("-V" | "--version" | "version") => Command::Version,
        Some("healthcheck") => Command::Healthcheck,
        Some(other) => Command::Unknown(other.to_owned()),
    }
}

/// Asks `127.0.0.1:PORT/health` for a 200; true when it answers so within two seconds.
pub fn healthcheck(env: &Env, default_port: u16) -> bool {
    let port = env
        .get("PORT")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or(default_port);
    probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

fn probe(addr: SocketAddr) -> bool {
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let status_line = &head[..got];
    status_line.starts_with(b"HTTP/1.") && status_line.get(8..13) == Some(b" 200 ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert_eq!(parse(&[]), Command::Serve);
        assert_eq!(parse(&["--help"]), Command::Help);
        assert_eq!(parse(&["--version"]), Command::Version);
        assert_eq!(parse(&["healthcheck"]), Command::Healthcheck);
        assert_eq!(parse(&["--bogus"]), Command::Unknown("--bogus".into()));
    }

    #[test]
    fn probe_fails_when_nothing_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(!probe(addr));
    }

    #[test]
    fn probe_reads_the_status() {
        for (answer, healthy) in [
            (&b"HTTP/1.1 200 OK\r\n\r\n"[..], true),
            (&b"HTTP/1.1 503 Service Unavailable\r\n\r\n"[..], false),
        ] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf);
                s.write_all(answer).unwrap();
            });
            assert_eq!(probe(addr), healthy);
            server.join().unwrap();
        }
    }
}
