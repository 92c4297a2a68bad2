//! A scripted plain-HTTP receiver on 127.0.0.1 for tests: it answers the given
//! responses in order (503 once the script is done) and hands over what it was
//! sent, one request at a time. The server is `sim::http::TinyServer`: one
//! request per connection, every socket with a timeout, stopped on drop.
//! Included with `#[path = "support/receiver.rs"] mod receiver;`.

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

pub use sim::http::Received as Recorded;
use sim::http::TinyServer;

#[path = "poll.rs"]
mod poll;

/// The sender has finished its request before the test asks for it: this only
/// bounds a wait for the server's thread to record it.
const RECORDED_WITHIN: Duration = Duration::from_secs(10);

pub struct Receiver {
    pub base: String,
    server: TinyServer,
    next: Cell<usize>,
}

impl Receiver {
    /// Serve `script` ((status, content type, body) per request) in order.
    pub fn start(script: Vec<(u16, &'static str, String)>) -> Receiver {
        let script: VecDeque<_> =
            script.into_iter().map(|(status, ctype, body)| (status, ctype.to_string(), body)).collect();
        let script = Mutex::new(script);
        let server = TinyServer::start(move |_| {
            let next = script.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            next.unwrap_or_else(|| (503, "text/plain".into(), "the script is done".into()))
        })
        .expect("start the receiver");
        Receiver { base: server.url(), server, next: Cell::new(0) }
    }

    /// The next request the server saw.
    pub fn recv(&self) -> Recorded {
        let i = self.next.get();
        let mut got = None;
        poll::poll(RECORDED_WITHIN, &format!("request {} at the receiver", i + 1), || {
            got = self.server.received().get(i).cloned();
            got.is_some()
        });
        self.next.set(i + 1);
        got.expect("polled until there")
    }
}
