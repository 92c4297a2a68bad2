//! Slack, as shoutrrr reads it: `slack://[botname@]A/B/C` (legacy webhook),
//! `slack://hook:A-B-C@channel` (webhook) and `slack://xoxb:A-B-C@channel`
//! (Web API token, sent to `chat.postMessage` as a bearer token). Token parts
//! may be separated by `-`, `/` or `,`. The Slack URL is read from the raw text
//! because a legacy token's slashes would otherwise end the host early.

use serde_json::{json, Map, Value};

use super::url::parse_query;
use super::{Expect, Request};

const WEBHOOK_BASE: &str = "https://hooks.slack.com/services/";
const API_POST_MESSAGE: &str = "https://slack.com/api/chat.postMessage";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slack {
    /// `hook`, `xoxb`, `xoxp`, ...
    kind: String,
    parts: [String; 3],
    /// "webhook" when the webhook itself decides
    channel: String,
    botname: Option<String>,
    icon: Option<String>,
    color: Option<String>,
    title: String,
    thread_ts: Option<String>,
}

impl Slack {
    pub fn parse(url: &str) -> Result<Slack, String> {
        let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (botname, token, channel) = match rest.rsplit_once('@') {
            // `botname@A/B/C`: the part after '@' is the legacy token itself
            Some((user, tail)) if tail.contains('/') => (Some(user), tail, "webhook".to_string()),
            Some((token, channel)) => (None, token, channel.trim_end_matches('/').to_string()),
            None => (None, rest.trim_end_matches('/'), "webhook".to_string()),
        };
        let token = crate::urlenc::decode(token, false);
        let (kind, parts) = parse_token(&token)?;
        if channel.is_empty() {
            return Err("missing channel after '@' (use 'webhook' for the webhook's own)".into());
        }
        let mut s = Slack {
            kind,
            parts,
            channel: crate::urlenc::decode(&channel, false),
            botname: botname.filter(|b| !b.is_empty()).map(|b| crate::urlenc::decode(b, false)),
            icon: None,
            color: None,
            title: String::new(),
            thread_ts: None,
        };
        for (k, v) in parse_query(query) {
            match k.to_ascii_lowercase().as_str() {
                "botname" | "username" => s.botname = Some(v).filter(|v| !v.is_empty()),
                "icon" | "icon_emoji" | "icon_url" => s.icon = Some(v).filter(|v| !v.is_empty()),
                "color" => s.color = Some(v).filter(|v| !v.is_empty()),
                "title" => s.title = v,
                "thread_ts" => s.thread_ts = Some(v).filter(|v| !v.is_empty()),
                other => log::warn!("slack notify url: ignoring unknown option {other:?}"),
            }
        }
        Ok(s)
    }

    pub fn apply_defaults(&mut self, username: &str, channel: &str) {
        if self.botname.is_none() && !username.is_empty() {
            self.botname = Some(username.to_string());
        }
        if self.channel == "webhook" && !channel.is_empty() {
            self.channel = channel.to_string();
        }
    }

    fn is_webhook(&self) -> bool {
        self.kind == "hook"
    }

    pub fn request(&self, message: &str) -> Request {
        let body = self.payload(message);
        if self.is_webhook() {
            return Request::json(format!("{WEBHOOK_BASE}{}", self.parts.join("/")), &body);
        }
        let mut req = Request::json(API_POST_MESSAGE.to_string(), &body);
        req.headers.push(("Authorization".into(), format!("Bearer {}-{}", self.kind, self.parts.join("-"))));
        req.expect = Expect::SlackOk;
        req
    }

