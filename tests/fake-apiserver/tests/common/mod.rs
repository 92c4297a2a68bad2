//! A tiny HTTPS client for the tests (the fake server's crate has no HTTP client
//! dependency): trusts only the given CA, speaks HTTP/1.1 over rustls, reads
//! Content-Length and chunked responses, and can keep a connection open.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::Value;

use fakeapi::FakeApiServer;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub fn tls_config(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("test CA parses")).expect("test CA is a valid root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("default versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub struct Client {
    pub addr: std::net::SocketAddr,
    pub port: u16,
    pub token: Option<String>,
    cfg: Arc<ClientConfig>,
}

pub struct Session {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl Client {
    /// A client trusting the server's test CA and sending its current token.
    pub fn new(api: &FakeApiServer) -> Client {
        Client { addr: api.addr(), port: api.port(), token: Some(api.token()), cfg: tls_config(api.ca_pem()) }
    }

    pub fn with_token(mut self, token: Option<&str>) -> Client {
        self.token = token.map(String::from);
        self
    }

    pub fn connect(&self) -> io::Result<Session> {
        let sock = TcpStream::connect(self.addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(15)))?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let conn = ClientConnection::new(self.cfg.clone(), name).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(conn, sock);
        tls.flush()?;
        // drive the handshake now so certificate errors surface here
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Session { tls, buf: Vec::new() })
    }

    /// One request on a fresh connection.
    pub fn call(&self, method: &str, path: &str, content_type: Option<&str>, body: Option<&str>) -> io::Result<Resp> {
        let mut s = self.connect()?;
        s.send(method, path, self.token.as_deref(), content_type, body.map(str::as_bytes), false)?;
        s.read_response()
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None, None).expect("GET answered")
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, Some("application/json"), Some(&body.to_string())).expect("POST answered")
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.call("PUT", path, Some("application/json"), Some(&body.to_string())).expect("PUT answered")
    }

    pub fn patch(&self, path: &str, content_type: &str, body: &Value) -> Resp {
        self.call("PATCH", path, Some(content_type), Some(&body.to_string())).expect("PATCH answered")
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None, None).expect("DELETE answered")
    }
}

impl Session {
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ct: Option<&str>,
        body: Option<&[u8]>,
        chunked: bool,
    ) -> io::Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(ct) = ct {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        let mut out = Vec::new();
        match body {
            Some(b) if chunked => {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                out.extend(head.as_bytes());
                for part in b.chunks(7) {
                    out.extend(format!("{:x}\r\n", part.len()).as_bytes());
                    out.extend(part);
                    out.extend(b"\r\n");
                }
                out.extend(b"0\r\n\r\n");
            }
            Some(b) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
                out.extend(head.as_bytes());
                out.extend(b);
            }
            None => {
                head.push_str("\r\n");
                out.extend(head.as_bytes());
            }
        }
        self.tls.write_all(&out)?;
        self.tls.flush()
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut tmp = [0u8; 16384];
        let n = self.tls.read(&mut tmp)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(l);
            }
            self.fill()?;
        }
    }

    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    pub fn read_response(&mut self) -> io::Result<Resp> {
        let status_line = self.line()?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| io::Error::other("bad header"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let find = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let n = usize::from_str_radix(self.line()?.trim(), 16).map_err(io::Error::other)?;
                if n == 0 {
                    self.line()?;
                    break;
                }
                body.extend(self.take(n)?);
                self.take(2)?;
            }
            body
        } else {
            let n: usize = find("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            self.take(n)?
        };
        Ok(Resp { status, headers, body })
    }
}

/// Nodes n1..nN, Ready.
pub fn nodes(api: &FakeApiServer, names: &[&str]) {
    for n in names {
        api.create(serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}));
    }
}

/// Wait (bounded) for a condition on the server; panics with `what` on timeout.
#[track_caller]
pub fn wait(api: &FakeApiServer, what: &str, cond: impl Fn(&FakeApiServer) -> bool) {
    assert!(api.wait_until(Duration::from_secs(10), cond), "timed out waiting for {what}");
}
