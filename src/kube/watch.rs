//! Watches, synchronously: one GET with `watch=1` whose body is a stream of
//! JSON lines, read with blocking reads. Each request asks the server to end
//! it after `timeoutSeconds` and carries a socket-level bound a little longer
//! than that, so a server or proxy that goes silent cannot hang the caller.
//! When a request ends the next one resumes from the last resourceVersion
//! seen; a 410 Gone (the server no longer has that far back) lists again and
//! hands the caller the whole current state. Anything else that goes wrong is
//! an error: the caller falls back to polling and says so in a log line.
//!
//! A watch is always on a selection the caller names by field selector: one
//! object (`metadata.name=kured`) or one node's pods (`spec.nodeName=n1`), so
//! a busy cluster does not stream us every change of every pod.
//!
//! A watch can also be kept open between waits ([`Cursor`], [`Watch::next`]):
//! a helper thread reads the stream into a channel, so the caller waits for
//! the next event or a deadline of its own, whichever comes first, and sees a
//! stop within a second even on a quiet stream. Between waits the request
//! stays open (events queue up); the next wait starts from them, without a
//! new request. Such a request asks for [`LONG_REQUEST`].

use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::{url, Client};
use crate::error::{ApiErrorKind, Error, Result};

/// What the server asks of us for one request, at most (the real API server
/// picks a random 5-10 min when none is given; we want shorter, predictable
/// requests: a stop is seen between events and between requests, so within
/// this bound even on a quiet stream, well inside the pod's grace period).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Added to the socket-level bound of each request beyond `timeoutSeconds`.
/// A watch's bound replaces the client's `--api-timeout` (a whole-request
/// bound, which would cut every watch longer than it short); it does not grow
/// with that flag, so a server gone silent mid-stream holds a graceful stop
/// (60 s) for at most `REQUEST_TIMEOUT` + this.
pub const SOCKET_SLACK: Duration = Duration::from_secs(10);
/// What a kept-open watch ([`Watch::next`]) asks of the server per request:
/// its reading thread, not the caller, waits on the socket, so the caller's
/// stops and deadlines do not depend on it; one request per five minutes per
/// waiting node (a real API server's own default is 30-60 min).
pub const LONG_REQUEST: Duration = Duration::from_secs(300);
/// How often a caller blocked in [`Watch::next`] looks at its stop check.
const STOP_POLL: Duration = Duration::from_millis(500);
/// A single event larger than this is refused (a Node or Pod is a few KiB).
const MAX_LINE: u64 = super::limits::OBJECT;
/// This many watch requests in a row that end at once with nothing in them
/// mean streaming does not work here (a proxy that buffers or cuts streams).
const MAX_EMPTY_ENDS: u32 = 3;

/// One change to the watched selection.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Added(Value),
    Modified(Value),
    /// The object's last state (also sent when an object stops matching).
    Deleted(Value),
    /// The watch had to start again from a fresh list (410 Gone): this is all
    /// that matches now; anything the caller knew of and is not here is gone.
    Relisted(Vec<Value>),
}

/// Why [`Watch::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The callback said it had what it waited for.
    Done,
    /// `max_wait` passed.
    TimedOut,
    /// `stop()` said so (checked between events and between requests).
    Stopped,
}

/// A resumable watch on a selection of one collection.
pub struct Watch<'c> {
    client: &'c Client,
    /// the collection path, e.g. `/api/v1/pods` or
    /// `/apis/apps/v1/namespaces/kube-system/daemonsets`
    collection: String,
    field_selector: String,
    resource_version: Option<String>,
    /// `timeoutSeconds` of each request, at most
    pub request_timeout: Duration,
    /// The request a kept-open watch has in flight (see [`Watch::next`]).
    live: Option<Live>,
}

/// What a kept-open watch carries from one wait to the next: where it is and
/// its request in flight, read by a helper thread.
#[derive(Default)]
pub struct Cursor {
    resource_version: Option<String>,
    live: Option<Live>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("resource_version", &self.resource_version)
            .field("live", &self.live.is_some())
            .finish()
    }
}

