//! Connections: a thread per TLS connection, keep-alive request loop, faults
//! first, then bearer-token authentication, then the handlers; watches stream
//! chunked events until their timeout or server shutdown. Every request lands in
//! the request log with the status it got.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{json, Value};

use crate::fault::{self, FaultAction};
use crate::handlers::{self, Reply};
use crate::http::{Conn, Request};
use crate::list::{Seen, Watch};
use crate::state::{RequestRecord, Shared};
use crate::status;
use crate::table;

/// Requests that the real server also answers without credentials.
fn anonymous(path: &str) -> bool {
    matches!(path, "/version" | "/healthz" | "/readyz" | "/livez")
}

pub fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Arc<ServerConfig>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    for sock in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(sock) = sock else { continue };
        let (shared, tls) = (shared.clone(), tls.clone());
        let h = thread::spawn(move || serve(sock, &shared, tls));
        let mut c = conns.lock().unwrap_or_else(|e| e.into_inner());
        c.retain(|h| !h.is_finished());
        c.push(h);
    }
}

fn record(shared: &Shared, req: &Request, status: u16) {
    let rec = RequestRecord {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        content_type: req.header("content-type").unwrap_or("").to_string(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        status,
        at: shared.started.elapsed(),
    };
    shared.lock().requests.push(rec);
}

fn serve(sock: TcpStream, shared: &Shared, tls: Arc<ServerConfig>) {
    // short read timeouts only so that idle connections notice shutdown
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_nodelay(true);
    let Ok(conn) = ServerConnection::new(tls) else { return };
    let mut c = Conn::new(StreamOwned::new(conn, sock), &shared.stop);
    loop {
        let req = match c.read_request() {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let body = status::bad_request(format!("malformed HTTP request: {e}")).to_status().to_string();
                let _ = c.write_response(400, "application/json", &[], body.as_bytes(), true);
                return;
            }
            Err(_) => return,
        };
        let verdict = {
            let mut st = shared.lock();
            fault::evaluate(
                &mut st.faults,
                &req.method,
                &req.path,
                req.param("continue").is_some_and(|v| !v.is_empty()),
            )
        };
        pause(shared, verdict.latency);
        let reply = match verdict.action {
            Some(FaultAction::Drop) => {
                record(shared, &req, 0);
                return c.drop_silently();
            }
            Some(FaultAction::Reset) => {
                record(shared, &req, 0);
                return c.reset();
            }
            Some(FaultAction::Status(code)) => {
                let e = status::injected(code);
                Reply::Json(e.code, e.to_status())
            }
            Some(FaultAction::ExpireContinue) => {
                let e = status::expired_continue();
                Reply::Json(e.code, e.to_status())
            }
            Some(FaultAction::Latency(_) | FaultAction::LateAnswer(_)) | None => {
                let mut st = shared.lock();
                let bearer = req
                    .header("authorization")
                    .and_then(|a| a.split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, t)| t.trim());
                if bearer != Some(st.token.as_str()) && !anonymous(&req.path) {
                    let e = status::unauthorized();
                    Reply::Json(e.code, e.to_status())
                } else {
                    let before = st.store.resource_version();
                    let reply = handlers::handle(&mut st, &req);
                    // only what changed wakes watches (not every GET)
                    shared.notify_since(&st, before);
                    reply
                }
            }
        };
        // applied (a write is visible to others), not yet answered
        pause(shared, verdict.late);
        let ok = match reply {
            Reply::Json(code, body) => {
                record(shared, &req, code);
                let mut extra = Vec::new();
                if let Some(s) = body["details"]["retryAfterSeconds"].as_u64() {
                    extra.push(("Retry-After".to_string(), s.to_string()));
                }
                let bytes =
                    if req.method == "HEAD" { Vec::new() } else { serde_json::to_vec(&body).unwrap_or_default() };
                c.write_response(code, "application/json", &extra, &bytes, req.close).is_ok()
            }
            Reply::Watch(w) => {
                record(shared, &req, 200);
                serve_watch(shared, &mut c, w).is_ok()
            }
        };
        if !ok || req.close {
            return;
        }
    }
}

/// Wait `d`, or less once the server stops.
fn pause(shared: &Shared, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
    }
}

fn event_line(w: &Watch, kind: &str, obj: &Value) -> Vec<u8> {
    let object = if w.table {
        table::from_list(
            w.query.res,
            &json!({"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "items": [obj]}),
        )
    } else {
        obj.clone()
    };
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    line
}

fn serve_watch(shared: &Shared, c: &mut Conn, w: Watch) -> std::io::Result<()> {
    let deadline = Instant::now() + w.timeout;
    let qualified = w.query.res.qualified();
    let wake = crate::resources::index_of(&qualified).map_or(&shared.changed, |i| &shared.changed_res[i]);
    let mut seen = Seen::default();
    let (mut cursor, initial) = {
        let st = shared.lock();
        match w.since {
            Some(rv) if st.store.changes_since(rv).is_none() => {
                let e = status::ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {rv} ({})", st.store.resource_version()),
                );
                let line = [
                    serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()})).unwrap_or_default(),
                    b"\n".to_vec(),
                ]
                .concat();
                drop(st);
                c.start_chunked(200, "application/json")?;
                c.write_chunk(&line)?;
                return c.end_chunked();
            }
            Some(rv) => {
                seen = Seen::at(&st, &w.query, rv);
                (rv, Vec::new())
            }
            None => {
                let matching: Vec<&Value> =
                    st.store.list(w.query.res, w.query.ns.as_deref()).filter(|o| w.query.matches(o)).collect();
                matching.iter().for_each(|o| seen.insert(o));
                let lines: Vec<u8> = matching.into_iter().flat_map(|o| event_line(&w, "ADDED", o)).collect();
                (st.store.resource_version(), lines)
            }
        }
    };
    c.start_chunked(200, "application/json")?;
    c.write_chunk(&initial)?;
    while !shared.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let st = shared.lock();
        // what to send is picked under the lock, serialized after it (1,000
        // watches of the lock's DaemonSet each encode every change of it)
        let events: Vec<(&'static str, Value)> = match st.store.changes_since(cursor) {
            Some(changes) => changes
                .filter(|ch| ch.res == qualified)
                .filter_map(|ch| {
                    seen.translate(ch.kind, w.query.matches(&ch.object), &ch.object)
                        .map(|kind| (kind, ch.object.clone()))
                })
                .collect(),
            None => break,
        };
        cursor = st.store.resource_version();
        if events.is_empty() {
            // woken by changes of its resource; the timeout only bounds how late
            // it sees its deadline or a shutdown (1,000 idle watches polling
            // every 200 ms were a fifth of a core)
            drop(wake.wait_timeout(st, Duration::from_millis(1000)));
            continue;
        }
        drop(st);
        let lines: Vec<u8> = events.iter().flat_map(|(kind, obj)| event_line(&w, kind, obj)).collect();
        c.write_chunk(&lines)?;
    }
    c.end_chunked()
}
