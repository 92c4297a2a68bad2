//! Push and bot services: Telegram (one `sendMessage` per chat), Gotify and
//! ntfy, from their shoutrrr URLs.

use serde_json::{json, Map, Value};

use super::url::ServiceUrl;
use super::{Expect, Request};
use crate::outbound::basic_auth;
use crate::urlenc::percent_encode;

fn warn_unknown(service: &str, u: &ServiceUrl, known: &[&str]) {
    for k in u.unknown_params(known) {
        log::warn!("{service} notify url: ignoring unknown option {k:?}");
    }
}

/// shoutrrr's booleans: yes/no, true/false, 1/0.
fn flag(u: &ServiceUrl, key: &str, default: bool) -> Result<bool, String> {
    match u.param(key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(default),
        Some("yes" | "true" | "1" | "on") => Ok(true),
        Some("no" | "false" | "0" | "off") => Ok(false),
        Some(other) => Err(format!("invalid value {other:?} for {key} (expected yes or no)")),
    }
}

/// `telegram://<bot-token>@telegram?chats=@channel,123456`
#[derive(Debug, Clone)]
pub struct Telegram {
    token: String,
    chats: Vec<String>,
    preview: bool,
    notification: bool,
    parse_mode: Option<String>,
    title: Option<String>,
}

impl Telegram {
    pub fn parse(u: &ServiceUrl) -> Result<Telegram, String> {
        warn_unknown("telegram", u, &["chats", "channels", "preview", "notification", "parsemode", "title"]);
        let token = format!("{}:{}", u.user.as_deref().unwrap_or(""), u.password.as_deref().unwrap_or(""));
        let re = regex_lite::Regex::new(r"^[0-9]+:[a-zA-Z0-9_-]+$").expect("static regex");
        if !re.is_match(&token) {
            return Err("invalid telegram bot token (expected telegram://123456:ABC-def@telegram?chats=...)".into());
        }
        let chats: Vec<String> = u
            .param_any(&["chats", "channels"])
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        if chats.is_empty() {
            return Err("no chats defined (add ?chats=@channel,123456)".into());
        }
        let parse_mode = match u.param("parsemode").map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "none") => None,
            Some("markdown") => Some("Markdown".to_string()),
            Some("markdownv2") => Some("MarkdownV2".to_string()),
            Some("html") => Some("HTML".to_string()),
            Some(other) => return Err(format!("invalid parsemode {other:?} (None, Markdown, MarkdownV2 or HTML)")),
        };
        Ok(Telegram {
            token,
            chats,
            preview: flag(u, "preview", true)?,
            notification: flag(u, "notification", true)?,
            parse_mode,
            title: u.param("title").filter(|t| !t.is_empty()).map(str::to_string),
        })
    }

    pub fn requests(&self, message: &str) -> Vec<Request> {
        let text = match &self.title {
            Some(t) => format!("{t}\n{message}"),
            None => message.to_string(),
        };
        self.chats
            .iter()
            .map(|chat| {
                let mut body = Map::new();
                body.insert("text".into(), json!(text));
                body.insert("chat_id".into(), json!(chat));
                body.insert("disable_web_page_preview".into(), json!(!self.preview));
                body.insert("disable_notification".into(), json!(!self.notification));
                if let Some(m) = &self.parse_mode {
                    body.insert("parse_mode".into(), json!(m));
                }
                let url = format!("https://api.telegram.org/bot{}/sendMessage", self.token);
                Request::json(url, &Value::Object(body))
            })
            .collect()
    }
}

/// `gotify://host[:port][/path]/token[?priority=N&title=T&disabletls=yes]`
#[derive(Debug, Clone)]
pub struct Gotify {
    base: String,
    token: String,
    title: String,
    priority: i64,
}

impl Gotify {
    pub fn parse(u: &ServiceUrl) -> Result<Gotify, String> {
        warn_unknown("gotify", u, &["priority", "title", "disabletls"]);
        let path = u.path.trim_end_matches('/');
        let (prefix, token) = path.rsplit_once('/').unwrap_or(("", path));
        if token.is_empty() || u.host.is_empty() {
            return Err("expected gotify://host[:port][/path]/token".into());
        }
        let scheme = if flag(u, "disabletls", false)? { "http" } else { "https" };
        let priority = match u.param("priority") {
            None | Some("") => 0,
            Some(p) => p.parse().map_err(|_| format!("invalid priority {p:?} (expected an integer)"))?,
        };
        Ok(Gotify {
            base: format!("{scheme}://{}{prefix}", u.host_port()),
            token: token.to_string(),
            title: u.param("title").unwrap_or("Shoutrrr notification").to_string(),
            priority,
        })
    }

    pub fn request(&self, message: &str) -> Request {
        let url = format!("{}/message?token={}", self.base, percent_encode(&self.token));
        Request::json(url, &json!({ "message": message, "title": self.title, "priority": self.priority }))
    }
}

/// `ntfy://[user:pass@][host[:port]]/topic[?title=..&priority=..&tags=..&scheme=http]`
#[derive(Debug, Clone)]
pub struct Ntfy {
    url: String,
    headers: Vec<(String, String)>,
}

const NTFY_HEADERS: &[(&str, &str)] = &[
    ("title", "Title"),
    ("priority", "Priority"),
    ("tags", "Tags"),
    ("delay", "Delay"),
    ("actions", "Actions"),
    ("click", "Click"),
    ("attach", "Attach"),
    ("icon", "X-Icon"),
    ("filename", "Filename"),
    ("email", "Email"),
];

impl Ntfy {
    pub fn parse(u: &ServiceUrl) -> Result<Ntfy, String> {
        let mut known: Vec<&str> = NTFY_HEADERS.iter().map(|(k, _)| *k).collect();
        known.extend(["scheme", "cache", "firebase", "at", "in"]);
        warn_unknown("ntfy", u, &known);
        let topic = u.path.trim_start_matches('/');
        if topic.is_empty() {
            return Err("topic missing (expected ntfy://host/topic)".into());
        }
        let scheme = match u.param("scheme").unwrap_or("https") {
            s @ ("http" | "https") => s,
            other => return Err(format!("invalid scheme option {other:?} (http or https)")),
        };
        let host = if u.host.is_empty() { "ntfy.sh".to_string() } else { u.host_port() };
        let mut headers = Vec::new();
        for (key, header) in NTFY_HEADERS {
            let v = if *key == "delay" { u.param_any(&["delay", "at", "in"]) } else { u.param(key) };
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                headers.push((header.to_string(), v.to_string()));
            }
        }
        if !flag(u, "cache", true)? {
            headers.push(("Cache".into(), "no".into()));
        }
        if !flag(u, "firebase", true)? {
            headers.push(("Firebase".into(), "no".into()));
        }
        if let Some(pass) = u.password.as_deref().filter(|p| !p.is_empty()) {
            headers.push(("Authorization".into(), basic_auth(u.user.as_deref().unwrap_or(""), pass)));
        }
        let topic_path: Vec<String> = topic.split('/').map(percent_encode).collect();
        Ok(Ntfy { url: format!("{scheme}://{host}/{}", topic_path.join("/")), headers })
    }

    /// The message is the whole body; everything else travels in headers.
    pub fn request(&self, message: &str) -> Request {
        Request {
            method: "POST".into(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: message.to_string(),
            expect: Expect::Success,
        }
    }
}
