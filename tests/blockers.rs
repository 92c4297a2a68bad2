//! Blockers over real sockets: the Prometheus blocker against a scripted local
//! Prometheus, and the pod blocker against the fake API server.

#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/kube.rs"]
mod support;

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

mod pods {
    use fakeapi::{FakeApiServer, Fault};
    use kured::blockers::{check_all, summary, AlertFilter, Blocker, Kind, PodBlocker, PrometheusBlocker, Reason};
    use kured::kube::Client;
    use kured::status::Blocked;
    use serde_json::json;

    use super::support::{cluster_with, TempDir};

    /// The fake API server (controllers on) and a client that trusts it the
    /// in-cluster way; the service-account dir lives as long as the client.
    fn cluster() -> (FakeApiServer, Client, TempDir) {
        let c = cluster_with(fakeapi::Options::default());
        (c.api, c.client, c.sa)
    }

    fn pod(api: &FakeApiServer, ns: &str, name: &str, node: &str, labels: serde_json::Value, phase: &str) {
        api.create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase}
        }));
    }

    #[test]
    fn running_matching_pods_on_this_node_block() {
        let (api, client, _sa) = cluster();
        for ns in ["db", "web"] {
            api.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        pod(&api, "db", "backup-1", "n1", json!({"app": "backup", "tier": "db"}), "Running");
        pod(&api, "db", "backup-0", "n1", json!({"app": "backup", "tier": "db"}), "Pending");
        pod(&api, "db", "backup-done", "n1", json!({"app": "backup", "tier": "db"}), "Succeeded");
        pod(&api, "db", "backup-failed", "n1", json!({"app": "backup", "tier": "db"}), "Failed");
        pod(&api, "db", "backup-elsewhere", "n2", json!({"app": "backup", "tier": "db"}), "Running");
        pod(&api, "web", "frontend", "n1", json!({"app": "web"}), "Running");

        // each value is one whole selector: the comma is AND
        let b = PodBlocker::new("n1", vec!["app=nothing".into(), "app=backup,tier=db".into()]);
        let reason = b.check(&client).unwrap().expect("blocked");
        assert_eq!(reason, "blocking pods (selector \"app=backup,tier=db\"): db/backup-0, db/backup-1");

        let reqs: Vec<_> = api.requests().into_iter().filter(|r| r.path == "/api/v1/pods").collect();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert!(reqs[1].query.contains("labelSelector=app%3Dbackup%2Ctier%3Ddb"), "{}", reqs[1].query);
        assert!(reqs[1].query.contains("fieldSelector=spec.nodeName%3Dn1"), "{}", reqs[1].query);

        assert_eq!(PodBlocker::new("n1", vec!["app=backup,tier=web".into()]).check(&client).unwrap(), None);
        assert_eq!(PodBlocker::new("n2", vec!["app=web".into()]).check(&client).unwrap(), None);

        let blockers = [Blocker::Pods(PodBlocker::new("n1", vec!["app=web".into()]))];
        assert_eq!(
            check_all(&blockers, &client),
            vec![Reason::blocks(Kind::Pods, "blocking pods (selector \"app=web\"): web/frontend")]
        );
    }

    #[test]
    fn an_api_error_is_an_error_not_a_pass() {
        let (api, client, _sa) = cluster();
        api.inject(Fault::status("GET", "/api/v1/pods", 403, 10));
        let b = PodBlocker::new("n1", vec!["app=backup".into()]);
        assert!(b.check(&client).is_err());
        let reasons = check_all(&[Blocker::Pods(b)], &client);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].cannot_tell && reasons[0].by == Kind::Pods, "{reasons:?}");
        assert!(reasons[0].text.starts_with("cannot check blockers: "), "{reasons:?}");
    }

    /// Issue 19: the kind comes from the blocker, not from its text. A pod
    /// named after Prometheus is a pod; an unreachable Prometheus is Prometheus.
    #[test]
    fn a_pod_named_prometheus_is_a_pod_and_prometheus_down_is_prometheus() {
        let (api, client, _sa) = cluster();
        api.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}));
        pod(&api, "monitoring", "prometheus-0", "n1", json!({"app": "prometheus"}), "Running");
        let pods = || Blocker::Pods(PodBlocker::new("n1", vec!["app=prometheus".into()]));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let down =
            || Blocker::Prometheus(PrometheusBlocker::new(&format!("http://127.0.0.1:{port}"), AlertFilter::default()));
        let label = |reasons: &[Reason]| summary(reasons).map(|(by, text)| (Blocked::of(by).label(), text));

        let (by, text) = label(&check_all(&[pods()], &client)).expect("blocked");
        assert_eq!(by, "pods");
        assert_eq!(text, "blocking pods (selector \"app=prometheus\"): monitoring/prometheus-0");

        let reasons = check_all(&[down(), pods()], &client);
        assert_eq!(reasons.len(), 1, "the first blocker that cannot answer ends the check: {reasons:?}");
        assert!(reasons[0].cannot_tell, "{reasons:?}");
        let (by, text) = label(&reasons).expect("blocked");
        assert_eq!(by, "prometheus");
        assert!(text.starts_with(&format!("cannot check blockers: prometheus http://127.0.0.1:{port}")), "{text}");

        let reasons = check_all(&[pods(), down()], &client);
        assert_eq!(reasons.iter().map(|r| r.by).collect::<Vec<_>>(), [Kind::Pods, Kind::Prometheus]);
        let (by, text) = label(&reasons).expect("blocked");
        assert_eq!(by, "pods", "the first reason's kind");
        assert!(text.contains("monitoring/prometheus-0; cannot check blockers: prometheus"), "{text}");
    }
}
