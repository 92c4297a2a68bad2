//! The Prometheus `/metrics` endpoint (the `kured_reboot_required` gauge per
//! node, and kured-rs's counters of reboots that failed, loops stopped and stale
//! locks broken) and `/healthz` (200 while the loop beats, see [`Health`]),
//! served by a plain blocking listener. Each connection carries one
//! request and gets its own short-lived thread (at most [`MAX_CONNECTIONS`] at
//! once) with a read timeout, so a slow or idle client cannot stall scrapes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Result};
pub use crate::health::Health;
use crate::promtext::{escape_label, header};

/// Beyond this many open connections new ones are closed at once: a scrape
/// endpoint needs few, and each costs a thread.
pub const MAX_CONNECTIONS: usize = 16;
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 8 * 1024;

/// Where the served metrics read the time (`kured_reboot_pending_seconds` is
/// rendered at scrape time, on the server's thread: a plain function, which
/// any thread may call).
pub type Now = fn() -> OffsetDateTime;

/// The gauges, shared between the loop that sets them and the server.
#[derive(Debug, Clone)]
pub struct Metrics {
    reboot_required: Arc<Mutex<BTreeMap<String, bool>>>,
    /// The pacing metrics (lock, blocked, window, pending, phases): see [`crate::status`].
    pub status: crate::status::Status,
    /// kured-rs's own series: (metric, node) -> value
    extra: Arc<Mutex<BTreeMap<(Series, String), u64>>>,
    pub health: Health,
    now: Now,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::with_clock(crate::clock::wall_now)
    }
}

/// kured-rs's series beyond upstream's one gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Series {
    /// counter: reboot commands after which the boot ID did not change in --reboot-timeout
    RebootTimeouts,
    /// gauge: 1 while the reboot-loop guard holds this node back
    RebootLoopStopped,
    /// counter: lock entries of deleted nodes this node removed
    StaleLocksBroken,
    /// counter: attempts stopped before the reboot because this node's lock
    /// entry or its Node was gone
    LockLost,
}

impl Series {
    fn name(self) -> &'static str {
        match self {
            Series::RebootTimeouts => "kured_reboot_timeouts_total",
            Series::RebootLoopStopped => "kured_reboot_loop_stopped",
            Series::StaleLocksBroken => "kured_stale_locks_broken_total",
            Series::LockLost => "kured_lock_lost_total",
        }
    }
    fn help(self) -> &'static str {
        match self {
            Series::RebootTimeouts => {
                "Reboot commands after which the node's boot ID did not change within --reboot-timeout."
            }
            Series::RebootLoopStopped => "1 while reboots of this node are stopped by --reboot-loop-limit.",
            Series::StaleLocksBroken => "Lock entries of deleted nodes removed by this node.",
            Series::LockLost => {
                "Reboot attempts stopped before the reboot because this node's lock entry or Node was gone."
            }
        }
    }
    fn kind(self) -> &'static str {
        match self {
            Series::RebootLoopStopped => "gauge",
            _ => "counter",
        }
    }
}

