//! The Prometheus blocker: asks `<prometheus-url>/api/v1/query?query=ALERTS`
//! which alerts are active and blocks while any of them passes the filter,
//! with upstream's semantics: `--alert-filter-regexp` names alerts to ignore,
//! `--alert-filter-match-only` inverts that (only matching alerts block), and
//! `--alert-firing-only` leaves pending alerts out. With `--alertmanager-url`,
//! alerts Alertmanager holds silenced do not block (`alertmanager.rs`).

use std::io::Read;

use serde::Deserialize;

use crate::error::{Error, Result};

/// One sample of the `ALERTS` series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub name: String,
    /// `firing` or `pending`
    pub state: String,
    /// the sample value is not 0 (an `ALERTS` sample of 0 is not active)
    pub active: bool,
    /// the series' labels (the alert's, `alertname` and `alertstate`)
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub regex: Option<regex_lite::Regex>,
    pub match_only: bool,
    pub firing_only: bool,
}

impl AlertFilter {
    /// Whether this alert holds the reboot back. Without a regexp every alert
    /// passes, whatever `match_only` says (as upstream's `matchesRegex`).
    pub fn blocks(&self, alert: &Alert) -> bool {
        let name_ok = match &self.regex {
            None => true,
            Some(re) => re.is_match(&alert.name) == self.match_only,
        };
        alert.active && name_ok && (!self.firing_only || alert.state == "firing")
    }
}

