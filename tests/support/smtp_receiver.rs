//! A small SMTP receiver on 127.0.0.1 for tests: it speaks enough RFC 5321
//! (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to accept messages and records
//! each one. Every socket has a timeout, and the server thread stops by itself
//! after [`LIFETIME`] or when dropped. `garbage` answers HTTP instead;
//! [`SmtpReceiver::start_tls`] offers STARTTLS with a rustls server config.
//! Included with `#[path = "support/smtp_receiver.rs"] mod smtp_receiver;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LIFETIME: Duration = Duration::from_secs(60);
const IO: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    pub ehlo: String,
    /// the decoded AUTH PLAIN user and password, if it authenticated
    pub auth: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
    /// what came after DATA, without the final `.` line, dot-unstuffed
    pub data: String,
    /// it arrived after a STARTTLS handshake
    pub tls: bool,
}

#[derive(Clone)]
enum Mode {
    Plain,
    Garbage,
    StartTls(Arc<rustls::ServerConfig>),
}

pub struct SmtpReceiver {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpReceiver {
    pub fn start(garbage: bool) -> SmtpReceiver {
        SmtpReceiver::run(if garbage { Mode::Garbage } else { Mode::Plain })
    }

    /// Offers STARTTLS, and completes it with `config`.
    pub fn start_tls(config: Arc<rustls::ServerConfig>) -> SmtpReceiver {
        SmtpReceiver::run(Mode::StartTls(config))
    }

    fn run(mode: Mode) -> SmtpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP receiver");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mails, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (m, s) = (mails.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while !s.load(Ordering::SeqCst) && started.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(IO));
                        let _ = conn.set_write_timeout(Some(IO));
                        serve(conn, &mode, &m);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SmtpReceiver { port, mails, stop, thread: Some(thread) }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".bytes().position(|x| x == c);
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// One conversation; a mail is recorded before its 250 is sent, so a sender
/// that saw the 250 finds it recorded.
fn serve(mut conn: TcpStream, mode: &Mode, mails: &Mutex<Vec<Mail>>) -> Option<()> {
    if let Mode::Garbage = mode {
        conn.write_all(b"HTTP/1.1 400 Bad Request\r\n").ok()?;
        return None;
    }
    conn.write_all(b"220 receiver.test ESMTP ready\r\n").ok()?;
    let offer = matches!(mode, Mode::StartTls(_));
    let mut plain = BufReader::new(conn);
    let wants_tls = dialogue(&mut plain, offer, false, mails)?;
    let (Mode::StartTls(config), true) = (mode, wants_tls) else { return Some(()) };
    let tcp = plain.into_inner();
    let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config.clone()).ok()?, tcp);
    dialogue(&mut BufReader::new(tls), false, true, mails)?;
    Some(())
}

/// Commands until QUIT (false) or an accepted STARTTLS (true).
fn dialogue<S: Read + Write>(
    r: &mut BufReader<S>,
    offer_starttls: bool,
    tls: bool,
    mails: &Mutex<Vec<Mail>>,
) -> Option<bool> {
    let mut mail = Mail { tls, ..Mail::default() };
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return Some(false);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let mut say = |text: &str| {
            let w = r.get_mut();
            w.write_all(format!("{text}\r\n").as_bytes()).and_then(|_| w.flush()).ok()
        };
        if upper.starts_with("EHLO ") {
            mail.ehlo = cmd[5..].to_string();
            say("250-receiver.test")?;
            if offer_starttls {
                say("250-STARTTLS")?;
            }
            say("250-AUTH PLAIN")?;
            say("250 8BITMIME")?;
        } else if upper == "STARTTLS" && offer_starttls {
            say("220 2.0.0 Ready to start TLS")?;
            return Some(true);
        } else if let Some(token) = cmd.strip_prefix("AUTH PLAIN ") {
            let raw = base64_decode(token);
            let parts: Vec<String> = raw.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            mail.auth = Some((parts.get(1).cloned().unwrap_or_default(), parts.get(2).cloned().unwrap_or_default()));
            say("235 2.7.0 Authentication successful")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = cmd[10..].trim_matches(['<', '>']).to_string();
            say("250 2.1.0 Ok")?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(cmd[8..].trim_matches(['<', '>']).to_string());
            say("250 2.1.5 Ok")?;
        } else if upper == "DATA" {
            say("354 End data with <CR><LF>.<CR><LF>")?;
            loop {
                line.clear();
                if r.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                mail.data.push_str(l.strip_prefix('.').unwrap_or(l));
                mail.data.push('\n');
            }
            mails.lock().unwrap_or_else(|p| p.into_inner()).push(mail.clone());
            let w = r.get_mut();
            w.write_all(b"250 2.0.0 Ok: queued\r\n").and_then(|_| w.flush()).ok()?;
        } else if upper == "QUIT" {
            let _ = say("221 2.0.0 Bye");
            return Some(false);
        } else {
            say("502 5.5.2 Error: command not recognized")?;
        }
    }
}
