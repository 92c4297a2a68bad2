//! E-mail in shoutrrr's `smtp://` URL form:
//! `smtp://[user[:password]@]host[:port]/?from=a@example.org&to=b@example.org[,c@...]`
//! with shoutrrr's options `subject`, `fromname`, `clienthost`, `encryption`
//! (`Auto`, `None`, `ExplicitTLS`, `ImplicitTLS`), `usestarttls` (`yes`/`no`)
//! and `auth` (`Unknown`, `None`, `Plain`). Port 25 unless given; `Auto` is
//! TLS from the start on port 465 and STARTTLS when the server offers it
//! elsewhere (`ExplicitTLS`: STARTTLS required). A user given means AUTH PLAIN.
//!
//! One synchronous SMTP dialogue per message (RFC 5321), every read and write
//! bounded in time and size: a server that hangs or talks garbage is an error,
//! never a stalled loop. The message text is pure ([`Smtp::message`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::url::ServiceUrl;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// RFC 5321's line limit is 512 octets; a reply longer than this is garbage.
const MAX_REPLY_LINE: u64 = 4096;
const MAX_REPLY_LINES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    Auto,
    None,
    Explicit,
    Implicit,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    user: Option<(String, String)>,
    from: String,
    from_name: Option<String>,
    to: Vec<String>,
    subject: String,
    client_host: String,
    encryption: Encryption,
    use_starttls: bool,
    /// CA certificates trusted besides the Mozilla roots: tests only (see
    /// `Notifier::with_extra_root_pem`), never from configuration.
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