/// The names of the blocking alerts, sorted and without duplicates.
pub fn blocking_alerts(alerts: &[Alert], filter: &AlertFilter) -> Vec<String> {
    let mut names: Vec<String> = alerts.iter().filter(|a| filter.blocks(a)).map(|a| a.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    /// decoded once the type is known to be a vector
    #[serde(default)]
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    /// `[timestamp, "value"]`
    value: (serde_json::Value, String),
}

/// Decode an instant-query answer for `ALERTS`. Anything but a successful
/// vector is an error: a blocker that cannot read the answer must not say
/// "nothing blocks".
pub fn parse_alerts(body: &str) -> std::result::Result<Vec<Alert>, String> {
    let resp: QueryResponse = serde_json::from_str(body).map_err(|e| format!("invalid JSON answer: {e}"))?;
    if resp.status != "success" {
        return Err(format!("query failed: status {:?} {}: {}", resp.status, resp.error_type, resp.error));
    }
    let data = resp.data.ok_or("answer has no data")?;
    if data.result_type != "vector" {
        return Err(format!("unexpected result type {:?} (expected vector)", data.result_type));
    }
    let samples: Vec<Sample> =
        serde_json::from_value(data.result).map_err(|e| format!("invalid vector in the answer: {e}"))?;
    Ok(samples
        .into_iter()
        .filter_map(|s| {
            let name = s.metric.get("alertname")?.clone();
            let value: f64 = s.value.1.parse().unwrap_or(f64::NAN);
            let state = s.metric.get("alertstate").cloned().unwrap_or_default();
            Some(Alert { name, state, active: value != 0.0, labels: s.metric })
        })
        .collect())
}

#[derive(Debug)]
pub struct PrometheusBlocker {
    base: String,
    filter: AlertFilter,
    agent: ureq::Agent,
    silences: Option<super::alertmanager::Alertmanager>,
}

impl PrometheusBlocker {
    /// `url` may carry a path prefix (`http://host/prometheus`); it is kept.
    pub fn new(url: &str, filter: AlertFilter) -> PrometheusBlocker {
        PrometheusBlocker {
            base: url.trim_end_matches('/').to_string(),
            filter,
            agent: crate::outbound::agent(),
            silences: None,
        }
    }

    /// Alerts this Alertmanager holds silenced do not block.
    pub fn with_alertmanager(mut self, url: &str) -> PrometheusBlocker {
        self.silences = Some(super::alertmanager::Alertmanager::new(url));
        self
    }

    pub fn query_url(&self) -> String {
        format!("{}/api/v1/query?query={}", self.base, crate::urlenc::percent_encode("ALERTS"))
    }

    /// The blocking alert names, sorted.
    pub fn active_alerts(&self) -> Result<Vec<String>> {
        let fail = |message: String| Error::Prometheus { url: self.base.clone(), message };
        let mut resp = self.agent.get(&self.query_url()).call().map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        let mut body = String::new();
        resp.body_mut()
            .as_reader()
            .take(4 * 1024 * 1024)
            .read_to_string(&mut body)
            .map_err(|e| fail(format!("reading the answer: {e}")))?;
        // Prometheus answers errors (bad query, unavailable) with a JSON body
        // too; let it speak when it can.
        let alerts = parse_alerts(&body).map_err(|m| {
            if (200..300).contains(&status) {
                fail(m)
            } else {
                fail(format!("status {status}: {m}"))
            }
        })?;
        let Some(am) = &self.silences else { return Ok(blocking_alerts(&alerts, &self.filter)) };
        let blocking: Vec<Alert> = alerts.into_iter().filter(|a| self.filter.blocks(a)).collect();
        if blocking.is_empty() {
            return Ok(Vec::new());
        }
        let silenced = am.silenced()?;
        let (quiet, loud): (Vec<Alert>, Vec<Alert>) =
            blocking.into_iter().partition(|a| super::alertmanager::is_silenced(a, &silenced));
        if !quiet.is_empty() {
            let names: Vec<String> = quiet.iter().map(|a| a.name.clone()).collect();
            log::info!("silenced in alertmanager, not blocking: {}", crate::names::summary(&names));
        }
        Ok(blocking_alerts(&loud, &self.filter))
    }

    pub fn check(&self) -> Result<Option<String>> {
        let names = self.active_alerts()?;
        Ok((!names.is_empty()).then(|| format!("active prometheus alerts: {}", crate::names::summary(&names))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts() -> Vec<Alert> {
        let a = |name: &str, state: &str| Alert {
            name: name.into(),
            state: state.into(),
            active: true,
            labels: Default::default(),
        };
        vec![
            a("KubeNodeDown", "firing"),
            a("Watchdog", "firing"),
            a("DiskFilling", "pending"),
            a("KubeNodeDown", "firing"),
            Alert { name: "Inactive".into(), state: "firing".into(), active: false, labels: Default::default() },
        ]
    }

    #[track_caller]
    fn case(regex: Option<&str>, match_only: bool, firing_only: bool, want: &[&str]) {
        let filter = AlertFilter { regex: regex.map(|r| regex_lite::Regex::new(r).unwrap()), match_only, firing_only };
        assert_eq!(
            blocking_alerts(&alerts(), &filter),
            want,
            "regex {regex:?} match_only {match_only} firing_only {firing_only}"
        );
    }

    #[test]
    fn filter_table() {
        case(None, false, false, &["DiskFilling", "KubeNodeDown", "Watchdog"]);
        case(None, true, false, &["DiskFilling", "KubeNodeDown", "Watchdog"]);
        case(None, false, true, &["KubeNodeDown", "Watchdog"]);
        case(Some("^Watchdog$"), false, false, &["DiskFilling", "KubeNodeDown"]);
        case(Some("^Watchdog$"), true, false, &["Watchdog"]);
        case(Some("Kube|Disk"), true, true, &["KubeNodeDown"]);
        case(Some("Kube|Disk"), false, true, &["Watchdog"]);
        case(Some(".*"), false, false, &[]);
    }

    #[test]
    fn parse_answers() {
        let ok = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"ALERTS","alertname":"X","alertstate":"firing"},"value":[1700000000.1,"1"]},
            {"metric":{"__name__":"ALERTS","alertname":"Y","alertstate":"pending"},"value":[1700000000.1,"0"]},
            {"metric":{"__name__":"ALERTS"},"value":[1700000000.1,"1"]}]}}"#;
        let got = parse_alerts(ok).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].name.as_str(), got[0].state.as_str(), got[0].active), ("X", "firing", true));
        assert!(!got[1].active);
        assert!(parse_alerts(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).unwrap().is_empty());

        let err = parse_alerts(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#).unwrap_err();
        assert!(err.contains("bad_data") && err.contains("parse error"), "{err}");
        assert!(parse_alerts(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#)
            .unwrap_err()
            .contains("matrix"));
        assert!(parse_alerts("<html>").unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn query_url_keeps_prefix() {
        let b = PrometheusBlocker::new("http://prom.example:9090/prometheus/", AlertFilter::default());
        assert_eq!(b.query_url(), "http://prom.example:9090/prometheus/api/v1/query?query=ALERTS");
    }
}
