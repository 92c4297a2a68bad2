//! The /metrics endpoint over real sockets: scrape, 404, HEAD, a stalled
//! client not blocking a scrape, bind errors, and `promtool check metrics`.

#[path = "support/promtool.rs"]
mod promtool;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use kured::metrics::{self, Metrics};
use time::OffsetDateTime;

fn request(addr: std::net::SocketAddr, head: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn server(m: &Metrics) -> metrics::Server {
    metrics::serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), m.clone())
}

#[test]
fn scrape_reflects_the_gauge() {
    let m = Metrics::new();
    let srv = server(&m);
    m.set_reboot_required("n1", true, OffsetDateTime::now_utc());
    let resp = request(srv.local_addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Content-Type: text/plain; version=0.0.4"), "{resp}");
    assert!(
        resp.contains("\r\n\r\n# HELP kured_reboot_required OS requires reboot due to software updates.\n"),
        "{resp}"
    );
    assert!(resp.ends_with("kured_reboot_required{node=\"n1\"} 1\n"), "{resp}");

    m.set_reboot_required("n1", false, OffsetDateTime::now_utc());
    let resp = request(srv.local_addr(), "GET /metrics HTTP/1.0\r\n\r\n");
    assert!(resp.ends_with("kured_reboot_required{node=\"n1\"} 0\n"), "{resp}");

    let resp = request(srv.local_addr(), "GET /other HTTP/1.1\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
    let resp = request(srv.local_addr(), "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n") && resp.ends_with("\r\n\r\n"), "{resp}");
    srv.shutdown();
}

#[test]
fn a_stalled_client_does_not_block_a_scrape() {
    let m = Metrics::new();
    m.set_reboot_required("n1", true, OffsetDateTime::now_utc());
    let srv = server(&m);
    // connects, sends half a request line, and stays silent
    let mut stalled = TcpStream::connect(srv.local_addr()).unwrap();
    stalled.write_all(b"GET /met").unwrap();
    let resp = request(srv.local_addr(), "GET /metrics HTTP/1.1\r\n\r\n");
    assert!(resp.contains("kured_reboot_required{node=\"n1\"} 1"), "{resp}");
    drop(stalled);
    srv.shutdown();
}

#[test]
fn bind_errors_name_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = metrics::serve("127.0.0.1", port, Metrics::new()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(matches!(e, kured::Error::Startup(_)), "{e:?}");
}

#[test]
fn promtool_accepts_the_output() {
    let m = Metrics::new();
    m.set_reboot_required("node-a", true, OffsetDateTime::now_utc());
    m.set_reboot_required("we\"ird\\node", false, OffsetDateTime::now_utc());
    let srv = server(&m);
    let resp = request(srv.local_addr(), "GET /metrics HTTP/1.1\r\n\r\n");
    srv.shutdown();
    let body = resp.split_once("\r\n\r\n").unwrap().1.to_string();

    promtool::check(&body);
}
