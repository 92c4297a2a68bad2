//! One API request, the way client-go sends it: bearer token (re-read and the
//! request resent once after a 401), `Status` bodies kept on errors, and a
//! 429/5xx carrying `Retry-After` waited out and resent, within bounds. A GET
//! whose connection was lost (reset, refused, closed unanswered) is resent
//! twice, a moment apart: one lost read must not end a whole reboot attempt.
//! So is a GET, or a merge or strategic-merge PATCH (it sets fields to values:
//! sent twice, it leaves what it leaves sent once), answered 500/502/503/504
//! without `Retry-After`: against a flapping API server a drain of a dozen
//! requests would otherwise rarely get through. Other writes are not: they
//! may have been applied (the answer lost, or later than `--api-timeout`),
//! and only the caller, reading again, can tell.

use std::time::{Duration, Instant};

use ureq::Agent;

use super::status::{api_error, retry_after};
use super::tls;
use super::token::TokenSource;
use super::KubeConfig;
use crate::error::{Error, Result};

/// client-go's `maxRetries` for Retry-After answers.
pub const MAX_RETRIES: u32 = 10;
/// A server asking for more than this is asked again sooner: kured's loop has
/// its own periods and must not hang on one request.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
pub const MAX_TOTAL_WAIT: Duration = Duration::from_secs(60);
/// How many times a GET whose connection was lost, or an idempotent request
/// answered with a bare 5xx, is resent (not after a timeout: that already took
/// its whole `--api-timeout`).
pub const GET_TRANSPORT_RETRIES: u32 = 2;
/// The wait before the first resend (doubled for the next).
const TRANSPORT_BACKOFF: Duration = Duration::from_millis(100);
/// No Retry-After wait starts once a call has taken this long (each attempt
/// is bounded by `--api-timeout`, at most 1 min), so one call never holds the
/// loop for long: well inside /healthz's `STUCK_AFTER`.
pub const CALL_BUDGET: Duration = Duration::from_secs(120);

pub struct Request<'a> {
    pub method: &'static str,
    /// path and query, without the host
    pub path: &'a str,
    /// content type and bytes
    pub body: Option<(&'static str, &'a [u8])>,
    /// false for evictions: their 429 is a PodDisruptionBudget decision the
    /// drain loop waits on itself, so it comes back at once (a 5xx with
    /// Retry-After is still waited out: that is the server, not a budget)
    pub wait_on_429: bool,
    /// The largest answer body read, in bytes (see `kube::limits`): the pod's
    /// memory limit is 32 MiB, so a hostile or broken server must not be able
    /// to make us hold more.
    pub max_body: u64,
    /// What the answer is, for the error when it is larger ("Node").
    pub what: &'static str,
}