fn yes(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// An address is used in SMTP commands and headers: no line breaks or brackets.
fn address(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() || !v.contains('@') || v.contains(['\r', '\n', '<', '>', ' ']) {
        return Err(format!("{v:?} is not an e-mail address"));
    }
    Ok(v.to_string())
}

impl Smtp {
    pub fn parse(u: &ServiceUrl) -> Result<Smtp, String> {
        let known = ["from", "to", "subject", "fromname", "clienthost", "encryption", "usestarttls", "auth"];
        for k in u.unknown_params(&known) {
            log::warn!("smtp notify url: ignoring unknown option {k:?}");
        }
        if u.host.is_empty() {
            return Err("expected smtp://[user:password@]host[:port]/?from=...&to=...".into());
        }
        let from = address(u.param("from").ok_or("missing from=")?)?;
        let to = u.param("to").ok_or("missing to=")?.split(',').map(address).collect::<Result<Vec<_>, _>>()?;
        let encryption = match u.param("encryption").unwrap_or("auto").to_ascii_lowercase().as_str() {
            "auto" => Encryption::Auto,
            "none" => Encryption::None,
            "explicittls" => Encryption::Explicit,
            "implicittls" => Encryption::Implicit,
            other => return Err(format!("encryption={other:?}: expected Auto, None, ExplicitTLS or ImplicitTLS")),
        };
        let use_starttls = match u.param("usestarttls") {
            None => true,
            Some(v) => yes(v).ok_or_else(|| format!("usestarttls={v:?}: expected yes or no"))?,
        };
        let auth = u.param("auth").unwrap_or("unknown").to_ascii_lowercase();
        let user = match (auth.as_str(), u.user.as_deref()) {
            ("none", _) | (_, None | Some("")) => None,
            ("unknown" | "plain", Some(user)) => Some((user.to_string(), u.password.clone().unwrap_or_default())),
            (other, _) => return Err(format!("auth={other:?}: kured-rs speaks AUTH PLAIN only (auth=Plain or None)")),
        };
        let clean = |v: Option<&str>| v.map(|s| s.replace(['\r', '\n'], " ")).filter(|s| !s.is_empty());
        Ok(Smtp {
            host: u.host.trim_matches(['[', ']']).to_string(),
            port: u.port.unwrap_or(25),
            user,
            from,
            from_name: clean(u.param("fromname")),
            to,
            subject: clean(u.param("subject")).unwrap_or_else(|| "kured".into()),
            client_host: clean(u.param("clienthost")).unwrap_or_else(|| "localhost".into()),
            encryption,
            use_starttls,
            extra_roots: Vec::new(),
        })
    }

    /// Also trust the CA certificates in `pem` (tests only).
    #[cfg(any(test, feature = "test-support"))]
    pub fn trust_pem(&mut self, pem: &str) -> Result<(), String> {
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            self.extra_roots.push(cert.map_err(|e| format!("CA certificate: {e}"))?);
        }
        Ok(())
    }

    /// The message as sent after DATA: headers, the text (CRLF lines,
    /// dot-stuffed), and the terminating `.` line. `date` is RFC 5322's.
    pub fn message(&self, text: &str, date: &str) -> String {
        let from = match &self.from_name {
            Some(name) => format!("\"{}\" <{}>", name.replace('"', "'"), self.from),
            None => format!("<{}>", self.from),
        };
        let mut out = format!(
            "Date: {date}\r\nFrom: {from}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            self.to.join(", "),
            self.subject
        );
        for line in text.lines() {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(".\r\n");
        out
    }

    pub fn send(&self, text: &str) -> Result<(), String> {
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".into());
        let message = self.message(text, &date);
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} has no address", self.host))?;
        let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|_| tcp.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let implicit =
            self.encryption == Encryption::Implicit || (self.encryption == Encryption::Auto && self.port == 465);
        if implicit {
            let mut s = Session::new(self.tls(tcp.try_clone().map_err(|e| e.to_string())?)?);
            return self.dialogue(&mut s, &message, true);
        }
        let mut plain = Session::new(Box::new(tcp.try_clone().map_err(|e| e.to_string())?));
        plain.expect(220, "greeting")?;
        let ehlo = plain.command(&format!("EHLO {}", self.client_host), 250)?;
        let offered = ehlo.iter().any(|l| l.to_ascii_uppercase().starts_with("STARTTLS"));
        let wanted = self.encryption == Encryption::Explicit || (self.use_starttls && offered);
        if !wanted {
            return self.after_hello(&mut plain, &message);
        }
        if !offered {
            return Err("encryption=ExplicitTLS, but the server offers no STARTTLS".into());
        }
        plain.command("STARTTLS", 220)?;
        drop(plain);
        let mut s = Session::new(self.tls(tcp)?);
        self.dialogue(&mut s, &message, false)
    }

    /// After a TLS handshake (or at an implicit-TLS connect): (greeting,) EHLO again.
    fn dialogue(&self, s: &mut Session, message: &str, greeting: bool) -> Result<(), String> {
        if greeting {
            s.expect(220, "greeting")?;
        }
        s.command(&format!("EHLO {}", self.client_host), 250)?;
        self.after_hello(s, message)
    }

    fn after_hello(&self, s: &mut Session, message: &str) -> Result<(), String> {
        if let Some((user, password)) = &self.user {
            let token = crate::outbound::base64(format!("\0{user}\0{password}").as_bytes());
            s.command(&format!("AUTH PLAIN {token}"), 235).map_err(|e| e.replace(&token, "***"))?;
        }
        s.command(&format!("MAIL FROM:<{}>", self.from), 250)?;
        for to in &self.to {
            s.command(&format!("RCPT TO:<{to}>"), 250)?;
        }
        s.command("DATA", 354)?;
        s.write(message)?;
        s.expect(250, "end of data")?;
        // The message is accepted; a QUIT that fails changes nothing.
        let _ = s.command("QUIT", 221);
        Ok(())
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

struct Session {
    stream: BufReader<Box<dyn Stream>>,
}

impl Session {
    fn new(stream: Box<dyn Stream>) -> Session {
        Session { stream: BufReader::new(stream) }
    }

    fn write(&mut self, text: &str) -> Result<(), String> {
        let w = self.stream.get_mut();
        w.write_all(text.as_bytes()).and_then(|_| w.flush()).map_err(|e| format!("write: {e}"))
    }

    /// Send one command line; the reply must have `code`. Returns its lines.
    fn command(&mut self, line: &str, code: u16) -> Result<Vec<String>, String> {
        self.write(&format!("{line}\r\n"))?;
        let verb = line.split(' ').next().unwrap_or(line);
        let verb = if verb.starts_with("MAIL") || verb.starts_with("RCPT") { &line[..4] } else { verb };
        self.expect(code, verb)
    }

    /// Read one (possibly multi-line) reply and check its code.
    fn expect(&mut self, code: u16, after: &str) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            let n = (&mut self.stream)
                .take(MAX_REPLY_LINE)
                .read_until(b'\n', &mut raw)
                .map_err(|e| format!("{after}: {e}"))?;
            if n == 0 {
                return Err(format!("{after}: the server closed the connection"));
            }
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            let (got, more, text) =
                parse_reply_line(&line).ok_or_else(|| format!("{after}: not an SMTP reply: {line:?}"))?;
            if got != code {
                return Err(format!("{after}: the server answered {got} {text}"));
            }
            lines.push(text.to_string());
            if !more {
                return Ok(lines);
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(format!("{after}: a reply of more than {MAX_REPLY_LINES} lines"));
            }
        }
    }
}

