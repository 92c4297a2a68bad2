//! Notifications in shoutrrr URL formats, as upstream kured sends them: the URL
//! is parsed once at start-up into a [`Notifier`] (a bad URL stops start-up
//! with the URL named, secrets masked), and each message becomes one or more
//! plain HTTP [`Request`]s built by pure functions, one small file per service
//! family. Delivery failures are errors for the caller to log: a notification
//! never holds a reboot back.
//!
//! Supported: slack, teams, Teams Workflows (the `https://...logic.azure.com/workflows/...`
//! or `https://...api.powerplatform.com/...` URL as it is), discord, telegram,
//! mattermost, rocketchat, googlechat (also `hangouts`), gotify, ntfy, generic
//! (`generic://` and `generic+https://` are HTTPS, `generic+http://` is plain
//! HTTP), smtp (one SMTP dialogue per message, `smtp.rs`). Not supported: the
//! other shoutrrr services (a clear error at start-up). Several URLs are several destinations: each gets every message.

mod chat;
mod generic;
mod push;
mod slack;
mod smtp;
pub mod url;
mod workflows;

use std::io::Read;

use crate::error::{Error, Result};
pub use crate::template::{render, render_args};
pub use url::{redact, ServiceUrl};

/// One HTTP request a notification turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub expect: Expect,
}

/// How to tell that the service accepted the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// any 2xx status
    Success,
    /// 2xx and a JSON body with `"ok": true` (Slack's Web API answers 200 with
    /// `ok: false` on errors such as `channel_not_found`)
    SlackOk,
}

impl Request {
    /// A POST with a JSON body.
    pub(crate) fn json(url: String, body: &serde_json::Value) -> Request {
        Request {
            method: "POST".into(),
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string(),
            expect: Expect::Success,
        }
    }
}

#[derive(Debug, Clone)]
enum Service {
    Slack(slack::Slack),
    Teams(chat::Teams),
    Smtp(smtp::Smtp),
    Workflow(workflows::Workflow),
    Discord(chat::Discord),
    Mattermost(chat::Mattermost),
    RocketChat(chat::RocketChat),
    GoogleChat(chat::GoogleChat),
    Telegram(push::Telegram),
    Gotify(push::Gotify),
    Ntfy(push::Ntfy),
    Generic(generic::Generic),
}

/// One destination: a parsed URL.
#[derive(Debug, Clone)]
struct Destination {
    service: Service,
    redacted: String,
}

/// Parsed notification URLs (`--notify-url`, repeatable), ready to send
/// messages to each.
pub struct Notifier {
    destinations: Vec<Destination>,
    agent: ureq::Agent,
    base_override: Option<String>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.destinations.iter().map(|d| d.redacted.as_str()).collect();
        f.debug_struct("Notifier").field("urls", &urls).finish_non_exhaustive()
    }
}

impl Notifier {
    /// Parse a shoutrrr URL. Surrounding quotes and blanks are stripped, as
    /// upstream does for values pasted from YAML.
    pub fn from_url(url: &str) -> Result<Notifier> {
        let destination = Destination::parse(url)?;
        Ok(Notifier { destinations: vec![destination], agent: crate::outbound::agent(), base_override: None })
    }

    /// Every URL, each its own destination; None when there is none.
    pub fn from_urls(urls: &[String]) -> Result<Option<Notifier>> {
        let destinations = urls.iter().map(|u| Destination::parse(u)).collect::<Result<Vec<_>>>()?;
        if destinations.is_empty() {
            return Ok(None);
        }
        Ok(Some(Notifier { destinations, agent: crate::outbound::agent(), base_override: None }))
    }
}

