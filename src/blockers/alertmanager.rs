//! `--alertmanager-url`: the alerts Alertmanager holds silenced, so that a
//! firing alert an operator silenced does not hold reboots back. Asked with
//! Alertmanager's v2 API, `GET /api/v2/alerts?active=false&silenced=true&inhibited=false&unprocessed=false`
//! (those filters include or leave out alerts by their state; this asks for
//! the silenced ones only). An Alertmanager that cannot answer makes the
//! check "cannot tell": blocked.
//!
//! Matching: Prometheus's `ALERTS` series carry the alert's labels plus
//! `alertstate`; Alertmanager's copy carries the same labels plus Prometheus's
//! external labels. An alert is silenced when an Alertmanager alert has every
//! one of its labels (alertstate aside) with the same values.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::prometheus::Alert;
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct GettableAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    state: String,
    #[serde(default, rename = "silencedBy")]
    silenced_by: Vec<String>,
}

pub type Labels = BTreeMap<String, String>;

/// The label sets of the silenced alerts in an answer.
pub fn parse_silenced(body: &str) -> std::result::Result<Vec<Labels>, String> {
    let alerts: Vec<GettableAlert> =
        serde_json::from_str(body).map_err(|e| format!("invalid answer (expected a JSON list of alerts): {e}"))?;
    Ok(alerts
        .into_iter()
        .filter(|a| a.status.state == "suppressed" && !a.status.silenced_by.is_empty())
        .map(|a| a.labels)
        .collect())
}

/// Whether `alert` is one of the silenced ones.
pub fn is_silenced(alert: &Alert, silenced: &[Labels]) -> bool {
    let own = alert.labels.iter().filter(|(k, _)| *k != "alertstate" && *k != "__name__");
    let own: Vec<(&String, &String)> = own.collect();
    silenced.iter().any(|s| s.get("alertname") == Some(&alert.name) && own.iter().all(|(k, v)| s.get(*k) == Some(*v)))
}

#[derive(Debug)]
pub struct Alertmanager {
    base: String,
    agent: ureq::Agent,
}

impl Alertmanager {
    pub fn new(url: &str) -> Alertmanager {
        Alertmanager { base: url.trim_end_matches('/').to_string(), agent: crate::outbound::agent() }
    }

    pub fn silenced_url(&self) -> String {
        format!("{}/api/v2/alerts?active=false&silenced=true&inhibited=false&unprocessed=false", self.base)
    }

    pub fn silenced(&self) -> Result<Vec<Labels>> {
        let fail =
            |message: String| Error::Prometheus { url: self.base.clone(), message: format!("alertmanager: {message}") };
        let (status, body) = super::fetch::get(&self.agent, &self.silenced_url()).map_err(fail)?;
        if !(200..300).contains(&status) {
            let start: String = body.chars().take(200).collect();
            return Err(fail(format!("status {status}: {}", start.trim())));
        }
        parse_silenced(&body).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, labels: &[(&str, &str)]) -> Alert {
        let mut l: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        l.insert("alertname".into(), name.into());
        l.insert("alertstate".into(), "firing".into());
        Alert { name: name.into(), state: "firing".into(), active: true, labels: l }
    }

    #[test]
    fn silenced_alerts_match_by_labels() {
        let body = r#"[
          {"labels":{"alertname":"NodeOnFire","severity":"page","node":"n1","prometheus":"monitoring/k8s"},
           "status":{"state":"suppressed","silencedBy":["5c1f"],"inhibitedBy":[]}},
          {"labels":{"alertname":"Inhibited"},"status":{"state":"suppressed","silencedBy":[],"inhibitedBy":["x"]}},
          {"labels":{"alertname":"Active"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]}}
        ]"#;
        let silenced = parse_silenced(body).unwrap();
        assert_eq!(silenced.len(), 1);
        assert!(is_silenced(&alert("NodeOnFire", &[("severity", "page"), ("node", "n1")]), &silenced));
        assert!(
            !is_silenced(&alert("NodeOnFire", &[("severity", "page"), ("node", "n2")]), &silenced),
            "another node's"
        );
        assert!(!is_silenced(&alert("Inhibited", &[]), &silenced), "inhibited is not silenced");
        assert!(!is_silenced(&alert("Active", &[]), &silenced));
        assert!(parse_silenced("[]").unwrap().is_empty());
        assert!(parse_silenced("{\"status\":\"success\"}").unwrap_err().contains("JSON list"));
        assert!(parse_silenced("<html>").is_err());
    }
}