struct Answer {
    code: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

#[derive(Debug)]
pub struct Http {
    agent: Agent,
    base_url: String,
    ca_path: String,
    token: TokenSource,
}

impl Http {
    pub fn new(config: &KubeConfig) -> Result<Http> {
        let certs = tls::load_ca(&config.ca_path)?;
        let agent_config = Agent::config_builder()
            // Keep 4xx/5xx as responses: their Status body says why.
            .http_status_as_error(false)
            .tls_config(tls::tls_config(certs))
            // Never take HTTPS_PROXY/ALL_PROXY from the node's environment: the
            // API server is reached directly, and a proxy must not see our token.
            .proxy(None)
            .https_only(true)
            // The API server does not redirect; a redirect is an answer to report.
            .max_redirects(0)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.read_timeout))
            .user_agent(format!("kured-rs/{}", crate::VERSION))
            .build();
        Ok(Http {
            agent: agent_config.new_agent(),
            base_url: config.base_url.trim_end_matches('/').to_string(),
            ca_path: config.ca_path.clone(),
            token: TokenSource::new(&config.token_path),
        })
    }

    /// The body of a 2xx answer, or the error.
    pub fn send(&self, req: &Request) -> Result<Vec<u8>> {
        let mut token = self.token.get()?;
        let mut reauthenticated = false;
        let mut retries = 0;
        let mut waited = Duration::ZERO;
        let mut lost = 0;
        let started = Instant::now();
        loop {
            let answer = match self.send_once(req, &token) {
                Ok(answer) => answer,
                Err((e, connection_lost)) => match resend_wait(req.method, connection_lost, lost) {
                    Some(wait) => {
                        let wait = wait + crate::clock::jitter(TRANSPORT_BACKOFF);
                        lost += 1;
                        log::info!("{e}; resending in {wait:?}");
                        std::thread::sleep(wait);
                        continue;
                    }
                    None => return Err(e),
                },
            };
            log::debug!("{} {} -> {}", req.method, req.path, answer.code);
            if (200..300).contains(&answer.code) {
                return Ok(answer.body);
            }
            if answer.code == 401 && !reauthenticated {
                reauthenticated = true;
                token = self.token.refresh()?;
                continue;
            }
            let wait = match answer.code == 429 && !req.wait_on_429 {
                true => None,
                false => retry_wait(answer.code, answer.retry_after, retries, waited)
                    .filter(|w| started.elapsed() + *w < CALL_BUDGET),
            };
            let Some(wait) = wait else {
                let idempotent = idempotent(req.method, req.body.map(|(content_type, _)| content_type));
                if let Some(wait) = bare_5xx_wait(idempotent, answer.code, answer.retry_after, lost) {
                    let wait = wait + crate::clock::jitter(TRANSPORT_BACKOFF);
                    lost += 1;
                    log::info!("{} {}: {}; resending in {wait:?}", req.method, req.path, answer.code);
                    std::thread::sleep(wait);
                    continue;
                }
                return Err(api_error(req.method, req.path, answer.code, &answer.body, answer.retry_after));
            };
            log::info!("{} {}: {} with Retry-After, resending in {:?}", req.method, req.path, answer.code, wait);
            std::thread::sleep(wait);
            retries += 1;
            waited += wait;
        }
    }

    /// A GET whose 2xx body is read as it arrives (a watch): the reader, bounded
    /// by `timeout` in all (ureq turns it into socket read timeouts), so a
    /// server or proxy that stops sending cannot hang us past it. A 401 re-reads
    /// the token once; other errors come back as for [`Http::send`] (no
    /// Retry-After waits: the caller falls back to its own pace).
    pub fn open_stream(&self, path: &str, timeout: Duration) -> Result<ureq::BodyReader<'static>> {
        let mut token = self.token.get()?;
        let mut reauthenticated = false;
        loop {
            let url = format!("{}{}", self.base_url, path);
            let transport = |message: String| Error::Transport { method: "GET", url: url.clone(), message };
            let request = ureq::http::Request::builder()
                .method("GET")
                .uri(&url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Accept", "application/json")
                .body(())
                .map_err(|e| transport(format!("invalid request: {e}")))?;
            let request = self.agent.configure_request(request).timeout_global(Some(timeout)).build();
            let mut response = self.agent.run(request).map_err(|e| transport(self.describe(&e)))?;
            let code = response.status().as_u16();
            log::debug!("GET {path} -> {code} (stream)");
            if (200..300).contains(&code) {
                return Ok(response.into_body().into_reader());
            }
            if code == 401 && !reauthenticated {
                reauthenticated = true;
                token = self.token.refresh()?;
                continue;
            }
            let body = response.body_mut().with_config().limit(super::limits::STATUS).read_to_vec().unwrap_or_default();
            return Err(api_error("GET", path, code, &body, None));
        }
    }

    /// One attempt; on failure the error and whether the connection was lost
    /// (see [`connection_lost`]).
    fn send_once(&self, req: &Request, token: &str) -> std::result::Result<Answer, (Error, bool)> {
        let url = format!("{}{}", self.base_url, req.path);
        let transport = |message: String| Error::Transport { method: req.method, url: url.clone(), message };
        let lasting = |e: Error| (e, false);
        let builder = ureq::http::Request::builder()
            .method(req.method)
            .uri(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json");
        let sent = match req.body {
            Some((content_type, bytes)) => builder
                .header("Content-Type", content_type)
                .body(bytes)
                .map_err(|e| transport(format!("invalid request: {e}")))
                .map(|r| self.agent.run(r)),
            None => builder.body(()).map_err(|e| transport(format!("invalid request: {e}"))).map(|r| self.agent.run(r)),
        }
        .map_err(lasting)?;
        let mut response = sent.map_err(|e| (transport(self.describe(&e)), connection_lost(&e)))?;
        let code = response.status().as_u16();
        let header = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.body_mut().with_config().limit(req.max_body).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => lasting(Error::Decode {
                what: format!("{} from {} {}", req.what, req.method, req.path),
                message: format!(
                    "the {code} answer is larger than {} KiB, the most kured reads for it (a broken server or proxy?)",
                    req.max_body / 1024
                ),
            }),
            e => (transport(format!("reading the {code} answer: {}", self.describe(&e))), connection_lost(&e)),
        })?;
        let retry_after = match code {
            429 | 500..=599 => retry_after(header.as_deref(), &body),
            _ => None,
        };
        Ok(Answer { code, retry_after, body })
    }

    /// ureq's message, plus what to check when the handshake refused the server.
    fn describe(&self, e: &ureq::Error) -> String {
        let message = e.to_string();
        let message = message.strip_prefix("io: ").map(str::to_string).unwrap_or(message);
        let lower = message.to_lowercase();
        if matches!(e, ureq::Error::Rustls(_)) || lower.contains("certificate") || lower.contains("unknownissuer") {
            format!("tls: {message} (the server certificate must be signed by the CA in {})", self.ca_path)
        } else {
            message
        }
    }
}

