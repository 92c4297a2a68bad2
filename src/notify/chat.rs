//! Chat webhooks: Microsoft Teams, Discord, Mattermost, Rocket.Chat and Google
//! Chat. Each turns its shoutrrr URL into the service's incoming-webhook URL
//! and a small JSON body, following shoutrrr's field names so that what
//! arrives looks like what upstream kured posts.

use serde_json::{json, Map, Value};

use super::url::ServiceUrl;
use super::Request;
use crate::urlenc::percent_encode;

fn warn_unknown(service: &str, u: &ServiceUrl, known: &[&str]) {
    for k in u.unknown_params(known) {
        log::warn!("{service} notify url: ignoring unknown option {k:?}");
    }
}

fn nonempty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_string)
}

/// `teams://group@tenant/altId/groupOwner?host=example.webhook.office.com`
#[derive(Debug, Clone)]
pub struct Teams {
    group: String,
    tenant: String,
    alt_id: String,
    group_owner: String,
    host: String,
    title: Option<String>,
    color: Option<String>,
}

/// Webhooks without a `host` option live on the retired outlook.office.com,
/// under `webhook` rather than `webhookb2`.
const TEAMS_LEGACY_HOST: &str = "outlook.office.com";

impl Teams {
    pub fn parse(u: &ServiceUrl) -> Result<Teams, String> {
        warn_unknown("teams", u, &["host", "title", "color"]);
        let seg = u.segments();
        let (Some(group), [alt_id, group_owner, ..]) = (u.user.as_deref(), seg.as_slice()) else {
            return Err("expected teams://group@tenant/altId/groupOwner?host=...".into());
        };
        if [group, u.host.as_str(), alt_id, group_owner].iter().any(|p| p.is_empty()) {
            return Err("group, tenant, altId and groupOwner must not be empty".into());
        }
        Ok(Teams {
            group: group.to_string(),
            tenant: u.host.clone(),
            alt_id: alt_id.to_string(),
            group_owner: group_owner.to_string(),
            host: nonempty(u.param("host")).unwrap_or_else(|| TEAMS_LEGACY_HOST.into()),
            title: nonempty(u.param("title")),
            color: nonempty(u.param("color")),
        })
    }

    pub fn request(&self, message: &str) -> Request {
        let path = if self.host == TEAMS_LEGACY_HOST { "webhook" } else { "webhookb2" };
        let url = format!(
            "https://{}/{path}/{}@{}/IncomingWebhook/{}/{}",
            self.host, self.group, self.tenant, self.alt_id, self.group_owner
        );
        let sections: Vec<Value> = message.split('\n').map(|l| json!({ "text": l })).collect();
        // Teams requires a summary: the title, or the start of the first line.
        let summary =
            self.title.clone().unwrap_or_else(|| message.split('\n').next().unwrap_or("").chars().take(21).collect());
        let mut body = Map::new();
        body.insert("@type".into(), json!("MessageCard"));
        body.insert("@context".into(), json!("http://schema.org/extensions"));
        body.insert("markdown".into(), json!(true));
        if let Some(t) = &self.title {
            body.insert("title".into(), json!(t));
        }
        if let Some(c) = &self.color {
            body.insert("themeColor".into(), json!(c));
        }
        body.insert("summary".into(), json!(summary));
        body.insert("sections".into(), Value::Array(sections));
        Request::json(url, &Value::Object(body))
    }
}

/// `discord://token@webhookid[/raw]`
#[derive(Debug, Clone)]
pub struct Discord {
    id: String,
    token: String,
    raw: bool,
    title: Option<String>,
    username: Option<String>,
    avatar: Option<String>,
    color: u32,
}

impl Discord {
    pub fn parse(u: &ServiceUrl) -> Result<Discord, String> {
        warn_unknown("discord", u, &["title", "username", "avatar", "avatarurl", "color", "json", "splitlines"]);
        let token = u.user.clone().filter(|t| !t.is_empty()).ok_or("token missing (expected discord://token@id)")?;
        if u.host.is_empty() {
            return Err("webhook id missing (expected discord://token@id)".into());
        }
        let raw = match u.path.as_str() {
            "" | "/" => matches!(u.param("json").map(str::to_ascii_lowercase).as_deref(), Some("yes" | "true" | "1")),
            "/raw" => true,
            _ => return Err("unexpected path (only /raw is allowed)".into()),
        };
        let color = match u.param("color") {
            None => 0x50D9FF,
            Some(c) => u32::from_str_radix(c.trim_start_matches("0x").trim_start_matches('#'), 16)
                .map_err(|_| format!("invalid color {c:?} (expected hex like 0x50D9ff)"))?,
        };
        Ok(Discord {
            id: u.host_port(),
            token,
            raw,
            title: nonempty(u.param("title")),
            username: nonempty(u.param("username")),
            avatar: nonempty(u.param_any(&["avatar", "avatarurl"])),
            color,
        })
    }