/// `250-text` (more follow) or `250 text` (last): (code, more, text).
pub fn parse_reply_line(line: &str) -> Option<(u16, bool, &str)> {
    let code = line.get(..3)?.parse::<u16>().ok().filter(|c| (200..600).contains(c))?;
    match line.as_bytes().get(3) {
        None => Some((code, false, "")),
        Some(b' ') => Some((code, false, &line[4..])),
        Some(b'-') => Some((code, true, &line[4..])),
        Some(_) => None,
    }
}

impl Smtp {
    /// TLS to the server, trusting the Mozilla roots (as HTTPS notifications do).
    fn tls(&self, tcp: TcpStream) -> Result<Box<dyn Stream>, String> {
        tls(&self.host, tcp, &self.extra_roots)
    }
}

fn tls(
    host: &str,
    tcp: TcpStream,
    extra: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<Box<dyn Stream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| format!("tls: extra root: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| format!("tls name {host:?}: {e}"))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| format!("tls: {e}"))?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<Smtp, String> {
        Smtp::parse(&ServiceUrl::parse(url).unwrap())
    }

    #[test]
    fn parses_shoutrrr_urls() {
        let s = smtp("smtp://kured:s3cret@mail.example.org:587/?from=kured@example.org&to=ops@example.org,oncall@example.org&subject=Reboots&fromname=Kured").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.encryption, s.use_starttls),
            ("mail.example.org", 587, Encryption::Auto, true)
        );
        assert_eq!(s.user, Some(("kured".into(), "s3cret".into())));
        assert_eq!(s.to, ["ops@example.org", "oncall@example.org"]);
        let s = smtp("smtp://relay/?from=a@b.c&to=d@e.f&encryption=None&usestarttls=no&auth=None").unwrap();
        assert_eq!((s.port, s.encryption, s.use_starttls, s.user.is_none()), (25, Encryption::None, false, true));
        for (url, why) in [
            ("smtp://relay/?to=d@e.f", "missing from="),
            ("smtp://relay/?from=a@b.c", "missing to="),
            ("smtp://relay/?from=a@b.c&to=nobody", "not an e-mail address"),
            ("smtp://relay/?from=a@b.c%0D%0ARCPT&to=d@e.f", "not an e-mail address"),
            ("smtp://relay/?from=a@b.c&to=d@e.f&encryption=SSL", "encryption"),
            ("smtp://relay/?from=a@b.c&to=d@e.f&usestarttls=maybe", "usestarttls"),
            ("smtp://u:p@relay/?from=a@b.c&to=d@e.f&auth=CRAMMD5", "AUTH PLAIN only"),
        ] {
            let err = smtp(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn builds_the_message() {
        let s = smtp("smtp://relay/?from=kured@example.org&to=ops@example.org&subject=Reboot%0Anews&fromname=Kured")
            .unwrap();
        let m = s.message("Rebooting node n1\n.hidden\nend", "Thu, 03 Dec 2026 10:00:00 +0000");
        assert!(m.starts_with("Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nFrom: \"Kured\" <kured@example.org>\r\nTo: ops@example.org\r\nSubject: Reboot news\r\n"), "{m}");
        assert!(m.ends_with("\r\n\r\nRebooting node n1\r\n..hidden\r\nend\r\n.\r\n"), "{m}");
    }

    #[test]
    fn reads_reply_lines() {
        assert_eq!(parse_reply_line("250-mail.example.org"), Some((250, true, "mail.example.org")));
        assert_eq!(parse_reply_line("250 STARTTLS"), Some((250, false, "STARTTLS")));
        assert_eq!(parse_reply_line("221"), Some((221, false, "")));
        assert_eq!(parse_reply_line("HTTP/1.1 400"), None);
        assert_eq!(parse_reply_line("99 x"), None);
        assert_eq!(parse_reply_line("250x"), None);
    }
}
