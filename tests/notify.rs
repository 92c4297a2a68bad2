//! Notifications: every service's URL -> request mapping (table-driven, no
//! network), then real delivery to a scripted local HTTP receiver.

#[path = "support/receiver.rs"]
mod receiver;

use kured::notify::{render, Expect, Notifier, Request};
use receiver::Receiver;
use serde_json::{json, Value};

const SLACK_C: &str = "abcdefghijklmnopqrstuvwx";

fn one(url: &str, message: &str) -> Request {
    let n = Notifier::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut reqs = n.requests(message);
    assert_eq!(reqs.len(), 1, "{url}: {reqs:?}");
    reqs.remove(0)
}

/// URL -> (request URL, JSON body) for the JSON services.
#[track_caller]
fn json_case(url: &str, want_url: &str, want_body: Value) {
    let req = one(url, "Draining node n1");
    assert_eq!(req.method, "POST", "{url}");
    assert_eq!(req.url, want_url, "{url}");
    let body: Value = serde_json::from_str(&req.body).unwrap_or_else(|e| panic!("{url}: body {:?}: {e}", req.body));
    assert_eq!(body, want_body, "{url}");
    assert!(req.headers.contains(&("Content-Type".into(), "application/json".into())), "{url}: {:?}", req.headers);
}

#[test]
fn json_services() {
    let c = SLACK_C;
    json_case(
        &format!("slack://T00000000/B00000000/{c}"),
        &format!("https://hooks.slack.com/services/T00000000/B00000000/{c}"),
        json!({"text": "", "attachments": [{"text": "Draining node n1"}]}),
    );
    json_case(
        &format!("slack://hook:T00000000-B00000000-{c}@ops?color=good&title=kured"),
        &format!("https://hooks.slack.com/services/T00000000/B00000000/{c}"),
        json!({"text": "kured", "channel": "ops", "attachments": [{"text": "Draining node n1", "color": "good"}]}),
    );
    json_case(
        &format!("slack://xoxb:123456789-123456789-{c}@C0123?botname=kured&icon=:robot:"),
        "https://slack.com/api/chat.postMessage",
        json!({"text": "", "username": "kured", "channel": "C0123", "icon_emoji": ":robot:",
               "attachments": [{"text": "Draining node n1"}]}),
    );
    json_case(
        "teams://g1@t1/alt1/owner1?host=example.webhook.office.com",
        "https://example.webhook.office.com/webhookb2/g1@t1/IncomingWebhook/alt1/owner1",
        json!({"@type": "MessageCard", "@context": "http://schema.org/extensions", "markdown": true,
               "summary": "Draining node n1", "sections": [{"text": "Draining node n1"}]}),
    );
    json_case(
        "teams://g1@t1/alt1/owner1?title=Kured&color=ff0000",
        "https://outlook.office.com/webhook/g1@t1/IncomingWebhook/alt1/owner1",
        json!({"@type": "MessageCard", "@context": "http://schema.org/extensions", "markdown": true,
               "title": "Kured", "themeColor": "ff0000", "summary": "Kured", "sections": [{"text": "Draining node n1"}]}),
    );
    json_case(
        "discord://tok3n@123456789?username=kured",
        "https://discord.com/api/webhooks/123456789/tok3n",
        json!({"embeds": [{"description": "Draining node n1", "color": 0x50D9FF}], "username": "kured"}),
    );
    json_case(
        "mattermost://bot@mm.example.com:8065/hooktoken/ops",
        "https://mm.example.com:8065/hooks/hooktoken",
        json!({"text": "Draining node n1", "username": "bot", "channel": "ops"}),
    );
    json_case(
        "mattermost://mm.example.com/hooktoken",
        "https://mm.example.com/hooks/hooktoken",
        json!({"text": "Draining node n1"}),
    );
    json_case(
        "rocketchat://bot@rc.example.com/tokA/tokB/general",
        "https://rc.example.com/hooks/tokA/tokB",
        json!({"text": "Draining node n1", "username": "bot", "channel": "#general"}),
    );
    json_case(
        "rocketchat://rc.example.com:3000/tokA/tokB/@alice",
        "https://rc.example.com:3000/hooks/tokA/tokB",
        json!({"text": "Draining node n1", "channel": "@alice"}),
    );
    json_case(
        "googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=bar&token=baz",
        "https://chat.googleapis.com/v1/spaces/FOO/messages?key=bar&token=baz",
        json!({"text": "Draining node n1"}),
    );
    json_case(
        "gotify://gotify.example.com/sub/path/Atoken123?priority=5&title=kured",
        "https://gotify.example.com/sub/path/message?token=Atoken123",
        json!({"message": "Draining node n1", "title": "kured", "priority": 5}),
    );
    json_case(
        "gotify://gotify.example.com:8443/Atoken123",
        "https://gotify.example.com:8443/message?token=Atoken123",
        json!({"message": "Draining node n1", "title": "Shoutrrr notification", "priority": 0}),
    );
    json_case(
        "generic+https://hooks.example.com/kured?template=json&title=T&$env=prod",
        "https://hooks.example.com/kured",
        json!({"message": "Draining node n1", "title": "T", "env": "prod"}),
    );
}

