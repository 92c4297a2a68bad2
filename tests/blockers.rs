//! Blockers over real sockets: the Prometheus blocker against a scripted local
//! Prometheus, and the pod blocker against the fake API server.

#[path = "support/receiver.rs"]
mod receiver;

use kured::blockers::{AlertFilter, PrometheusBlocker};
use receiver::Receiver;

const ALERTS: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
  {"metric":{"__name__":"ALERTS","alertname":"Watchdog","alertstate":"firing","severity":"none"},"value":[1700000000.5,"1"]},
  {"metric":{"__name__":"ALERTS","alertname":"KubeNodeNotReady","alertstate":"firing"},"value":[1700000000.5,"1"]},
  {"metric":{"__name__":"ALERTS","alertname":"KubeNodeNotReady","alertstate":"firing","node":"n2"},"value":[1700000000.5,"1"]},
  {"metric":{"__name__":"ALERTS","alertname":"DiskFilling","alertstate":"pending"},"value":[1700000000.5,"1"]}]}}"#;

fn filter(regex: Option<&str>, match_only: bool, firing_only: bool) -> AlertFilter {
    AlertFilter { regex: regex.map(|r| regex_lite::Regex::new(r).unwrap()), match_only, firing_only }
}

#[track_caller]
fn case(f: AlertFilter, want: Option<&str>) {
    let rx = Receiver::start(vec![(200, "application/json", ALERTS.to_string())]);
    let b = PrometheusBlocker::new(&format!("{}/prom/", rx.base), f);
    let got = b.check().unwrap();
    assert_eq!(got.as_deref(), want);
    let req = rx.recv();
    assert_eq!((req.method.as_str(), req.target.as_str()), ("GET", "/prom/api/v1/query?query=ALERTS"));
}

#[test]
fn alerts_block_according_to_the_filter() {
    case(filter(None, false, false), Some("active prometheus alerts: DiskFilling, KubeNodeNotReady, Watchdog"));
    case(filter(None, false, true), Some("active prometheus alerts: KubeNodeNotReady, Watchdog"));
    case(filter(Some("^Watchdog$"), false, false), Some("active prometheus alerts: DiskFilling, KubeNodeNotReady"));
    case(filter(Some("^Watchdog$"), true, false), Some("active prometheus alerts: Watchdog"));
    case(filter(Some("^(Watchdog|KubeNodeNotReady)$"), false, true), None);
    case(filter(Some("Disk"), true, true), None);
}

#[test]
fn no_alerts_means_not_blocked() {
    let rx = Receiver::start(vec![(
        200,
        "application/json",
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into(),
    )]);
    assert_eq!(PrometheusBlocker::new(&rx.base, AlertFilter::default()).check().unwrap(), None);
}

#[track_caller]
fn fails(status: u16, body: &str, want: &str) {
    let rx = Receiver::start(vec![(status, "application/json", body.to_string())]);
    let e = PrometheusBlocker::new(&rx.base, AlertFilter::default()).check().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, kured::Error::Prometheus { .. }), "{e:?}");
    assert!(msg.starts_with(&format!("prometheus {}", rx.base)) && msg.contains(want), "{msg}");
}

#[test]
fn unusable_answers_are_errors() {
    fails(200, "not json", "invalid JSON");
    fails(400, r#"{"status":"error","errorType":"bad_data","error":"parse error at char 1"}"#, "status 400");
    fails(503, r#"{"status":"error","errorType":"unavailable","error":"not ready"}"#, "not ready");
    fails(200, r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#, "scalar");
    fails(502, "<html>bad gateway</html>", "status 502");
}

#[test]
fn unreachable_prometheus_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = PrometheusBlocker::new(&format!("http://127.0.0.1:{port}"), AlertFilter::default()).check().unwrap_err();
    assert!(matches!(e, kured::Error::Prometheus { .. }), "{e:?}");
}