impl Destination {
    fn parse(url: &str) -> Result<Destination> {
        let url = url.trim().trim_matches(|c| c == '"' || c == '\'');
        let redacted = redact(url);
        let fail = |message: String| Error::Usage(format!("invalid notify url {redacted}: {message}"));
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| fail("missing scheme (expected e.g. slack://, teams://, generic+https://)".into()))?;
        let service = match scheme.as_str() {
            "slack" => Service::Slack(slack::Slack::parse(url).map_err(fail)?),
            "https" => Service::Workflow(workflows::Workflow::parse(url).map_err(fail)?),
            _ => {
                let u = ServiceUrl::parse(url).map_err(fail)?;
                match scheme.as_str() {
                    "teams" => Service::Teams(chat::Teams::parse(&u).map_err(fail)?),
                    "smtp" => Service::Smtp(smtp::Smtp::parse(&u).map_err(fail)?),
                    "discord" => Service::Discord(chat::Discord::parse(&u).map_err(fail)?),
                    "mattermost" => Service::Mattermost(chat::Mattermost::parse(&u).map_err(fail)?),
                    "rocketchat" => Service::RocketChat(chat::RocketChat::parse(&u).map_err(fail)?),
                    "googlechat" | "hangouts" => Service::GoogleChat(chat::GoogleChat::parse(&u).map_err(fail)?),
                    "telegram" => Service::Telegram(push::Telegram::parse(&u).map_err(fail)?),
                    "gotify" => Service::Gotify(push::Gotify::parse(&u).map_err(fail)?),
                    "ntfy" => Service::Ntfy(push::Ntfy::parse(&u).map_err(fail)?),
                    "generic" | "generic+http" | "generic+https" => {
                        Service::Generic(generic::Generic::parse(&u).map_err(fail)?)
                    }
                    other => return Err(fail(format!("unsupported service {other:?}"))),
                }
            }
        };
        Ok(Destination { service, redacted })
    }

    fn requests(&self, message: &str) -> Vec<Request> {
        match &self.service {
            Service::Slack(s) => vec![s.request(message)],
            Service::Teams(s) => vec![s.request(message)],
            // not HTTP: sent by `Notifier::notify_each` itself
            Service::Smtp(_) => Vec::new(),
            Service::Workflow(s) => vec![s.request(message)],
            Service::Discord(s) => vec![s.request(message)],
            Service::Mattermost(s) => vec![s.request(message)],
            Service::RocketChat(s) => vec![s.request(message)],
            Service::GoogleChat(s) => vec![s.request(message)],
            Service::Telegram(s) => s.requests(message),
            Service::Gotify(s) => vec![s.request(message)],
            Service::Ntfy(s) => vec![s.request(message)],
            Service::Generic(s) => vec![s.request(message)],
        }
    }
}

impl Notifier {
    /// Apply `--slack-username` and `--slack-channel`: the name is used when
    /// the URL names no bot, the channel when a webhook URL names none.
    /// Other services ignore them.
    pub fn with_slack_defaults(mut self, username: &str, channel: &str) -> Notifier {
        for d in &mut self.destinations {
            if let Service::Slack(s) = &mut d.service {
                s.apply_defaults(username, channel);
            }
        }
        self
    }

    /// Send every request to `base` (`http://127.0.0.1:port`) instead of the
    /// service's host, keeping path and query. Only for tests, which cannot
    /// reach the real services; never set from configuration.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn with_base_url_override(mut self, base: &str) -> Notifier {
        self.base_override = Some(base.trim_end_matches('/').to_string());
        self
    }

    /// Trust the CA certificates in `pem` for smtp's TLS too. Only for tests,
    /// whose SMTP server has a test CA; never set from configuration.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn with_extra_root_pem(mut self, pem: &str) -> Result<Notifier> {
        for d in &mut self.destinations {
            if let Service::Smtp(s) = &mut d.service {
                s.trust_pem(pem).map_err(|message| Error::Notify { url: d.redacted.clone(), message })?;
            }
        }
        Ok(self)
    }

    /// The (first) URL with its secrets masked, for logs.
    #[cfg(any(test, feature = "test-support"))]
    pub fn redacted_url(&self) -> &str {
        &self.destinations[0].redacted
    }

    /// Every URL, secrets masked.
    #[cfg(test)]
    pub fn redacted_urls(&self) -> Vec<&str> {
        self.destinations.iter().map(|d| d.redacted.as_str()).collect()
    }

    /// The requests `message` turns into, for every destination (pure: no I/O).
    pub fn requests(&self, message: &str) -> Vec<Request> {
        self.destinations.iter().flat_map(|d| d.requests(message)).collect()
    }

    /// Deliver `message`. Every request is tried; the first failure is returned.
    pub fn notify(&self, message: &str) -> Result<()> {
        self.notify_each(message).into_iter().next().map_or(Ok(()), Err)
    }

    /// Deliver `message` to every destination, one after the other; a failing
    /// (or hanging: each request is bounded by the outbound agent's timeouts)
    /// one does not keep it from the others. Every failure, one per request.
    pub fn notify_each(&self, message: &str) -> Vec<Error> {
        let mut errors = Vec::new();
        for d in &self.destinations {
            if let Service::Smtp(s) = &d.service {
                if let Err(message) = s.send(message) {
                    errors.push(Error::Notify { url: d.redacted.clone(), message });
                }
                continue;
            }
            for req in d.requests(message) {
                if let Err(e) = self.send(&d.redacted, req) {
                    errors.push(e);
                }
            }
        }
        errors
    }

    fn send(&self, redacted: &str, req: Request) -> Result<()> {
        let fail = |message: String| Error::Notify { url: redacted.to_string(), message };
        let url = match &self.base_override {
            Some(base) => rebase(&req.url, base),
            None => req.url.clone(),
        };
        let mut builder = ureq::http::Request::builder().method(req.method.as_str()).uri(&url);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let http_req =
            builder.body(req.body.clone()).map_err(|_| fail("invalid request (bad url or header)".into()))?;
        let mut resp = self.agent.run(http_req).map_err(|e| fail(transport_message(&e)))?;
        let status = resp.status().as_u16();
        let mut body = String::new();
        // Only the start of the answer matters, to name the error.
        let _ = resp.body_mut().as_reader().take(64 * 1024).read_to_string(&mut body);
        if !(200..300).contains(&status) {
            return Err(fail(format!("{} {} answered {status}: {}", req.method, host_of(&req.url), snippet(&body))));
        }
        if req.expect == Expect::SlackOk {
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| fail(format!("slack answered non-JSON: {e}")))?;
            if v.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
                let err = v.get("error").and_then(serde_json::Value::as_str).unwrap_or("unknown error");
                return Err(fail(format!("slack api error: {err}")));
            }
        }
        Ok(())
    }
}

