//! Notification services added for issue 23, each delivered to a receiver
//! this test starts on 127.0.0.1: smtp (shoutrrr's `smtp://` URL) to a small
//! SMTP receiver, and Teams Workflows URLs (the `logic.azure.com` and Power
//! Automate forms) to the scripted HTTP receiver through the test-only base
//! URL override. Every server stops by itself.

use kured::notify::Notifier;

#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/smtp_receiver.rs"]
mod smtp_receiver;
use receiver::Receiver;
use smtp_receiver::SmtpReceiver;

#[test]
fn smtp_message_arrives_at_the_receiver() {
    let rx = SmtpReceiver::start(false);
    let url = format!(
        "smtp://kured:s3cret@127.0.0.1:{}/?from=kured@example.org&to=ops@example.org,oncall@example.org&subject=Reboots&fromname=Kured&clienthost=node-1",
        rx.port
    );
    let n = Notifier::from_url(&url).unwrap();
    assert!(!format!("{n:?}").contains("s3cret"));
    n.notify("Rebooting node node-1\n.a line that starts with a dot").unwrap();
    let mails = rx.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m.ehlo, "node-1");
    assert_eq!(m.auth, Some(("kured".into(), "s3cret".into())));
    assert_eq!(m.from, "kured@example.org");
    assert_eq!(m.to, ["ops@example.org", "oncall@example.org"]);
    assert!(
        m.data.contains("From: \"Kured\" <kured@example.org>\n") && m.data.contains("Subject: Reboots\n"),
        "{}",
        m.data
    );
    assert!(m.data.ends_with("\n\nRebooting node node-1\n.a line that starts with a dot\n"), "{}", m.data);
    // no user: no AUTH
    let plain = format!("smtp://127.0.0.1:{}/?from=a@example.org&to=b@example.org&encryption=None", rx.port);
    Notifier::from_url(&plain).unwrap().notify("second").unwrap();
    assert_eq!(rx.mails()[1].auth, None);
}

#[test]
fn smtp_starttls_is_used_when_offered_and_the_certificate_checked() {
    let config = fakeapi::tls::server_config(&fakeapi::tls::TEST_CA).unwrap();
    let rx = SmtpReceiver::start_tls(config);
    let url = format!("smtp://kured:s3cret@127.0.0.1:{}/?from=kured@example.org&to=ops@example.org", rx.port);
    // the test CA trusted: the message goes over TLS, and so does the password
    let n = Notifier::from_url(&url).unwrap().with_extra_root_pem(fakeapi::tls::TEST_CA.ca_pem).unwrap();
    n.notify("Rebooting node node-1").unwrap();
    let mails = rx.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].tls && mails[0].auth == Some(("kured".into(), "s3cret".into())), "{mails:?}");
    // a certificate nobody vouches for (only the Mozilla roots): refused, nothing sent
    let err = Notifier::from_url(&url).unwrap().notify("x").unwrap_err().to_string();
    assert!(err.contains("certificate") || err.contains("UnknownIssuer"), "{err}");
    assert_eq!(rx.mails().len(), 1);
    // implicit TLS against a plain server fails cleanly
    let plain = SmtpReceiver::start(false);
    let url = format!("smtp://127.0.0.1:{}/?from=a@example.org&to=b@example.org&encryption=ImplicitTLS", plain.port);
    assert!(Notifier::from_url(&url).unwrap().notify("x").is_err());
}

#[test]
fn smtp_that_cannot_deliver_is_an_error_naming_why() {
    let garbage = SmtpReceiver::start(true);
    let url = format!("smtp://u:pw@127.0.0.1:{}/?from=a@example.org&to=b@example.org", garbage.port);
    let err = Notifier::from_url(&url).unwrap().notify("x").unwrap_err().to_string();
    assert!(err.contains("not an SMTP reply") && !err.contains("pw@"), "{err}");
    // STARTTLS required, but this server does not offer it: nothing is sent in the clear
    let rx = SmtpReceiver::start(false);
    let url = format!("smtp://u:pw@127.0.0.1:{}/?from=a@example.org&to=b@example.org&encryption=ExplicitTLS", rx.port);
    let err = Notifier::from_url(&url).unwrap().notify("x").unwrap_err().to_string();
    assert!(err.contains("offers no STARTTLS"), "{err}");
    assert!(rx.mails().is_empty());
    // nothing listens
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("smtp://127.0.0.1:{closed}/?from=a@example.org&to=b@example.org");
    assert!(Notifier::from_url(&url).unwrap().notify("x").is_err());
}

#[test]
fn teams_workflows_urls_post_an_adaptive_card() {
    let urls = [
        "https://prod-12.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CR3T",
        "https://default0123.ab.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/4567ef/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CR3T",
    ];
    let rx = Receiver::start(vec![(202, "text/plain", String::new()), (202, "text/plain", String::new())]);
    for url in urls {
        let n = Notifier::from_url(url).unwrap();
        assert!(!n.redacted_url().contains("S3CR3T"), "{}", n.redacted_url());
        n.with_base_url_override(&rx.base).notify("Rebooting node node-1").unwrap();
        let got = rx.recv();
        let path = &url[url.find(":443").unwrap() + 4..];
        assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", path));
        let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(body["attachments"][0]["content"]["body"][0]["text"], "Rebooting node node-1");
    }
    let err = Notifier::from_url("https://hooks.example.org/x").unwrap_err().to_string();
    assert!(err.contains("not a Teams Workflows URL"), "{err}");
}
