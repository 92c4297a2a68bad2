//! Node operations against the fake API server: cordon/uncordon as kubectl,
//! labels and annotations, and the PreferNoSchedule taint edited without losing
//! anyone else's taints.

#[path = "support/kube.rs"]
mod kube;

use fakeapi::{FakeApiServer, Fault};
use kube::{client, two_nodes};
use kured::node;
use serde_json::{json, Value};

fn patches(api: &FakeApiServer) -> Vec<fakeapi::RequestRecord> {
    api.requests().into_iter().filter(|r| r.method == "PATCH").collect()
}

#[test]
fn cordon_and_uncordon_as_kubectl() {
    let api = two_nodes();
    let c = client(&api);
    node::cordon(&c, "n1").unwrap();
    node::cordon(&c, "n1").unwrap();
    node::uncordon(&c, "n1").unwrap();
    node::uncordon(&c, "n1").unwrap();
    let p = patches(&api);
    assert_eq!(p.len(), 2, "nothing sent when already in the wanted state");
    assert_eq!(p[0].content_type, "application/strategic-merge-patch+json");
    assert_eq!(serde_json::from_str::<Value>(&p[0].body).unwrap(), json!({"spec":{"unschedulable":true}}));
    assert_eq!(serde_json::from_str::<Value>(&p[1].body).unwrap(), json!({"spec":{"unschedulable":null}}));
    assert_ne!(api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"], true);
}

#[test]
fn labels_and_annotations_touch_only_their_keys() {
    let api = two_nodes();
    let mut n = api.get("nodes", "", "n1").unwrap();
    n["metadata"]["labels"] = json!({"keep":"me"});
    api.update(n).unwrap();
    let c = client(&api);
    node::set_labels(&c, "n1", &[("kured", "rebooting"), ("zone", "a")]).unwrap();
    node::remove_labels(&c, "n1", &["zone", "absent"]).unwrap();
    node::set_annotations(&c, "n1", &[("weave.works/kured-reboot-in-progress", "2024-03-01T03:00:00Z")]).unwrap();
    node::remove_annotations(&c, "n1", &["weave.works/kured-reboot-in-progress"]).unwrap();
    node::set_labels::<&str, &str>(&c, "n1", &[]).unwrap();
    let n = api.get("nodes", "", "n1").unwrap();
    assert_eq!(n["metadata"]["labels"], json!({"keep":"me","kured":"rebooting"}));
    assert!(n["metadata"]["annotations"].get("weave.works/kured-reboot-in-progress").is_none());
    assert_eq!(patches(&api).len(), 4);
}

#[test]
fn the_prefer_no_schedule_taint_is_idempotent_and_keeps_other_taints() {
    let api = two_nodes();
    let mut n = api.get("nodes", "", "n1").unwrap();
    n["spec"]["taints"] = json!([{"key":"dedicated","value":"gpu","effect":"NoSchedule"},
                                 {"key":"node.kubernetes.io/not-ready","effect":"NoExecute","timeAdded":"2024-03-01T03:00:00Z"}]);
    api.update(n).unwrap();
    let c = client(&api);
    let taints = |api: &FakeApiServer| api.get("nodes", "", "n1").unwrap()["spec"]["taints"].clone();
    node::set_prefer_no_schedule_taint(&c, "n1", "kured", true).unwrap();
    node::set_prefer_no_schedule_taint(&c, "n1", "kured", true).unwrap();
    let t = taints(&api);
    assert_eq!(t.as_array().unwrap().len(), 3, "{t}");
    assert_eq!(t[2], json!({"key":"kured","effect":"PreferNoSchedule"}));
    // Someone else edits the taints between our read and write: the test fails, we re-read.
    api.inject(Fault::status("PATCH", "/api/v1/nodes/n1", 422, 1));
    node::set_prefer_no_schedule_taint(&c, "n1", "kured", false).unwrap();
    node::set_prefer_no_schedule_taint(&c, "n1", "kured", false).unwrap();
    let t = taints(&api);
    assert_eq!(t.as_array().unwrap().len(), 2, "{t}");
    assert_eq!(t[1]["timeAdded"], "2024-03-01T03:00:00Z");
    assert_eq!(patches(&api).len(), 3, "add once, remove twice (once refused), nothing when already so");
    // From no taints at all.
    node::set_prefer_no_schedule_taint(&c, "n2", "kured", true).unwrap();
    assert_eq!(
        api.get("nodes", "", "n2").unwrap()["spec"]["taints"],
        json!([{"key":"kured","effect":"PreferNoSchedule"}])
    );
}

#[test]
fn a_stale_taint_removal_is_refused_by_the_server() {
    let api = two_nodes();
    let mut n = api.get("nodes", "", "n1").unwrap();
    n["spec"]["taints"] = json!([{"key":"a","effect":"NoSchedule"},{"key":"kured","effect":"PreferNoSchedule"}]);
    api.update(n).unwrap();
    let stale = kured::kube::Client::get_node(&client(&api), "n1").unwrap();
    let patch = node::taint_patch(&stale, "kured", false).unwrap();
    // Meanwhile another writer removed "a": index 1 no longer exists.
    let mut n = api.get("nodes", "", "n1").unwrap();
    n["spec"]["taints"] = json!([{"key":"kured","effect":"PreferNoSchedule"}]);
    api.update(n).unwrap();
    let err = client(&api).patch_node("n1", &kured::kube::Patch::Json(patch)).unwrap_err();
    assert_eq!(err.api_kind(), Some(kured::error::ApiErrorKind::Invalid), "{err}");
}