#[test]
fn telegram_sends_one_request_per_chat() {
    let n = Notifier::from_url("telegram://123456:ABC-def_1@telegram?chats=@ops,-100123&notification=no").unwrap();
    let reqs = n.requests("Rebooting node n1");
    assert_eq!(reqs.len(), 2);
    for (req, chat) in reqs.iter().zip(["@ops", "-100123"]) {
        assert_eq!(req.url, "https://api.telegram.org/bot123456:ABC-def_1/sendMessage");
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"chat_id": chat, "text": "Rebooting node n1", "disable_web_page_preview": false, "disable_notification": true})
        );
    }
}

#[test]
fn plain_body_services() {
    let req = one("ntfy://user:pw@ntfy.example.com/kured?title=Kured&priority=high&tags=warning", "m1");
    assert_eq!(req.url, "https://ntfy.example.com/kured");
    assert_eq!(req.body, "m1");
    for h in [("Title", "Kured"), ("Priority", "high"), ("Tags", "warning"), ("Authorization", "Basic dXNlcjpwdw==")] {
        assert!(req.headers.contains(&(h.0.into(), h.1.into())), "{h:?} in {:?}", req.headers);
    }
    assert_eq!(one("ntfy:///kured", "m").url, "https://ntfy.sh/kured");

    let req = one("generic://hooks.example.com/path?foo=bar&@X-Api-Key=k1&method=put", "m2");
    assert_eq!(
        (req.method.as_str(), req.url.as_str(), req.body.as_str()),
        ("PUT", "https://hooks.example.com/path?foo=bar", "m2")
    );
    assert!(req.headers.contains(&("X-Api-Key".into(), "k1".into())));
    assert_eq!(one("generic+http://h.example:8080/x", "m").url, "http://h.example:8080/x");
    assert_eq!(one("generic://h.example/x?disabletls=yes", "m").url, "http://h.example/x");
    assert_eq!(one("generic+https://h.example", "m").url, "https://h.example");
}

#[track_caller]
fn bad(url: &str, want: &str, secret: &str) {
    let e = Notifier::from_url(url).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(want), "{url}: {msg}");
    assert!(!msg.contains(secret), "{url}: secret {secret:?} leaked in {msg}");
    assert_eq!(e.exit_code(), 2, "{url}");
}

#[test]
fn bad_urls_are_named_without_secrets() {
    bad("slack://T0/B0/s3cr3t", "invalid slack token", "s3cr3t");
    bad("teams://g@t/onlyone", "expected teams://", "onlyone");
    bad("discord://@123", "token missing", "zzz");
    bad("discord://s3cr3t@123/bogus", "unexpected path", "s3cr3t");
    bad("telegram://123:s3cr3t@telegram", "no chats", "s3cr3t");
    bad("telegram://notatoken@telegram?chats=1", "invalid telegram bot token", "notatoken");
    bad("mattermost://mm.example.com", "webhook token missing", "zzz");
    bad("rocketchat://rc.example.com/s3cr3t", "expected rocketchat://", "s3cr3t");
    bad("googlechat://chat.googleapis.com/v1/spaces/X/messages?token=s3cr3t", "missing field 'key'", "s3cr3t");
    bad("gotify://gotify.example.com/", "expected gotify://", "zzz");
    bad("ntfy://ntfy.example.com", "topic missing", "zzz");
    bad("generic+https://h.example/x?template=custom", "unsupported template", "zzz");
    bad("smtp://me:s3cr3t@mail.example.com:587/?to=b@example.com", "missing from=", "s3cr3t");
    bad("pushover://shoutrrr:s3cr3t@user/", "unsupported service", "s3cr3t");
    bad("http://example.com", "unsupported service \"http\"", "zzz");
}

#[test]
fn templates_render_like_go() {
    assert_eq!(render("Draining node %s", "n1"), "Draining node n1");
    assert_eq!(render("%s then %s", "n1"), "n1 then %!s(MISSING)");
    assert_eq!(render("done", "n1"), "done%!(EXTRA string=n1)");
}

