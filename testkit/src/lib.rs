//! Test-only helpers.
//!
//! - [`call`] answers a request in-process, through a service's route table, exactly as the
//!   server does minus the socket: the contract tests (statuses, bodies, headers) use it.
//! - [`Launch`] starts a real service binary on a free loopback port with a fresh data
//!   directory, and [`Service`] speaks plain HTTP/1.1 to it over TCP: the black-box suites
//!   (durability, `kill -9`, concurrency, shutdown, start-up refusals, HTTP parsing) use it. The
//!   binary is started with an empty environment plus what the test passes, `PORT=0` and
//!   `BIND_ADDR=127.0.0.1`; the port it really got is read from its `listening on` line.
//! - [`contract`] checks every answer against the service's OpenAPI document, in-process
//!   ([`contract::Contract`], over [`call`]) or from the running binary
//!   ([`contract::Running`]), and builds a service in-process as its binary does
//!   ([`contract::app`]); [`openapi`] holds those checks, and the one that the document and the
//!   route table list the same operations.
//! - [`cgroup`] runs a binary under a container's memory or pids limit, or freezes one of its
//!   threads, without Docker.
//! - [`pg`] makes a throwaway PostgreSQL cluster for the tests of the `postgres` feature.
#![forbid(unsafe_code)]

pub mod api_doc;
pub mod cgroup;
pub mod contract;
pub mod openapi;
pub mod pg;

use serde_json::Value;
use service_kit::{Claims, Role};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A 64-character secret the tests share.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef0123456789abcdef0123";