/// A request in flight: its lines as the helper thread reads them.
struct Live {
    lines: Receiver<Read1>,
    opened: Instant,
    events: u32,
    empty_ends: u32,
}

/// One read of the helper thread.
enum Read1 {
    Line(Vec<u8>),
    /// The server ended the request.
    End,
    Failed(String),
}

/// What [`Watch::next`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Event(Event),
    /// The caller's deadline passed first.
    Deadline,
    Stopped,
}

/// The client-side bound of a watch request asking the server for `secs`:
/// always beyond the server's own end of it.
pub fn socket_bound(secs: u64) -> Duration {
    Duration::from_secs(secs) + SOCKET_SLACK
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Value,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    metadata: Value,
}

impl<'c> Watch<'c> {
    pub fn new(client: &'c Client, collection: &[&str], field_selector: &str) -> Watch<'c> {
        Watch {
            client,
            collection: url::path(collection),
            field_selector: field_selector.to_string(),
            resource_version: None,
            request_timeout: REQUEST_TIMEOUT,
            live: None,
        }
    }

    /// Go on from where `cursor` left off (its request, if still open, and
    /// its events queued meanwhile).
    pub fn resume(mut self, cursor: Cursor) -> Watch<'c> {
        if cursor.resource_version.is_some() {
            self.resource_version = cursor.resource_version;
        }
        self.live = cursor.live;
        self
    }

    /// What the next wait needs to go on (the request stays open).
    pub fn into_cursor(self) -> Cursor {
        Cursor { resource_version: self.resource_version, live: self.live }
    }