#[test]
fn generic_http_delivers_plain_and_json_bodies() {
    let rx = Receiver::start(vec![(200, "text/plain", String::new()), (204, "text/plain", String::new())]);
    let n = Notifier::from_url(&format!("{}/hook?x=1", rx.base.replace("http://", "generic+http://"))).unwrap();
    n.notify("Rebooting node n1").unwrap();
    let got = rx.recv();
    assert_eq!(
        (got.method.as_str(), got.target.as_str(), got.body.as_str()),
        ("POST", "/hook?x=1", "Rebooting node n1")
    );
    assert_eq!(got.header("content-type"), Some("application/json"));

    let url = format!("{}/j?template=json&title=Kured&@X-Token=abc", rx.base.replace("http://", "generic+http://"));
    Notifier::from_url(&url).unwrap().notify("Node n1 rebooted").unwrap();
    let got = rx.recv();
    assert_eq!(got.target, "/j");
    assert_eq!(got.header("x-token"), Some("abc"));
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body, json!({"message": "Node n1 rebooted", "title": "Kured"}));
}

#[test]
fn plain_http_services_deliver_without_override() {
    let rx =
        Receiver::start(vec![(200, "application/json", "{\"id\":1}".into()), (200, "application/json", "{}".into())]);
    let host = rx.base.trim_start_matches("http://");
    Notifier::from_url(&format!("gotify://{host}/Atoken?disabletls=yes")).unwrap().notify("g").unwrap();
    let got = rx.recv();
    assert_eq!(got.target, "/message?token=Atoken");
    assert_eq!(serde_json::from_str::<Value>(&got.body).unwrap()["message"], "g");

    Notifier::from_url(&format!("ntfy://{host}/topic?scheme=http&title=T")).unwrap().notify("n").unwrap();
    let got = rx.recv();
    assert_eq!((got.target.as_str(), got.body.as_str(), got.header("title")), ("/topic", "n", Some("T")));
}

#[test]
fn slack_webhook_through_override_carries_defaults() {
    let rx = Receiver::start(vec![(200, "text/plain", "ok".into())]);
    let n = Notifier::from_url(&format!("slack://T00000000/B00000000/{SLACK_C}"))
        .unwrap()
        .with_slack_defaults("kured", "#ops")
        .with_base_url_override(&rx.base);
    n.notify("Draining node n1").unwrap();
    let got = rx.recv();
    assert_eq!(got.target, format!("/services/T00000000/B00000000/{SLACK_C}"));
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        body,
        json!({"text": "", "username": "kured", "channel": "#ops", "attachments": [{"text": "Draining node n1"}]})
    );
}

#[test]
fn slack_api_errors_and_http_errors_are_reported_without_tokens() {
    let rx = Receiver::start(vec![
        (200, "application/json", r#"{"ok":false,"error":"channel_not_found"}"#.into()),
        (200, "application/json", r#"{"ok":true}"#.into()),
        (500, "text/plain", "boom".into()),
    ]);
    let n = Notifier::from_url(&format!("slack://xoxb:123456789-123456789-{SLACK_C}@C1"))
        .unwrap()
        .with_base_url_override(&rx.base);
    assert_eq!(n.requests("m")[0].expect, Expect::SlackOk);
    let e = n.notify("m").unwrap_err().to_string();
    assert!(e.contains("channel_not_found") && !e.contains(SLACK_C), "{e}");
    assert_eq!(rx.recv().header("authorization"), Some(format!("Bearer xoxb-123456789-123456789-{SLACK_C}").as_str()));

    n.notify("m").unwrap();
    rx.recv();

    let t = Notifier::from_url("telegram://123456:s3cr3t@telegram?chats=1").unwrap().with_base_url_override(&rx.base);
    let e = t.notify("m").unwrap_err().to_string();
    assert!(e.contains("500") && e.contains("boom") && !e.contains("s3cr3t"), "{e}");
    assert_eq!(rx.recv().target, "/bot123456:s3cr3t/sendMessage");
}

#[test]
fn telegram_delivers_to_each_chat() {
    let rx = Receiver::start(vec![(200, "application/json", "{\"ok\":true}".into()); 2]);
    let n = Notifier::from_url("telegram://1:a@telegram?channels=@a,@b").unwrap().with_base_url_override(&rx.base);
    n.notify("hello").unwrap();
    let chats: Vec<Value> =
        (0..2).map(|_| serde_json::from_str::<Value>(&rx.recv().body).unwrap()["chat_id"].clone()).collect();
    assert_eq!(chats, vec![json!("@a"), json!("@b")]);
}

#[test]
fn unreachable_endpoint_is_an_error() {
    // a port that was just free: nothing listens there now
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let n = Notifier::from_url(&format!("generic+http://127.0.0.1:{port}/x")).unwrap();
    let e = n.notify("m").unwrap_err().to_string();
    assert!(e.starts_with("notification to generic+http://127.0.0.1:"), "{e}");
}

#[test]
fn https_to_a_plain_http_server_fails_cleanly() {
    // exercises the TLS set-up (a missing crypto provider would panic here)
    let rx = Receiver::start(vec![(200, "text/plain", String::new())]);
    let n = Notifier::from_url(&rx.base.replace("http://", "generic+https://")).unwrap();
    let e = n.notify("m").unwrap_err();
    assert!(matches!(e, kured::Error::Notify { .. }), "{e:?}");
}