/// How long any single wait in these helpers may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A valid token for `sub` with `role`, signed with [`SECRET`], good for an hour.
pub fn token(sub: &str, role: Role) -> String {
    jwt_lite::encode(
        &Claims::new(sub, role, unix_now(), 3600),
        &jwt_lite::Key::new(SECRET),
    )
    .expect("TixGo's claims always serialize")
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name contains `tag`.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "tixgo-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path of another binary of the workspace, built into the same target directory as the
/// running test (`cargo test --workspace` builds them all).
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {name}` or `cargo test --workspace`",
        path.display()
    );
    path
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding already removed).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; panics with the body text if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses raw response bytes; `None` when they are not a complete HTTP response.
    pub fn parse(raw: &[u8]) -> Option<HttpResponse> {
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..head_end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let rest = &raw[head_end + 4..];
        let mut response = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        response.body = if response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            dechunk(rest)?
        } else if let Some(len) = response.header("content-length") {
            rest.get(..len.parse::<usize>().ok()?)?.to_vec()
        } else {
            rest.to_vec()
        };
        Some(response)
    }
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Answers one request in-process through `app` (its route table and handlers), as the server
/// would answer it on a socket: the same status, headers and body, plus the `Content-Type` and
/// `Content-Length` the server writes, and no body for `HEAD`.
pub fn call<S: service_kit::Service>(
    app: &service_kit::App<S>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    call_from(app, None, method, target, headers, body)
}

/// [`call`] for a request from `peer` (none: as an in-process call, with no peer address).
pub fn call_from<S: service_kit::Service>(
    app: &service_kit::App<S>,
    peer: Option<std::net::IpAddr>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    let headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let body = Ok(body.unwrap_or_default().to_vec());
    let answer = match peer {
        Some(peer) => app.answer_from(peer, method, target, headers, body),
        None => app.answer(method, target, headers, body),
    };
    let mut headers = answer.headers.clone();
    headers.push(("Content-Type".to_owned(), answer.content_type.to_owned()));
    headers.push(("Content-Length".to_owned(), answer.body.len().to_string()));
    HttpResponse {
        status: answer.status,
        headers,
        body: if method == "HEAD" {
            Vec::new()
        } else {
            answer.body.bytes().into_owned()
        },
    }
}

/// Sends `raw` bytes on a new connection and reads until the server closes it (or `WAIT`).
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the service");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let _ = stream.write_all(raw);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// A running service binary; killed when dropped.
#[derive(Debug)]
pub struct Service {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// How to start a service.
#[derive(Debug, Clone)]
pub struct Launch {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Launch {
    /// `bin` with `JWT_SECRET=SECRET`, `DATA_DIR=data_dir`, `PORT=0`, `BIND_ADDR=127.0.0.1`.
    pub fn new(bin: impl Into<PathBuf>, data_dir: &Path) -> Launch {
        Launch {
            bin: bin.into(),
            env: vec![
                ("JWT_SECRET".into(), SECRET.into()),
                ("DATA_DIR".into(), data_dir.display().to_string()),
                ("PORT".into(), "0".into()),
                ("BIND_ADDR".into(), "127.0.0.1".into()),
            ],
        }
    }

    /// Sets (or replaces) a variable.
    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.into(), value.into()));
        self
    }

    /// Removes a variable.
    pub fn without(mut self, name: &str) -> Launch {
        self.env.retain(|(n, _)| n != name);
        self
    }

    /// The binary's command, run by `wrapper` (a program and its arguments) when it is not empty.
    fn command_under(&self, wrapper: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(&self.bin),
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(&self.bin);
                cmd
            }
        };
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the binary and waits until it is listening; panics with its stderr if it is not.
    pub fn start(&self) -> Service {
        self.start_under(&[])
    }

    /// Like [`Launch::start`], but runs the binary through `wrapper`, a program and its arguments
    /// to which the binary's path is appended: for example
    /// `["unshare", "--pid", "--fork", "--kill-child"]` to run it as PID 1 of a new PID namespace,
    /// as in a container. The wrapper gets the same environment and must pass on the binary's
    /// output; [`Service::pid`] and [`Service::wait_exit`] then refer to the wrapper.
    pub fn start_under(&self, wrapper: &[&str]) -> Service {
        let mut child = self
            .command_under(wrapper)
            .spawn()
            .expect("spawn the service binary");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let sink = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on") {
                    let addr = line.rsplit(' ').next().and_then(|a| a.parse().ok());
                    let _ = tx.send(addr);
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        drain(child.stderr.take().unwrap(), Arc::clone(&stderr));
        match rx.recv_timeout(WAIT) {
            Ok(Some(addr)) => Service {
                child,
                addr,
                stdout,
                stderr,
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("service did not start; stderr:\n{}", stderr.lock().unwrap());
            }
        }
    }

    /// Runs the binary with `args` until it exits (at most `WAIT`); returns (status, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (ExitStatus, String, String) {
        self.run_under(&[], args)
    }

    /// Like [`Launch::run`], with the binary run by `wrapper` as in [`Launch::start_under`].
    pub fn run_under(&self, wrapper: &[&str], args: &[&str]) -> (ExitStatus, String, String) {
        let mut cmd = self.command_under(wrapper);
        cmd.args(args);
        let mut child = cmd.spawn().expect("spawn the binary");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out_done = drain(child.stdout.take().unwrap(), Arc::clone(&stdout));
        let err_done = drain(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let status = wait_with_deadline(&mut child, WAIT).expect("binary did not exit in time");
        let _ = out_done.join();
        let _ = err_done.join();
        let out = stdout.lock().unwrap().clone();
        let err = stderr.lock().unwrap().clone();
        (status, out, err)
    }
}

fn drain(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Service {
    /// Sends one request on a new connection (`Connection: close`) and parses the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let mut raw =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        let answer = send_raw(self.addr, &bytes);
        HttpResponse::parse(&answer).unwrap_or_else(|| {
            panic!(
                "no complete HTTP response to {method} {path}: {:?}",
                String::from_utf8_lossy(&answer)
            )
        })
    }

    /// `GET path`, with a Bearer token when given.
    pub fn get(&self, path: &str, token: Option<&str>) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.request("GET", path, &headers, None)
    }

    /// `POST path` with a JSON body, with a Bearer token when given.
    pub fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
        self.request("POST", path, &headers, Some(body.to_string().as_bytes()))
    }

    /// Sends raw bytes and returns the raw answer.
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        send_raw(self.addr, bytes)
    }

    /// Everything the service printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the service printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name such as `TERM` or `KILL`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (at most `limit`) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_with_deadline(&mut self.child, limit)
    }

    /// `kill -9` and wait for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = HttpResponse::parse(
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nokEXTRA",
        )
        .unwrap();
        assert_eq!((plain.status, plain.body.as_slice()), (201, &b"ok"[..]));
        assert_eq!(plain.header("x-a"), Some("b"));
        let chunked = HttpResponse::parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, b"abcde");
        assert!(HttpResponse::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").is_none());
    }
}
