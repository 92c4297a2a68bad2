//! `--prometheus-query`: any PromQL instant query, asked of `--prometheus-url`
//! each check; a non-empty result holds the reboot back, the series it found
//! named in the reason (and so in the node's status). An answer that cannot be
//! read (an error, a range vector, garbage) is "cannot tell": blocked, as for
//! the alerts.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
}

/// A series as PromQL writes it: `name{a="1", b="2"}` (`{}` without a name).
pub fn series_name(metric: &BTreeMap<String, String>) -> String {
    let name = metric.get("__name__").map_or("", String::as_str);
    let labels: Vec<String> =
        metric.iter().filter(|(k, _)| *k != "__name__").map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", labels.join(", "))
}

/// The series an instant query returned: every sample of a vector, or the
/// scalar when it is not 0 (`scalar(...) > 0` style questions). Anything
/// else is an error.
pub fn parse_series(body: &str) -> std::result::Result<Vec<String>, String> {
    let resp: Response = serde_json::from_str(body).map_err(|e| format!("invalid JSON answer: {e}"))?;
    if resp.status != "success" {
        return Err(format!("query failed: status {:?} {}: {}", resp.status, resp.error_type, resp.error));
    }
    let data = resp.data.ok_or("answer has no data")?;
    match data.result_type.as_str() {
        "vector" => {
            let samples: Vec<Sample> =
                serde_json::from_value(data.result).map_err(|e| format!("invalid vector in the answer: {e}"))?;
            Ok(samples.iter().map(|s| series_name(&s.metric)).collect())
        }
        "scalar" => {
            let (_, value): (serde_json::Value, String) =
                serde_json::from_value(data.result).map_err(|e| format!("invalid scalar in the answer: {e}"))?;
            let v: f64 = value.parse().map_err(|_| format!("scalar {value:?} is not a number"))?;
            Ok(if v != 0.0 { vec![format!("scalar {value}")] } else { Vec::new() })
        }
        other => Err(format!("result type {other:?}: the query must give an instant vector or a scalar")),
    }
}

#[derive(Debug)]
pub struct QueryBlocker {
    base: String,
    query: String,
    agent: ureq::Agent,
}

impl QueryBlocker {
    pub fn new(url: &str, query: &str) -> QueryBlocker {
        QueryBlocker {
            base: url.trim_end_matches('/').to_string(),
            query: query.to_string(),
            agent: crate::outbound::agent(),
        }
    }

    pub fn query_url(&self) -> String {
        format!("{}/api/v1/query?query={}", self.base, crate::urlenc::percent_encode(&self.query))
    }

    pub fn check(&self) -> Result<Option<String>> {
        let fail = |message: String| Error::Prometheus {
            url: self.base.clone(),
            message: format!("query {:?}: {message}", self.query),
        };
        let (status, body) = super::fetch::get(&self.agent, &self.query_url()).map_err(fail)?;
        let series = parse_series(&body).map_err(|m| {
            if (200..300).contains(&status) {
                fail(m)
            } else {
                fail(format!("status {status}: {m}"))
            }
        })?;
        Ok((!series.is_empty()).then(|| {
            // the series first: the status annotation keeps only the start of a reason
            format!("prometheus query result {} (query {:?})", crate::names::summary(&series), self.query)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn answer(body: &str, want: std::result::Result<&[&str], &str>) {
        match (parse_series(body), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{body}"),
            (Err(got), Err(part)) => assert!(got.contains(part), "{body}: {got}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn reads_instant_answers() {
        let v = |r: &str| format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{r}]}}}}"#);
        answer(&v(""), Ok(&[]));
        answer(
            &v(
                r#"{"metric":{"__name__":"kube_deployment_status_replicas_unavailable","namespace":"db","deployment":"pg"},"value":[1,"1"]}"#,
            ),
            Ok(&[r#"kube_deployment_status_replicas_unavailable{deployment="pg", namespace="db"}"#]),
        );
        answer(
            &v(r#"{"metric":{"job":"etcd"},"value":[1,"0"]},{"metric":{},"value":[1,"3"]}"#),
            Ok(&[r#"{job="etcd"}"#, "{}"]),
        );
        let s = |x: &str| format!(r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{x}"]}}}}"#);
        answer(&s("1"), Ok(&["scalar 1"]));
        answer(&s("0"), Ok(&[]));
        answer(&s("NaN"), Ok(&["scalar NaN"]));
        answer(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, Err("instant vector or a scalar"));
        answer(
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
            Err("parse error at char 3"),
        );
        answer("<html>", Err("invalid JSON"));
        answer(r#"{"status":"success"}"#, Err("no data"));
    }

    #[test]
    fn query_is_encoded() {
        let b = QueryBlocker::new("http://p:9090/prom/", "up{job=\"x\"} == 0");
        assert_eq!(b.query_url(), "http://p:9090/prom/api/v1/query?query=up%7Bjob%3D%22x%22%7D%20%3D%3D%200");
    }
}
