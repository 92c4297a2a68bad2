//! The release gate's wait after the reboot (`kured::gate::wait`) against the
//! fake API server: a PodDisruptionBudget the RBAC may not read (403) means
//! "cannot tell", asked once, and the gate opens on readiness; any other error
//! reading a budget still keeps it shut until the timeout.

#[path = "support/kube.rs"]
mod kube;

use std::time::Duration;

use fakeapi::{Fault, FaultAction};
use kube::{cluster, node, requests_to, FakeClock};
use kured::gate::{self, Budget, Outcome};
use serde_json::json;
use time::OffsetDateTime;

const TIMEOUT: Duration = Duration::from_secs(600);
const WEB: &str = "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web";

fn budget(name: &str, before: i64) -> Budget {
    Budget { namespace: "default".into(), name: name.into(), before }
}

fn pdb(name: &str, allowed: i64) -> serde_json::Value {
    json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}},
        "status": {"disruptionsAllowed": allowed},
    })
}

/// A Ready node n1 and the gate's wait on `budgets`, on a clock that moves
/// only when the gate sleeps.
fn wait_on(c: &kube::Cluster, budgets: &[Budget], timeout: Duration) -> Outcome {
    let clock = FakeClock::at(OffsetDateTime::now_utc());
    gate::wait(&c.client, "n1", budgets, timeout, &clock, &|| false)
}

fn ready_node(c: &kube::Cluster) {
    c.api.create(node("n1"));
    c.api.set_node_ready("n1", true);
}

#[test]
fn a_budget_refused_with_403_is_asked_once_and_the_gate_opens_on_readiness() {
    let c = cluster();
    ready_node(&c);
    c.api.create(pdb("web", 0)); // short: were it readable, the gate would stay shut
    c.api.inject(Fault::new("GET", WEB, FaultAction::Status(403)));
    let out = wait_on(&c, &[budget("web", 1)], TIMEOUT);
    assert_eq!(out, Outcome::Open { waited: Duration::ZERO }, "a refused budget cannot be told: readiness decides");
    let gets = requests_to(&c.api, WEB);
    assert_eq!(gets.len(), 1, "asked once, then not again: {gets:?}");
    assert_eq!(gets[0].status, 403);
}

#[test]
fn a_refused_budget_does_not_open_the_gate_for_a_readable_short_one() {
    let c = cluster();
    ready_node(&c);
    c.api.create(pdb("web", 1));
    c.api.create(pdb("db", 0));
    c.api.inject(Fault::new("GET", WEB, FaultAction::Status(403)));
    match wait_on(&c, &[budget("web", 1), budget("db", 1)], TIMEOUT) {
        Outcome::TimedOut(why) => assert!(why.contains("default/db allows 0"), "{why}"),
        other => panic!("the readable budget default/db is short: want TimedOut, got {other:?}"),
    }
    assert_eq!(requests_to(&c.api, WEB).len(), 1, "the refused one was asked once");
}

#[test]
fn other_errors_reading_a_budget_keep_the_gate_shut() {
    let c = cluster();
    ready_node(&c);
    c.api.create(pdb("web", 1));
    // 500, which the client does not resend itself; a few of the gate's own
    // looks (every 2 s on the test's clock) until the timeout
    c.api.inject(Fault::new("GET", WEB, FaultAction::Status(500)));
    match wait_on(&c, &[budget("web", 1)], Duration::from_secs(10)) {
        Outcome::TimedOut(why) => assert!(why.contains("cannot check"), "{why}"),
        other => panic!("a 500 is an API hiccup, not a refusal: want TimedOut, got {other:?}"),
    }
    assert!(requests_to(&c.api, WEB).len() > 1, "retried while shut");
}