    pub fn request(&self, message: &str) -> Request {
        let url = format!("https://discord.com/api/webhooks/{}/{}", self.id, self.token);
        if self.raw {
            // `/raw`: the message already is the JSON payload
            let mut req = Request::json(url, &Value::Null);
            req.body = message.to_string();
            return req;
        }
        let embeds: Vec<Value> = message
            .split('\n')
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| {
                let mut e = Map::new();
                if i == 0 {
                    if let Some(t) = &self.title {
                        e.insert("title".into(), json!(t));
                    }
                }
                e.insert("description".into(), json!(l));
                e.insert("color".into(), json!(self.color));
                Value::Object(e)
            })
            .collect();
        let mut body = Map::new();
        body.insert("embeds".into(), Value::Array(embeds));
        if let Some(n) = &self.username {
            body.insert("username".into(), json!(n));
        }
        if let Some(a) = &self.avatar {
            body.insert("avatar_url".into(), json!(a));
        }
        Request::json(url, &Value::Object(body))
    }
}

fn with_icon(body: &mut Map<String, Value>, icon: &Option<String>) {
    if let Some(icon) = icon {
        let key = if icon.starts_with("http://") || icon.starts_with("https://") { "icon_url" } else { "icon_emoji" };
        body.insert(key.into(), json!(icon));
    }
}

/// The body Mattermost and Rocket.Chat share (Rocket.Chat's incoming webhooks
/// accept Slack/Mattermost-style payloads): text, optional username and channel.
fn text_user_channel(message: &str, user: &Option<String>, channel: &Option<String>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("text".into(), json!(message));
    if let Some(n) = user {
        body.insert("username".into(), json!(n));
    }
    if let Some(c) = channel {
        body.insert("channel".into(), json!(c));
    }
    body
}

/// `mattermost://[user@]host[:port]/token[/channel]`
#[derive(Debug, Clone)]
pub struct Mattermost {
    host: String,
    token: String,
    channel: Option<String>,
    user: Option<String>,
    icon: Option<String>,
}

impl Mattermost {
    pub fn parse(u: &ServiceUrl) -> Result<Mattermost, String> {
        warn_unknown("mattermost", u, &["icon", "icon_emoji", "icon_url", "title"]);
        let seg = u.segments();
        let token =
            seg.first().filter(|t| !t.is_empty()).ok_or("webhook token missing (expected mattermost://host/token)")?;
        if u.host.is_empty() {
            return Err("host missing".into());
        }
        Ok(Mattermost {
            host: u.host_port(),
            token: token.to_string(),
            channel: nonempty(seg.get(1).copied()),
            user: nonempty(u.user.as_deref()),
            icon: nonempty(u.param_any(&["icon", "icon_emoji", "icon_url"])),
        })
    }

    pub fn request(&self, message: &str) -> Request {
        let mut body = text_user_channel(message, &self.user, &self.channel);
        with_icon(&mut body, &self.icon);
        Request::json(format!("https://{}/hooks/{}", self.host, percent_encode(&self.token)), &Value::Object(body))
    }
}

/// `rocketchat://[user@]host[:port]/tokenA/tokenB[/channel|/@user]`
#[derive(Debug, Clone)]
pub struct RocketChat {
    host: String,
    token_a: String,
    token_b: String,
    channel: Option<String>,
    user: Option<String>,
}

impl RocketChat {
    pub fn parse(u: &ServiceUrl) -> Result<RocketChat, String> {
        warn_unknown("rocketchat", u, &[]);
        let seg = u.segments();
        let (Some(a), Some(b)) = (seg.first().filter(|s| !s.is_empty()), seg.get(1).filter(|s| !s.is_empty())) else {
            return Err("expected rocketchat://[user@]host[:port]/tokenA/tokenB[/channel]".into());
        };
        if u.host.is_empty() {
            return Err("host missing".into());
        }
        // A '#' in the URL starts the fragment, so `/#general` arrives there.
        let channel = if !u.fragment.is_empty() {
            Some(format!("#{}", u.fragment))
        } else {
            seg.get(2)
                .filter(|c| !c.is_empty())
                .map(|c| if c.starts_with('@') { c.to_string() } else { format!("#{c}") })
        };
        Ok(RocketChat {
            host: u.host_port(),
            token_a: a.to_string(),
            token_b: b.to_string(),
            channel,
            user: nonempty(u.user.as_deref()),
        })
    }

    pub fn request(&self, message: &str) -> Request {
        let body = text_user_channel(message, &self.user, &self.channel);
        let url =
            format!("https://{}/hooks/{}/{}", self.host, percent_encode(&self.token_a), percent_encode(&self.token_b));
        Request::json(url, &Value::Object(body))
    }
}

/// `googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=bar&token=baz`
#[derive(Debug, Clone)]
pub struct GoogleChat {
    host: String,
    path: String,
    key: String,
    token: String,
}

impl GoogleChat {
    pub fn parse(u: &ServiceUrl) -> Result<GoogleChat, String> {
        warn_unknown("googlechat", u, &["key", "token"]);
        let key = nonempty(u.param("key")).ok_or("missing field 'key'")?;
        let token = nonempty(u.param("token")).ok_or("missing field 'token'")?;
        let host = if u.host.is_empty() { "chat.googleapis.com".to_string() } else { u.host_port() };
        Ok(GoogleChat { host, path: u.path.clone(), key, token })
    }

    pub fn request(&self, message: &str) -> Request {
        let url = format!(
            "https://{}{}?key={}&token={}",
            self.host,
            self.path,
            percent_encode(&self.key),
            percent_encode(&self.token)
        );
        Request::json(url, &json!({ "text": message }))
    }
}
