//! A scripted plain-HTTP server on 127.0.0.1 for tests: it answers the given
//! responses in order, one request per connection, records what it was sent,
//! and stops by itself once the script is done or after a deadline.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// path and query, as sent
    pub target: String,
    /// lowercase names
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == &name.to_ascii_lowercase()).map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    pub base: String,
    rx: mpsc::Receiver<Recorded>,
}

const DEADLINE: Duration = Duration::from_secs(20);

impl Receiver {
    /// Serve `script` ((status, content type, body) per request) in order.
    pub fn start(script: Vec<(u16, &'static str, String)>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let end = Instant::now() + DEADLINE;
            let mut script = script.into_iter();
            let mut next = script.next();
            while let Some((status, ctype, body)) = next.take() {
                if Instant::now() > end {
                    return;
                }
                let stream = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // poll the non-blocking listener until the deadline
                        std::thread::park_timeout(Duration::from_millis(5));
                        next = Some((status, ctype, body));
                        continue;
                    }
                    Err(_) => return,
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let Some(rec) = read_request(&mut reader) else { return };
                let _ = tx.send(rec);
                let mut stream = stream;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
                next = script.next();
            }
        });
        Receiver { base, rx }
    }

    /// The next request the server saw, waiting up to 10 s.
    pub fn recv(&self) -> Recorded {
        self.rx.recv_timeout(Duration::from_secs(10)).expect("no request arrived within 10 s")
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Recorded> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, target) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() })
}