    /// One attachment per line (shoutrrr's layout), the title as the text.
    fn payload(&self, message: &str) -> Value {
        let mut lines: Vec<&str> = message.split('\n').collect();
        if lines.len() > 1 && lines.last() == Some(&"") {
            lines.pop();
        }
        let attachments: Vec<Value> = lines
            .iter()
            .map(|l| {
                let mut a = Map::new();
                a.insert("text".into(), json!(l));
                if let Some(c) = &self.color {
                    a.insert("color".into(), json!(c));
                }
                Value::Object(a)
            })
            .collect();
        let mut p = Map::new();
        p.insert("text".into(), json!(self.title));
        if let Some(b) = &self.botname {
            p.insert("username".into(), json!(b));
        }
        p.insert("attachments".into(), Value::Array(attachments));
        if let Some(t) = &self.thread_ts {
            p.insert("thread_ts".into(), json!(t));
        }
        if self.channel != "webhook" {
            p.insert("channel".into(), json!(self.channel));
        }
        if let Some(icon) = &self.icon {
            let key =
                if icon.starts_with("http://") || icon.starts_with("https://") { "icon_url" } else { "icon_emoji" };
            p.insert(key.into(), json!(icon));
        }
        Value::Object(p)
    }
}

/// `[type(:|-)]A<sep>B<sep>C`, both separators alike, as shoutrrr's token pattern.
fn parse_token(token: &str) -> Result<(String, [String; 3]), String> {
    let re =
        regex_lite::Regex::new(r"^(?:(xox.|hook)[-:]|:?)([A-Z0-9]{9,})([-/,])([A-Z0-9]{9,})([-/,])([A-Za-z0-9]{24,})$")
            .expect("static regex");
    let c = re
        .captures(token)
        .ok_or("invalid slack token (expected A/B/C from the webhook URL, hook:A-B-C or xoxb:A-B-C)".to_string())?;
    if c[3] != c[5] {
        return Err("slack token parts use different separators".into());
    }
    let kind = c.get(1).map_or("hook", |m| m.as_str()).to_string();
    Ok((kind, [c[2].to_string(), c[4].to_string(), c[6].to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "abcdefghijklmnopqrstuvwx";

    #[track_caller]
    fn ok(url: &str, kind: &str, channel: &str, botname: Option<&str>) {
        let s = Slack::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!((s.kind.as_str(), s.channel.as_str(), s.botname.as_deref()), (kind, channel, botname), "{url}");
        assert_eq!(s.parts, ["T00000000".to_string(), "B00000000".into(), C.into()], "{url}");
    }

    #[test]
    fn url_forms() {
        ok(&format!("slack://T00000000/B00000000/{C}"), "hook", "webhook", None);
        ok(&format!("slack://bot@T00000000/B00000000/{C}"), "hook", "webhook", Some("bot"));
        ok(&format!("slack://hook:T00000000-B00000000-{C}@webhook"), "hook", "webhook", None);
        ok(&format!("slack://hook:T00000000/B00000000/{C}@ops"), "hook", "ops", None);
        ok(&format!("slack://xoxb:T00000000-B00000000-{C}@C0123?botname=kured"), "xoxb", "C0123", Some("kured"));
        ok(&format!("slack://xoxb-T00000000-B00000000-{C}@C0123"), "xoxb", "C0123", None);
    }

    #[track_caller]
    fn bad(url: &str, want: &str) {
        let e = Slack::parse(url).unwrap_err();
        assert!(e.contains(want), "{url}: {e}");
    }

    #[test]
    fn bad_urls() {
        bad("slack://short/token/here", "invalid slack token");
        bad(&format!("slack://T00000000-B00000000/{C}"), "different separators");
        bad(&format!("slack://hook:T00000000-B00000000-{C}@"), "missing channel");
    }

    #[test]
    fn defaults_fill_only_gaps() {
        let mut s = Slack::parse(&format!("slack://T00000000/B00000000/{C}")).unwrap();
        s.apply_defaults("kured", "#ops");
        assert_eq!((s.botname.as_deref(), s.channel.as_str()), (Some("kured"), "#ops"));
        let mut s = Slack::parse(&format!("slack://xoxb:T00000000-B00000000-{C}@C1?botname=me")).unwrap();
        s.apply_defaults("kured", "#ops");
        assert_eq!((s.botname.as_deref(), s.channel.as_str()), (Some("me"), "C1"));
    }
}