/// The connection was lost (reset, refused, closed unanswered), which a resend
/// may well get past; not a timeout (it already took its whole time, however
/// short `--api-timeout` is), a certificate refused or an answer too large.
fn connection_lost(e: &ureq::Error) -> bool {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    match e {
        ureq::Error::Io(io) => !matches!(io.kind(), TimedOut | WouldBlock),
        ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// The wait (before jitter) before resending a `method` request whose
/// connection was lost or not, resent `lost` times already; None = give up.
fn resend_wait(method: &str, connection_lost: bool, lost: u32) -> Option<Duration> {
    (method == "GET" && connection_lost && lost < GET_TRANSPORT_RETRIES).then(|| TRANSPORT_BACKOFF * 2u32.pow(lost))
}

/// A request that, sent again after it was applied, changes nothing more: a
/// GET, or a PATCH that sets fields (merge, strategic merge; not a JSON patch,
/// whose operations may add to a list).
fn idempotent(method: &str, content_type: Option<&str>) -> bool {
    let setting = |t: &str| t == "application/merge-patch+json" || t == "application/strategic-merge-patch+json";
    method == "GET" || (method == "PATCH" && content_type.is_some_and(setting))
}

/// The wait (before jitter) before resending an `idempotent` request answered
/// `code` without Retry-After, resent `lost` times already; None = give up.
/// Only the server's transient answers (500, 502, 503, 504): a 501 or 505 is
/// not going to change.
fn bare_5xx_wait(idempotent: bool, code: u16, retry_after: Option<Duration>, lost: u32) -> Option<Duration> {
    let transient = matches!(code, 500 | 502 | 503 | 504);
    (idempotent && transient && retry_after.is_none() && lost < GET_TRANSPORT_RETRIES)
        .then(|| TRANSPORT_BACKOFF * 2u32.pow(lost))
}

/// How long to wait before resending after answer `code` with `retry_after`,
/// having resent `retries` times and waited `waited` in all; None = give up.
fn retry_wait(code: u16, retry_after: Option<Duration>, retries: u32, waited: Duration) -> Option<Duration> {
    if !(code == 429 || (500..600).contains(&code)) || retries >= MAX_RETRIES {
        return None;
    }
    let wait = retry_after?.min(MAX_WAIT);
    (waited + wait <= MAX_TOTAL_WAIT).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn wait(code: u16, retry_after: Option<u64>, retries: u32, waited: u64, want: Option<u64>) {
        let got = retry_wait(code, retry_after.map(Duration::from_secs), retries, Duration::from_secs(waited));
        assert_eq!(got, want.map(Duration::from_secs));
    }

    #[track_caller]
    fn resend(method: &str, lost_connection: bool, lost: u32, want_ms: Option<u64>) {
        assert_eq!(resend_wait(method, lost_connection, lost), want_ms.map(Duration::from_millis));
    }

    #[test]
    fn only_gets_are_resent_after_a_lost_connection() {
        resend("GET", true, 0, Some(100));
        resend("GET", true, 1, Some(200));
        resend("GET", true, 2, None);
        resend("GET", false, 0, None);
        // a write may have been applied: the caller reads again and decides
        for method in ["PUT", "PATCH", "POST", "DELETE"] {
            resend(method, true, 0, None);
        }
    }

    #[test]
    fn idempotent_requests_are_resent_after_a_bare_5xx() {
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(bare_5xx_wait(true, 500, None, 0), ms(100));
        assert_eq!(bare_5xx_wait(true, 503, None, 1), ms(200));
        assert_eq!(bare_5xx_wait(true, 502, None, 2), None, "twice at most");
        assert_eq!(bare_5xx_wait(true, 504, None, 0), ms(100));
        for code in [501, 505, 409, 429, 404, 422] {
            assert_eq!(bare_5xx_wait(true, code, None, 0), None, "{code} is not transient");
        }
        assert_eq!(bare_5xx_wait(false, 500, None, 0), None);
        assert_eq!(bare_5xx_wait(true, 500, Some(Duration::ZERO), 0), None, "Retry-After has its own wait");
        assert!(idempotent("GET", None));
        assert!(idempotent("PATCH", Some("application/merge-patch+json")));
        assert!(idempotent("PATCH", Some("application/strategic-merge-patch+json")));
        assert!(!idempotent("PATCH", Some("application/json-patch+json")));
        for method in ["PUT", "POST", "DELETE"] {
            assert!(!idempotent(method, Some("application/json")), "{method}");
        }
    }

    #[test]
    fn lost_connections() {
        use std::io::{Error as Io, ErrorKind};
        assert!(connection_lost(&ureq::Error::Io(Io::from(ErrorKind::ConnectionReset))));
        assert!(connection_lost(&ureq::Error::Io(Io::from(ErrorKind::UnexpectedEof))));
        assert!(connection_lost(&ureq::Error::ConnectionFailed));
        assert!(!connection_lost(&ureq::Error::Io(Io::from(ErrorKind::TimedOut))));
        assert!(
            !connection_lost(&ureq::Error::Timeout(ureq::Timeout::Global)),
            "a timeout is not resent, even a short one"
        );
        assert!(!connection_lost(&ureq::Error::BodyExceedsLimit(1)));
        assert!(!connection_lost(&ureq::Error::Tls("bad certificate")));
    }

    #[test]
    fn retry_after_waits() {
        wait(503, Some(1), 0, 0, Some(1));
        wait(429, Some(2), 0, 0, Some(2));
        wait(500, Some(0), 0, 0, Some(0));
        wait(503, None, 0, 0, None);
        wait(409, Some(1), 0, 0, None);
        wait(404, Some(1), 0, 0, None);
        wait(503, Some(3600), 0, 0, Some(10));
        wait(503, Some(1), 9, 0, Some(1));
        wait(503, Some(1), 10, 0, None);
        wait(503, Some(10), 5, 50, Some(10));
        wait(503, Some(10), 6, 55, None);
    }
}
