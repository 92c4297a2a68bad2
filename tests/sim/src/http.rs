//! Tiny plain-HTTP pieces for end-to-end tests on loopback: a server that answers
//! with a closure and records what it was sent (a fake Prometheus, a webhook
//! receiver), and a GET for kured's `/metrics`. Bounded: the server stops when
//! dropped, every socket has a timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// A header's value (names are kept lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// (status, content type, body)
pub type Answer = (u16, String, String);
type Handler = dyn Fn(&Received) -> Answer + Send + Sync;

pub struct TinyServer {
    port: u16,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Received>>>,
    thread: Option<JoinHandle<()>>,
}

impl TinyServer {
    pub fn start(handler: impl Fn(&Received) -> Answer + Send + Sync + 'static) -> std::io::Result<TinyServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), received.clone());
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        serve(conn, &*handler, &r);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(TinyServer { port, stop, received, thread: Some(thread) })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read one request, record it, answer it, close (HTTP/1.1 with `Connection:
/// close`). Recorded before the answer, so a client that got its answer finds
/// its request in `received()`.
fn serve(conn: TcpStream, handler: &Handler, received: &Mutex<Vec<Received>>) -> Option<()> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    conn.set_write_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    let req = Received { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() };
    let (status, content_type, text) = handler(&req);
    received.lock().unwrap_or_else(|p| p.into_inner()).push(req);
    let mut out = conn;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = out.write_all(head.as_bytes()).and_then(|_| out.write_all(text.as_bytes()));
    Some(())
}

/// GET `http://127.0.0.1:<port><path>`: (status, body).
pub fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    conn.read_to_string(&mut raw)?;
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A Prometheus instant-query answer for `ALERTS` with these alert names firing.
pub fn alerts_answer(firing: &[&str]) -> String {
    let result: Vec<serde_json::Value> = firing
        .iter()
        .map(|name| serde_json::json!({"metric": {"__name__": "ALERTS", "alertname": name, "alertstate": "firing", "severity": "page"}, "value": [1700000000.0, "1"]}))
        .collect();
    serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_records() {
        let srv = TinyServer::start(|r| (200, "text/plain".into(), format!("you sent {}", r.body))).unwrap();
        let (status, body) = get(srv.port(), "/metrics").unwrap();
        assert_eq!((status, body.as_str()), (200, "you sent "));
        let got = srv.received();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].method.as_str(), got[0].target.as_str()), ("GET", "/metrics"));
    }

    #[test]
    fn alerts_answer_is_a_vector() {
        let v: serde_json::Value = serde_json::from_str(&alerts_answer(&["A"])).unwrap();
        assert_eq!(v["data"]["result"][0]["metric"]["alertname"], "A");
    }
}
