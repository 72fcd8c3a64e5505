//! The throughput ceiling of the benchmark: a bare tiny_http 0.12 server with the services'
//! default worker count and `TCP_NODELAY` on the listener (as service-kit binds it), answering
//! every request with a fixed 30-byte JSON body. Every throughput target of `bench/run.sh` is a
//! ratio to what this server reaches in the same run.
//!
//! Usage: `ceiling [PORT] [WORKERS]` (defaults 18090 and service-kit's default `WORKERS`);
//! listens on 127.0.0.1 until killed.

use socket2::{Domain, Socket, Type};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;

/// The fixed answer: exactly 30 bytes of JSON.
const BODY: &[u8; 30] = br#"{"status":"ok","service":"rf"}"#;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18090);
    let workers: usize = args
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(service_kit::default_workers);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = bind(addr).unwrap_or_else(|e| {
        eprintln!("ceiling: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    let server = Arc::new(tiny_http::Server::from_listener(listener, None).expect("server"));
    let content_type =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap();
    println!("ceiling listening on {addr} with {workers} workers");
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let content_type = content_type.clone();
            thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let response =
                        tiny_http::Response::from_data(&BODY[..]).with_header(content_type.clone());
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
