//! HTTP/1.1 framing over one TLS connection: requests with Content-Length or
//! chunked bodies, keep-alive, plain and chunked (watch) responses. Reads poll a
//! stop flag so that a connection a client keeps idle never holds the server up.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::{ServerConnection, StreamOwned};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// the raw query string, without `?`
    pub query: String,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// the client asked to close after this request (or spoke HTTP/1.0)
    pub close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// %XX-decoding; in query strings `+` also means a space.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

pub struct Conn<'a> {
    pub tls: StreamOwned<ServerConnection, TcpStream>,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl<'a> Conn<'a> {
    pub fn new(tls: StreamOwned<ServerConnection, TcpStream>, stop: &'a AtomicBool) -> Conn<'a> {
        Conn { tls, buf: Vec::new(), stop }
    }

    /// Read more bytes; Ok(false) at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        let mut tmp = [0u8; 16 * 1024];
        loop {
            match self.tls.read(&mut tmp) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server stopping"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(Some(l));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(bad("header line too long"));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(bad("body shorter than announced"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The next request, or None when the client closed the connection between requests.
    pub fn read_request(&mut self) -> io::Result<Option<Request>> {
        let mut first = match self.line()? {
            Some(l) => l,
            None => return Ok(None),
        };
        while first.is_empty() {
            first = match self.line()? {
                Some(l) => l,
                None => return Ok(None),
            };
        }
        let mut parts = first.split(' ');
        let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(t), Some(v)) => (m.to_string(), t.to_string(), v.to_string()),
            _ => return Err(bad("malformed request line")),
        };
        let mut headers = Vec::new();
        loop {
            let l = self.line()?.ok_or_else(|| bad("connection closed inside headers"))?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| bad("malformed header"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let h = |name: &str| {
            headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_ascii_lowercase())
        };
        let chunked = h("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        if h("expect").is_some_and(|v| v.contains("100-continue")) {
            // curl waits for this before sending a large body
            self.tls.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            self.tls.flush()?;
        }
        let body = if chunked {
            self.chunked_body()?
        } else {
            let n: usize =
                h("content-length").map(|v| v.parse().map_err(|_| bad("bad content-length"))).transpose()?.unwrap_or(0);
            if n > MAX_BODY {
                return Err(bad("body too large"));
            }
            self.take(n)?
        };
        let close = match h("connection") {
            Some(c) if c.contains("close") => true,
            Some(c) if c.contains("keep-alive") => false,
            _ => version == "HTTP/1.0",
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        Ok(Some(Request {
            method,
            path: percent_decode(path, false),
            query: query.to_string(),
            params: parse_query(query),
            headers,
            body,
            close,
        }))
    }

    fn chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let l = self.line()?.ok_or_else(|| bad("connection closed inside chunked body"))?;
            let size_hex = l.split(';').next().unwrap_or("").trim();
            let n = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if body.len() + n > MAX_BODY {
                return Err(bad("body too large"));
            }
            if n == 0 {
                // trailers, up to the empty line
                while !self.line()?.ok_or_else(|| bad("connection closed in trailers"))?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.take(n)?);
            self.take(2)?;
        }
    }

    pub fn write_response(
        &mut self,
        code: u16,
        content_type: &str,
        extra: &[(String, String)],
        body: &[u8],
        close: bool,
    ) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nCache-Control: no-cache, private\r\nContent-Length: {}\r\n",
            reason_phrase(code),
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.tls.write_all(&all)?;
        self.tls.flush()
    }

    pub fn start_chunked(&mut self, code: u16, content_type: &str) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nCache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n",
            reason_phrase(code)
        );
        self.tls.write_all(head.as_bytes())?;
        self.tls.flush()
    }

    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut all = format!("{:x}\r\n", data.len()).into_bytes();
        all.extend_from_slice(data);
        all.extend_from_slice(b"\r\n");
        self.tls.write_all(&all)?;
        self.tls.flush()
    }

    pub fn end_chunked(&mut self) -> io::Result<()> {
        self.tls.write_all(b"0\r\n\r\n")?;
        self.tls.flush()
    }

    /// Close the TCP connection with a RST instead of a FIN (a "connection reset" fault).
    pub fn reset(self) {
        let fd = self.tls.sock.as_raw_fd();
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: fd is an open socket owned by self.tls for the duration of the call,
        // and the option value points at a properly sized, initialised `linger`.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self);
    }

    /// Close without a TLS close_notify or any answer (a "dropped connection" fault).
    pub fn drop_silently(self) {
        let _ = self.tls.sock.shutdown(std::net::Shutdown::Both);
    }
}

pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