    /// The next event, opening a request if none is open (without a
    /// resourceVersion the server starts with an ADDED for what exists: no
    /// separate list), or [`Next::Deadline`] at `deadline`, or
    /// [`Next::Stopped`] (looked at twice a second).
    pub fn next(&mut self, deadline: Instant, stop: &dyn Fn() -> bool) -> Result<Next> {
        loop {
            if stop() {
                return Ok(Next::Stopped);
            }
            if self.live.is_none() {
                if let Some(relisted) = self.open_live()? {
                    return Ok(Next::Event(relisted));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Next::Deadline);
            }
            let live = self.live.as_mut().expect("opened above");
            let read = live.lines.recv_timeout(left.min(STOP_POLL));
            match read {
                Ok(Read1::Line(line)) => {
                    live.events += 1;
                    if let Some(event) = self.decode(&line)? {
                        return Ok(Next::Event(event));
                    }
                }
                Ok(Read1::End) | Err(RecvTimeoutError::Disconnected) => {
                    let live = self.live.take().expect("reading it");
                    let quick = live.events == 0 && live.opened.elapsed() < Duration::from_secs(1);
                    if quick && live.empty_ends + 1 >= MAX_EMPTY_ENDS {
                        return Err(
                            self.error("watch requests end at once with no events (a proxy that breaks streaming?)")
                        );
                    }
                    // carried to the next request, which opens at the next turn of the loop
                    self.live = None;
                    if quick {
                        self.open_live_after_empty(live.empty_ends + 1)?;
                    }
                }
                Ok(Read1::Failed(message)) => {
                    self.live = None;
                    return Err(self.error(&message));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Open the next request after one that ended at once, counting it.
    fn open_live_after_empty(&mut self, empty_ends: u32) -> Result<()> {
        self.open_live()?;
        if let Some(live) = self.live.as_mut() {
            live.empty_ends = empty_ends;
        }
        Ok(())
    }

    /// Start a long request read by a helper thread. Some(Relisted) when the
    /// resourceVersion was too old and a list had to stand in.
    fn open_live(&mut self) -> Result<Option<Event>> {
        let secs = LONG_REQUEST.as_secs();
        let path = self.request_path(secs);
        let reader = match self.client.http.open_stream(&path, socket_bound(secs)) {
            Ok(r) => r,
            Err(e) if e.api_kind() == Some(ApiErrorKind::Gone) => {
                log::info!("watch {}: {e}, listing again", self.what());
                return Ok(Some(Event::Relisted(self.list()?)));
            }
            Err(e) => return Err(e),
        };
        let (tx, lines) = mpsc::channel();
        // The thread ends with the request (the server's timeoutSeconds, or the
        // socket bound), or at its first line after the watch was dropped.
        std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || {
                let mut reader = BufReader::new(reader);
                loop {
                    let mut line = Vec::new();
                    let read = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line);
                    let msg = match read {
                        Ok(0) => Read1::End,
                        Ok(n) if !line.ends_with(b"\n") && n as u64 >= MAX_LINE => {
                            Read1::Failed(format!("an event longer than {MAX_LINE} bytes"))
                        }
                        Ok(_) if line.trim_ascii().is_empty() => continue,
                        Ok(_) => Read1::Line(line),
                        Err(e) => Read1::Failed(format!("reading the stream: {e}")),
                    };
                    let last = !matches!(msg, Read1::Line(_));
                    if tx.send(msg).is_err() || last {
                        return;
                    }
                }
            })
            .map_err(|e| self.error(&format!("cannot start its reading thread: {e}")))?;
        self.live = Some(Live { lines, opened: Instant::now(), events: 0, empty_ends: 0 });
        Ok(None)
    }

    fn request_path(&self, secs: u64) -> String {
        let mut query = vec![
            ("watch", "1".to_string()),
            ("fieldSelector", self.field_selector.clone()),
            ("allowWatchBookmarks", "true".to_string()),
            ("timeoutSeconds", secs.to_string()),
        ];
        if let Some(rv) = &self.resource_version {
            query.push(("resourceVersion", rv.clone()));
        }
        url::with_query(&self.collection, &query)
    }

    fn decode(&mut self, line: &[u8]) -> Result<Option<Event>> {
        let parsed: Line = serde_json::from_slice(line).map_err(|e| Error::Decode {
            what: format!("watch event from {}", self.collection),
            message: e.to_string(),
        })?;
        self.event(parsed)
    }

    /// The pods bound to `node`.
    pub fn node_pods(client: &'c Client, node: &str) -> Watch<'c> {
        Watch::new(client, &["api", "v1", "pods"], &format!("spec.nodeName={node}"))
    }

    /// One namespaced DaemonSet.
    pub fn daemonset(client: &'c Client, namespace: &str, name: &str) -> Watch<'c> {
        Watch::new(
            client,
            &["apis", "apps", "v1", "namespaces", namespace, "daemonsets"],
            &format!("metadata.name={name}"),
        )
    }

    /// The resourceVersion the next request resumes from.
    pub fn resource_version(&self) -> Option<&str> {
        self.resource_version.as_deref()
    }

    /// Resume from `rv` (a resourceVersion read elsewhere) without listing.
    #[cfg(any(test, feature = "test-support"))]
    pub fn resume_from(&mut self, rv: &str) {
        self.resource_version = Some(rv.to_string());
    }

    /// What matches now; the watch resumes from this list's resourceVersion.
    pub fn list(&mut self) -> Result<Vec<Value>> {
        let path = url::with_query(&self.collection, &[("fieldSelector", self.field_selector.clone())]);
        let list: List = self.client.call("GET", &path, None, "list", super::limits::POD_PAGE)?;
        self.resource_version = list.metadata["resourceVersion"].as_str().map(str::to_string);
        Ok(list.items)
    }

    /// Hand events to `on_event` until it breaks, `max_wait` passes or `stop()`
    /// is true. Lists first if nothing was listed yet (without handing that
    /// list over: call [`Watch::list`] first to see it).
    pub fn run(
        &mut self,
        max_wait: Duration,
        stop: &dyn Fn() -> bool,
        mut on_event: impl FnMut(Event) -> ControlFlow<()>,
    ) -> Result<Ended> {
        let deadline = Instant::now() + max_wait;
        if self.resource_version.is_none() {
            self.list()?;
        }
        let mut empty_ends = 0;
        loop {
            if stop() {
                return Ok(Ended::Stopped);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Ended::TimedOut);
            }
            // Whole seconds, at least one: the server's unit.
            let secs = left.min(self.request_timeout).as_secs().max(1);
            let started = Instant::now();
            let mut events = 0u32;
            let outcome = self.request(secs, stop, &mut |e| {
                events += 1;
                on_event(e)
            })?;
            match outcome {
                Some(ended) => return Ok(ended),
                None if events == 0 && started.elapsed() < Duration::from_secs(1) && secs > 1 => {
                    empty_ends += 1;
                    if empty_ends >= MAX_EMPTY_ENDS {
                        return Err(
                            self.error("watch requests end at once with no events (a proxy that breaks streaming?)")
                        );
                    }
                }
                None => empty_ends = 0,
            }
        }
    }

    /// One watch request. None when the server ended it (time for the next).
    fn request(
        &mut self,
        secs: u64,
        stop: &dyn Fn() -> bool,
        on_event: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<Option<Ended>> {
        let path = self.request_path(secs);
        let reader = match self.client.http.open_stream(&path, socket_bound(secs)) {
            Ok(r) => r,
            // Some servers answer a too-old resourceVersion with a plain 410.
            Err(e) if e.api_kind() == Some(ApiErrorKind::Gone) => {
                log::info!("watch {}: {e}, listing again", self.what());
                let items = self.list()?;
                return Ok(on_event(Event::Relisted(items)).is_break().then_some(Ended::Done));
            }
            Err(e) => return Err(e),
        };
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .map_err(|e| self.error(&format!("reading the stream: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            if !line.ends_with(b"\n") && n as u64 >= MAX_LINE {
                return Err(self.error(&format!("an event longer than {MAX_LINE} bytes")));
            }
            let event = match self.decode(&line)? {
                Some(e) => e,
                None => continue,
            };
            if on_event(event).is_break() {
                return Ok(Some(Ended::Done));
            }
            if stop() {
                return Ok(Some(Ended::Stopped));
            }
        }
    }

    /// Decode one line; remember its resourceVersion. None = nothing to hand over.
    fn event(&mut self, line: Line) -> Result<Option<Event>> {
        if line.kind == "ERROR" {
            let code = line.object["code"].as_u64().unwrap_or(0) as u16;
            if ApiErrorKind::from_code(code) == ApiErrorKind::Gone {
                log::info!("watch {}: resourceVersion too old, listing again", self.what());
                let items = self.list()?;
                return Ok(Some(Event::Relisted(items)));
            }
            let body = line.object.to_string();
            return Err(super::status::api_error("GET", &self.collection, code, body.as_bytes(), None));
        }
        if let Some(rv) = line.object["metadata"]["resourceVersion"].as_str() {
            self.resource_version = Some(rv.to_string());
        }
        Ok(match line.kind.as_str() {
            "ADDED" => Some(Event::Added(line.object)),
            "MODIFIED" => Some(Event::Modified(line.object)),
            "DELETED" => Some(Event::Deleted(line.object)),
            // BOOKMARK only moves the resourceVersion on; unknown types are ignored.
            _ => None,
        })
    }

    fn what(&self) -> String {
        format!("{}?fieldSelector={}", self.collection, self.field_selector)
    }

    fn error(&self, message: &str) -> Error {
        Error::Watch { what: self.what(), message: message.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_request_is_bounded_beyond_its_server_timeout() {
        for secs in [1, 5, REQUEST_TIMEOUT.as_secs()] {
            assert!(socket_bound(secs) > Duration::from_secs(secs), "{secs}");
        }
        // a silent stream still lets a graceful stop (60 s) finish its undo
        assert!(socket_bound(REQUEST_TIMEOUT.as_secs()) < crate::agent::STOP_DEADLINE);
    }
}
