//! A PostgreSQL wire-protocol proxy on a loopback port, between `migrate` and the test
//! server: it counts the statements the server really receives, and can cut the connection
//! at the worst moment (after a COMMIT reached the server, before its answer reaches the
//! client), or freeze every connection at once. Plain TCP only: clients connect with `sslmode=disable`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the proxy saw and what it does.
#[derive(Default)]
pub struct Counters {
    /// Simple-protocol queries (`Q`).
    pub queries: AtomicUsize,
    /// Extended-protocol executions (`E`).
    pub executes: AtomicUsize,
    /// When set, the first `COMMIT` after the history row was written (a migration's, not
    /// the bookkeeping's own short transactions) is forwarded, and then the connection is cut
    /// before the server's answer can come back.
    pub cut_after_commit: AtomicBool,
    /// How many connections were cut.
    pub cuts: AtomicUsize,
    /// When set, nothing passes any more in either direction, on open connections and new
    /// ones alike, while every socket stays open: a frozen server (or a dead network).
    pub frozen: AtomicBool,
}

/// Waits while the proxy is frozen.
fn hold(c: &Counters) {
    while c.frozen.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Counters {
    /// Statements the server was asked to run.
    pub fn statements(&self) -> usize {
        self.queries.load(Ordering::SeqCst) + self.executes.load(Ordering::SeqCst)
    }
}

pub struct Proxy {
    pub port: u16,
    pub counters: Arc<Counters>,
}

impl Proxy {
    /// Starts a proxy to the server of `upstream_url`.
    pub fn start(upstream_url: &str) -> Proxy {
        let u = url::Url::parse(upstream_url).unwrap();
        let upstream = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let c = c.clone();
                std::thread::spawn(move || serve(client, server, c));
            }
        });
        Proxy { port, counters }
    }

    /// `url` (a database on the proxied server) through this proxy, without TLS.
    pub fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.query_pairs_mut().append_pair("sslmode", "disable");
        u.to_string()
    }
}

fn read_exact(s: &mut TcpStream, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn serve(mut client: TcpStream, server: TcpStream, c: Arc<Counters>) {
    let mut to_server = server.try_clone().unwrap();
    let mut from_server = server;
    let mut to_client = client.try_clone().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let cut2 = cut.clone();
    // Told when the server's answer to the COMMIT has come (and was not passed on).
    let (answered, answer) = std::sync::mpsc::channel::<()>();
    let c2 = c.clone();
    // server -> client: bytes as they come, until the cut
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from_server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    hold(&c2);
                    if cut2.load(Ordering::SeqCst) {
                        let _ = answered.send(());
                        break;
                    }
                    if to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
    });
    // client -> server: the untyped startup message, then typed messages
    let Some(len) = read_exact(&mut client, 4) else {
        return;
    };
    let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
    let Some(body) = read_exact(&mut client, len - 4) else {
        return;
    };
    hold(&c);
    let _ = to_server.write_all(&(len as u32).to_be_bytes());
    let _ = to_server.write_all(&body);
    let mut history_written = false;
    while let Some(head) = read_exact(&mut client, 5) {
        let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let Some(body) = read_exact(&mut client, len - 4) else {
            break;
        };
        if matches!(head[0], b'Q' | b'P') {
            let text = String::from_utf8_lossy(&body);
            history_written |= text.contains("INSERT INTO migrate.history");
        }
        let is_commit = head[0] == b'Q'
            && history_written
            && String::from_utf8_lossy(&body)
                .trim_end_matches('\0')
                .trim()
                .eq_ignore_ascii_case("COMMIT");
        match head[0] {
            b'Q' => c.queries.fetch_add(1, Ordering::SeqCst),
            b'E' => c.executes.fetch_add(1, Ordering::SeqCst),
            _ => 0,
        };
        if is_commit && c.cut_after_commit.load(Ordering::SeqCst) {
            cut.store(true, Ordering::SeqCst);
            c.cuts.fetch_add(1, Ordering::SeqCst);
            let _ = to_server.write_all(&head);
            let _ = to_server.write_all(&body);
            // the server has committed once it answers; vanish without passing that on
            let _ = answer.recv_timeout(Duration::from_secs(30));
            let _ = client.shutdown(Shutdown::Both);
            let _ = to_server.shutdown(Shutdown::Both);
            return;
        }
        hold(&c);
        if to_server.write_all(&head).is_err() || to_server.write_all(&body).is_err() {
            break;
        }
    }
    let _ = to_server.shutdown(Shutdown::Both);
}