impl Metrics {
    /// Metrics that read the daemon's wall clock ([`crate::clock::wall_now`]).
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Metrics that read the time from `now` (a test's clock).
    pub fn with_clock(now: Now) -> Metrics {
        Metrics {
            reboot_required: Arc::default(),
            status: crate::status::Status::default(),
            extra: Arc::default(),
            health: Health::default(),
            now,
        }
    }

    /// The sentinel's answer for `node`, seen at `now` (the caller's clock).
    pub fn set_reboot_required(&self, node: &str, required: bool, now: OffsetDateTime) {
        self.reboot_required.lock().unwrap_or_else(|e| e.into_inner()).insert(node.to_string(), required);
        self.status.set_required(required, now);
    }

    pub fn inc(&self, series: Series, node: &str) {
        *self.extra.lock().unwrap_or_else(|e| e.into_inner()).entry((series, node.to_string())).or_default() += 1;
    }

    pub fn set(&self, series: Series, node: &str, value: u64) {
        self.extra.lock().unwrap_or_else(|e| e.into_inner()).insert((series, node.to_string()), value);
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.reboot_required.lock().unwrap_or_else(|e| e.into_inner());
        if !map.is_empty() {
            out.push_str(
                "# HELP kured_reboot_required OS requires reboot due to software updates.\n\
                 # TYPE kured_reboot_required gauge\n",
            );
        }
        for (node, required) in map.iter() {
            out.push_str(&format!(
                "kured_reboot_required{{node=\"{}\"}} {}\n",
                escape_label(node),
                u8::from(*required)
            ));
        }
        let extra = self.extra.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = None;
        for ((series, node), value) in extra.iter() {
            if last != Some(*series) {
                header(&mut out, series.name(), series.help(), series.kind());
                last = Some(*series);
            }
            out.push_str(&format!("{}{{node=\"{}\"}} {value}\n", series.name(), escape_label(node)));
        }
        out.push_str(&self.status.render((self.now)()));
        out
    }
}

/// Bind `host:port` (an empty host means every address, IPv6 and IPv4) and
/// serve until the process ends.
pub fn serve(host: &str, port: u16, metrics: Metrics) -> Result<JoinHandle<()>> {
    let listener = bind(host, port)?;
    let server = serve_on(listener, metrics);
    Ok(server.detach())
}

fn bind(host: &str, port: u16) -> Result<TcpListener> {
    let shown = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let result = if host.is_empty() {
        TcpListener::bind(("::", port)).or_else(|_| TcpListener::bind(("0.0.0.0", port)))
    } else {
        TcpListener::bind((host.trim_start_matches('[').trim_end_matches(']'), port))
    };
    result.map_err(|e| Error::Startup(format!("cannot listen for metrics on {shown}: {e}")))
}

/// A running metrics server; [`Server::shutdown`] stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting and wait for the accept loop to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    fn detach(mut self) -> JoinHandle<()> {
        self.handle.take().expect("handle present until shutdown")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.stop_and_join();
        }
    }
}

/// Serve on an already bound listener (tests bind 127.0.0.1:0).
pub fn serve_on(listener: TcpListener, metrics: Metrics) -> Server {
    let mut addr = listener.local_addr().expect("bound listener has an address");
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv6() {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let handle = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || accept_loop(listener, metrics, stop2))
        .expect("spawn metrics thread");
    Server { addr, stop, handle: Some(handle) }
}

fn accept_loop(listener: TcpListener, metrics: Metrics, stop: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                // e.g. out of file descriptors: do not spin
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue; // dropping the stream closes it
        }
        let (metrics, open) = (metrics.clone(), open.clone());
        let spawned = std::thread::Builder::new().name("metrics-conn".into()).spawn(move || {
            if let Err(e) = handle(stream, &metrics) {
                log::debug!("metrics: connection: {e}");
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            log::warn!("metrics: cannot start a connection thread");
        }
    }
}

fn handle(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let response = respond(&head, metrics);
    stream.write_all(&response)?;
    stream.flush()
}