/// Replace scheme and authority of `url` with `base`.
fn rebase(url: &str, base: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let path = after.find(['/', '?']).map_or("", |i| &after[i..]);
    format!("{base}{path}")
}

/// The host of a request URL: request URLs carry tokens in their paths.
fn host_of(url: &str) -> &str {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    after.split(['/', '?']).next().unwrap_or("")
}

fn snippet(body: &str) -> String {
    let t: String = body.trim().chars().take(200).collect();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        t
    }
}

/// ureq's own message, except where it would repeat the request URL (which
/// may carry a token).
fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::BadUri(_) => "invalid request url".into(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_keeps_path_and_query() {
        assert_eq!(rebase("https://a.example/x/y?z=1", "http://127.0.0.1:9"), "http://127.0.0.1:9/x/y?z=1");
        assert_eq!(rebase("https://a.example?z=1", "http://h"), "http://h?z=1");
        assert_eq!(rebase("https://a.example", "http://h"), "http://h");
        assert_eq!(host_of("https://api.telegram.org/bot1:secret/sendMessage"), "api.telegram.org");
    }

    #[test]
    fn several_urls_are_several_destinations() {
        assert!(Notifier::from_urls(&[]).unwrap().is_none());
        let urls = ["generic+http://127.0.0.1:1/a".to_string(), "discord://t@1".to_string()];
        let n = Notifier::from_urls(&urls).unwrap().expect("two destinations");
        assert_eq!(n.redacted_urls(), ["generic+http://127.0.0.1:1/***", "discord://***@1"]);
        let reqs = n.requests("hello");
        assert_eq!(reqs.len(), 2);
        assert!(reqs[0].url.starts_with("http://127.0.0.1:1/a") && reqs[1].url.contains("discord.com"), "{reqs:?}");
        // nothing listens on port 1: that failure is one error, per destination
        let errors = Notifier::from_urls(&urls[..1]).unwrap().unwrap().notify_each("x");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = Notifier::from_urls(&["discord://t@1".into(), "smtp://u:p@h:25/?to=a@b".into()]).unwrap_err();
        assert!(e.to_string().contains("smtp"), "{e}");
    }

    #[test]
    fn unsupported_services_are_named() {
        let e = Notifier::from_url("smtp://u:secret@mail:25/?to=c@d").unwrap_err().to_string();
        assert!(e.contains("smtp") && e.contains("missing from=") && !e.contains("secret"), "{e}");
        assert!(
            Notifier::from_url("smtp://u:secret@mail:25/?from=a@b&to=c@d").unwrap().requests("x").is_empty(),
            "not HTTP"
        );
        let e = Notifier::from_url("pushover://shoutrrr:tok@user").unwrap_err().to_string();
        assert!(e.contains("unsupported service \"pushover\"") && !e.contains("tok@"), "{e}");
        let e = Notifier::from_url("just-text").unwrap_err().to_string();
        assert!(e.contains("missing scheme"), "{e}");
        assert_eq!(Notifier::from_url("\"discord://t@1\"").unwrap().redacted_url(), "discord://***@1");
    }
}
