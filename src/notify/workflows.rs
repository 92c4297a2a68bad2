//! Microsoft Teams through Workflows (Power Automate), which replaced the
//! Office 365 connectors' incoming webhooks that `teams://` addresses
//! (retired by Microsoft; upstream kured#1149). A Workflow built from the
//! template "Post to a channel when a webhook request is received" gives an
//! HTTPS URL, used here as `--notify-url` as it is:
//!
//! - `https://prod-NN.<region>.logic.azure.com:443/workflows/<id>/triggers/manual/paths/invoke?api-version=2016-06-01&sp=...&sv=1.0&sig=...`
//! - `https://<env>.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke?api-version=1&sp=...&sv=1.0&sig=...`
//!
//! The trigger expects a message whose attachment is an Adaptive Card (the
//! body Microsoft documents for these flows); it answers 202 Accepted. The
//! `sig` query value is the secret: logs show the URL redacted.

use serde_json::json;

use super::url::ServiceUrl;
use super::Request;

#[derive(Debug, Clone)]
pub struct Workflow {
    url: String,
}

/// Hosts of Workflows triggers: Logic Apps (Azure) and Power Platform.
fn is_workflow_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.ends_with(".logic.azure.com") || host.ends_with(".api.powerplatform.com")
}

impl Workflow {
    /// A Workflows trigger URL (`https://`, on a Workflows host, with the
    /// `/workflows/<id>/triggers/` path and a `sig`), or why it is not one.
    pub fn parse(url: &str) -> Result<Workflow, String> {
        let u = ServiceUrl::parse(url)?;
        if u.scheme != "https" {
            return Err("a Teams Workflows URL is https://".into());
        }
        if !is_workflow_host(&u.host) {
            return Err(format!(
                "https://{} is not a Teams Workflows URL (*.logic.azure.com or *.api.powerplatform.com); other services take their shoutrrr scheme (slack://, generic+https://, ...)",
                u.host
            ));
        }
        if !(u.path.contains("/workflows/") && u.path.contains("/triggers/")) {
            return Err("expected a Workflows trigger path (/workflows/<id>/triggers/manual/paths/invoke)".into());
        }
        if u.param("sig").is_none_or(str::is_empty) {
            return Err("the Workflows URL has no sig= (copy the whole URL Teams shows)".into());
        }
        Ok(Workflow { url: url.to_string() })
    }

    pub fn request(&self, message: &str) -> Request {
        let body = json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{ "type": "TextBlock", "text": message, "wrap": true }],
                },
            }],
        });
        Request::json(self.url.clone(), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIC: &str = "https://prod-12.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CR3T";
    const POWER: &str = "https://default0123.ab.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/4567ef/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CR3T";

    #[test]
    fn both_url_forms_post_an_adaptive_card_to_the_url_itself() {
        for url in [LOGIC, POWER] {
            let req = Workflow::parse(url).unwrap().request("Rebooting node n1");
            assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", url));
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            assert_eq!(body["type"], "message");
            let card = &body["attachments"][0];
            assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
            assert_eq!(card["content"]["type"], "AdaptiveCard");
            assert_eq!(card["content"]["body"][0]["text"], "Rebooting node n1");
        }
    }

    #[track_caller]
    fn bad(url: &str, why: &str) {
        let err = Workflow::parse(url).unwrap_err();
        assert!(err.contains(why), "{url}: {err}");
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        bad("https://example.org/workflows/1/triggers/manual/paths/invoke?sig=x", "not a Teams Workflows URL");
        bad("https://prod-1.westus.logic.azure.com/other?sig=x", "trigger path");
        bad("https://prod-1.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1", "no sig=");
        bad("http://prod-1.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=x", "https://");
        bad("https://evil.logic.azure.com.example.org/workflows/1/triggers/t?sig=x", "not a Teams Workflows URL");
    }
}