/// Read up to the blank line ending the request head (bodies are ignored).
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || buf.len() > MAX_HEAD {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The whole HTTP response to a request head (pure, for tests).
pub fn respond(head: &str, metrics: &Metrics) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    let (status, ctype, body, extra) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render(), ""),
        ("GET" | "HEAD", "/healthz") if metrics.health.healthy() => {
            ("200 OK", "text/plain; charset=utf-8", "ok\n".into(), "")
        }
        ("GET" | "HEAD", "/healthz") => (
            "503 Service Unavailable",
            "text/plain; charset=utf-8",
            format!("the loop made no progress for {}s\n", metrics.health.since_last_beat().as_secs()),
            "",
        ),
        (_, "/metrics" | "/healthz") => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
            "Allow: GET, HEAD\r\n",
        ),
        ("", _) => ("400 Bad Request", "text/plain; charset=utf-8", "bad request\n".into(), ""),
        _ => ("404 Not Found", "text/plain; charset=utf-8", "404 page not found\n".into(), ""),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn status(head: &str, want: &str) {
        let m = Metrics::new();
        m.set_reboot_required("n1", true, crate::clock::wall_now());
        let resp = String::from_utf8(respond(head, &m)).unwrap();
        assert!(resp.starts_with(&format!("HTTP/1.1 {want}\r\n")), "{head:?} -> {resp}");
    }

    #[test]
    fn routes() {
        status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK");
        status("GET /metrics?x=1 HTTP/1.1\r\n\r\n", "200 OK");
        status("HEAD /metrics HTTP/1.1\r\n\r\n", "200 OK");
        status("POST /metrics HTTP/1.1\r\n\r\n", "405 Method Not Allowed");
        status("GET / HTTP/1.1\r\n\r\n", "404 Not Found");
        status("GET /metricsx HTTP/1.1\r\n\r\n", "404 Not Found");
        status("", "400 Bad Request");
        status("GET /healthz HTTP/1.1\r\n\r\n", "200 OK");
        status("POST /healthz HTTP/1.1\r\n\r\n", "405 Method Not Allowed");
    }

    #[test]
    fn healthz_is_503_once_the_loop_is_stuck() {
        let m = Metrics {
            health: Health::last_beat_ago(crate::health::STUCK_AFTER + Duration::from_secs(5)),
            ..Metrics::new()
        };
        let resp = String::from_utf8(respond("GET /healthz HTTP/1.1\r\n\r\n", &m)).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && resp.contains("no progress for 605s"),
            "{resp}"
        );
        m.health.beat();
        let resp = String::from_utf8(respond("GET /healthz HTTP/1.1\r\n\r\n", &m)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    }

    #[test]
    fn kured_rs_series() {
        let m = Metrics::new();
        m.inc(Series::RebootTimeouts, "n1");
        m.inc(Series::RebootTimeouts, "n1");
        m.set(Series::RebootLoopStopped, "n1", 1);
        let text = m.render();
        assert!(
            text.contains("# TYPE kured_reboot_timeouts_total counter\nkured_reboot_timeouts_total{node=\"n1\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE kured_reboot_loop_stopped gauge\nkured_reboot_loop_stopped{node=\"n1\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn head_has_no_body() {
        let m = Metrics::new();
        m.set_reboot_required("n1", false, crate::clock::wall_now());
        let resp = String::from_utf8(respond("HEAD /metrics HTTP/1.1\r\n\r\n", &m)).unwrap();
        assert!(
            resp.ends_with("\r\n\r\n") && resp.contains(&format!("Content-Length: {}", m.render().len())),
            "{resp}"
        );
    }

    #[test]
    fn pending_seconds_read_the_given_clock() {
        let t0 = time::macros::datetime!(2026-12-03 02:00 UTC);
        let m = Metrics::with_clock(|| time::macros::datetime!(2026-12-03 02:01:30 UTC));
        m.status.set_node("n1");
        m.set_reboot_required("n1", true, t0);
        let text = m.render();
        assert!(text.contains("kured_reboot_pending_seconds{node=\"n1\"} 90.000\n"), "{text}");
    }

    #[test]
    fn exposition() {
        let m = Metrics::new();
        assert_eq!(m.render(), "");
        m.set_reboot_required("n2", false, crate::clock::wall_now());
        m.set_reboot_required("we\"ird\\node\n", true, crate::clock::wall_now());
        m.set_reboot_required("n2", true, crate::clock::wall_now());
        assert_eq!(
            m.render(),
            "# HELP kured_reboot_required OS requires reboot due to software updates.\n\
             # TYPE kured_reboot_required gauge\n\
             kured_reboot_required{node=\"n2\"} 1\n\
             kured_reboot_required{node=\"we\\\"ird\\\\node\\n\"} 1\n"
        );
    }
}
