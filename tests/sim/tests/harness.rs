//! The harness itself, without the real daemon: a stand-in "kured" shell script
//! that runs its reboot command when the sentinel exists and then waits, as the
//! real one does. Checks the machines are played right (reboot, NotReady,
//! downtime, Ready, restart), that server changes reach the timeline, and that
//! no process outlives the cluster.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use sim::{Cluster, ClusterSpec, Event, Limit};

/// In cycles of the harness's default 2 s period (sim::budget; the stand-ins
/// log no checks to measure).
const LIMIT: Limit = Limit::Cycles(3);

/// A stand-in kured script; the file goes when this does.
struct Script(PathBuf);

impl Script {
    fn path(&self) -> PathBuf {
        self.0.join("kured")
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A shell script standing in for kured, with `$s` (sentinel) and `$c` (reboot command) set.
fn fake_kured(name: &str, body: &str) -> Script {
    let dir = std::env::temp_dir().join(format!("kured-sim-harness-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --reboot-sentinel=*) s=\"${{a#*=}}\";; --reboot-command=*) c=\"${{a#*=}}\";; esac; done\n{body}\n"
    );
    // write to a fresh name and rename: executing a file still open for writing fails (ETXTBSY)
    let tmp = dir.join("kured.tmp");
    std::fs::write(&tmp, script).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, dir.join("kured")).unwrap();
    Script(dir)
}

const REBOOTS: &str = "if [ -e \"$s\" ]; then eval \"$c\"; fi\nexec sleep 600";

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists; pid > 1 asserted.
    assert!(pid > 1);
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn plays_reboots_and_leaves_no_process_behind() {
    let script = fake_kured("rebooting-kured", REBOOTS);
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 2;
    spec.workloads = true;
    spec.downtime = Duration::from_millis(300);
    let mut c = Cluster::start(spec).expect("cluster starts");
    let pids: Vec<u32> = ["node-1", "node-2"]
        .iter()
        .flat_map(|n| {
            let node = c.node(n).unwrap();
            [node.host_pid(), node.kured_pid().unwrap()]
        })
        .collect();
    assert!(pids.iter().all(|p| *p > 1 && alive(*p)));
    let running = |c: &Cluster, app: &str| {
        c.api()
            .list("pods")
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == app && p["status"]["phase"] == "Running")
            .count()
    };
    let scheduled =
        c.poll_until(LIMIT, |_| {}, |c| running(c, "web") == 4 && running(c, "api") == 3 && running(c, "lonely") == 1);
    assert!(scheduled, "the workloads run: {:?}", c.api().list("pods"));

    let summary = c.run_until_all_rebooted(LIMIT);
    assert_eq!(summary.nodes_rebooted, 2, "{}", c.report());
    assert!(summary.violations(1).is_empty(), "{:?}\n{}", summary.violations(1), c.report());
    assert!(summary.to_string().starts_with("nodes_rebooted=2 max_concurrent=0 pdb_violations=0 elapsed_s="));
    for n in ["node-1", "node-2"] {
        assert_eq!(c.reboots(n), 1, "rebooted once: the sentinel is gone after the reboot");
        let back = c.timeline().iter().position(|e| e.event == Event::NodeBack { node: n.into() });
        let down = c.timeline().iter().position(|e| e.event == Event::Rebooted { node: n.into(), count: 1 });
        assert!(down.is_some() && back > down, "{}", c.report());
        let node = c.get_node(n).unwrap();
        let ready = node["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["status"], "True");
        assert!(!c.node(n).unwrap().sentinel().exists());
    }
    // the restarted kured processes are new ones
    let new_pids: Vec<u32> = ["node-1", "node-2"].iter().map(|n| c.node(n).unwrap().kured_pid().unwrap()).collect();
    let dir = c.dir().to_path_buf();
    drop(c);
    for p in pids.iter().chain(&new_pids) {
        assert!(!alive(*p), "pid {p} survived the cluster");
    }
    assert!(!dir.exists(), "work directory removed");
}

#[test]
fn node_is_not_ready_during_the_downtime() {
    let script = fake_kured("rebooting-kured-2", REBOOTS);
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 1;
    spec.downtime = Duration::from_secs(2);
    let mut c = Cluster::start(spec).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    let node = c.get_node("node-1").unwrap();
    let ready = node["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(ready["status"], "False");
    assert!(c.node("node-1").unwrap().kured_pid().is_none(), "kured went down with the machine");
    c.wait_for(LIMIT, |e| matches!(e, Event::NodeBack { .. })).unwrap();
}

#[test]
fn a_kured_that_exits_is_reported() {
    let script = fake_kured("exiting-kured", "exit 3");
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 1;
    let mut c = Cluster::start(spec).unwrap();
    let e = c.wait_for(LIMIT, |e| matches!(e, Event::KuredExited { .. })).unwrap();
    assert!(e.to_string().contains("node-1: kured exited unexpectedly"), "{e}");
    let s = c.summary();
    assert_eq!(s.crashed, ["node-1"]);
    assert_eq!(s.not_rebooted, ["node-1"]);
}

#[test]
fn server_changes_reach_the_timeline_and_the_maxima() {
    let script = fake_kured("idle-kured", "exec sleep 600");
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 3;
    spec.precordoned = vec!["node-3".into()];
    let mut c = Cluster::start(spec).unwrap();
    // what two kured would do: take the lock (multi format) and cordon
    let mut ds = c.api().get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"]["weave.works/kured-node-lock"] = json!(sim::lockview::upstream_multi(
        2,
        &[("node-1", "2024-01-01T00:00:00Z", 0), ("node-2", "2024-01-01T00:00:00Z", 0)]
    ));
    c.api().update(ds).unwrap();
    for n in ["node-1", "node-2"] {
        let mut node = c.get_node(n).unwrap();
        node["spec"]["unschedulable"] = json!(true);
        node["metadata"]["labels"]["kured"] = json!("rebooting");
        c.api().update(node).unwrap();
    }
    let mut seen = Vec::new();
    let done = c.poll_until(LIMIT, |e| seen.push(e.event.clone()), |c| c.lock_holders().len() == 2);
    assert!(done, "{}", c.report());
    for want in [
        Event::LockTaken { node: "node-1".into() },
        Event::LockTaken { node: "node-2".into() },
        Event::Cordoned { node: "node-2".into() },
        Event::NodeLabel { node: "node-1".into(), key: "kured".into(), value: Some("rebooting".into()) },
    ] {
        assert!(seen.contains(&want), "missing {want:?} in {seen:?}");
    }
    let s = c.summary();
    assert_eq!(
        (s.max_lock_holders, s.max_cordoned, s.max_concurrent),
        (2, 2, 2),
        "operator-cordoned node-3 not counted"
    );
    assert_eq!(s.left_cordoned, ["node-1", "node-2"]);
    assert_eq!(s.violations(1).len(), 4, "{:?}", s.violations(1)); // holders, cordoned, left cordoned, not rebooted
    assert!(s.violations(2).iter().all(|v| !v.contains("at once")));
}

/// A stand-in kured made of kubectl calls: a poor man's lock (annotate without
/// --overwrite, guarded by the resourceVersion), `kubectl drain`, the reboot
/// command; after the "reboot": uncordon and release. Good enough to see the
/// whole machinery (lock, cordon, evictions, PDB, reboot, back) before the real
/// daemon exists.
const KUBECTL_KURED: &str = r#"export HOME="$(dirname "$s")"
for a in "$@"; do case "$a" in --node-id=*) n="${a#*=}";; esac; done
k() { kubectl --request-timeout=5s --server="https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" --certificate-authority="$KURED_SERVICE_ACCOUNT_DIR/ca.crt" --token="$(cat "$KURED_SERVICE_ACCOUNT_DIR/token")" "$@"; }
L=weave.works/kured-node-lock
case "$(k -n kube-system get ds kured -o 'jsonpath={.metadata.annotations.weave\.works/kured-node-lock}')" in
  *"\"$n\""*) k uncordon "$n" && k -n kube-system annotate ds kured "$L-";;
esac
while :; do
  if [ -e "$s" ]; then
    rv=$(k -n kube-system get ds kured -o 'jsonpath={.metadata.resourceVersion}')
    if k -n kube-system annotate ds kured --resource-version="$rv" "$L={\"nodeID\":\"$n\"}"; then
      k drain "$n" --ignore-daemonsets --delete-emptydir-data --force --grace-period=1 && eval "$c"
      exec sleep 600
    fi
  fi
  sleep 1
done"#;

#[test]
fn a_kubectl_kured_goes_through_the_whole_cycle() {
    // kubectl is on every machine here (the fidelity tests need it too): without
    // it this test fails with the reason instead of passing untested.
    let kubectl = std::process::Command::new("kubectl").arg("version").arg("--client").output();
    assert!(kubectl.is_ok(), "kubectl is needed on PATH for this test: {kubectl:?}");
    let script = fake_kured("kubectl-kured", KUBECTL_KURED);
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 2;
    spec.downtime = Duration::from_millis(300);
    spec.extra_objects = vec![
        sim::objects::deployment("default", "web", 2),
        sim::objects::pdb("default", "web", json!({"minAvailable": 1})),
        sim::objects::bare_pod("default", "scratch", "node-1", "scratch", true),
    ];
    let mut c = Cluster::start(spec).unwrap();
    let s = c.run_until_all_rebooted(Limit::Cycles(8));
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert_eq!((s.nodes_rebooted, s.max_lock_holders, s.max_cordoned), (2, 1, 1), "{s}\n{}", c.report());
    let t = c.timeline();
    assert!(t.iter().any(|e| e.event == Event::Evicted { pod: "default/scratch".into() }), "{}", c.report());
    assert!(
        t.iter().any(|e| matches!(&e.event, Event::Evicted { pod } if pod.starts_with("default/web-"))),
        "{}",
        c.report()
    );
    println!("{}", c.report());
}

#[test]
fn a_lock_write_that_drops_fields_is_caught() {
    let script = fake_kured("idle-kured-2", "exec sleep 600");
    let mut spec = ClusterSpec::new(script.path());
    spec.nodes = 1;
    let c = Cluster::start(spec).unwrap();
    assert!(c.summary().lost_fields.is_empty());
    // what a client with a too-small model of a DaemonSet would write back
    let ds = c.api().get("daemonsets", "kube-system", "kured").unwrap();
    let slim = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {
        "name": "kured", "namespace": "kube-system", "resourceVersion": ds["metadata"]["resourceVersion"],
        "annotations": {"weave.works/kured-node-lock": "{}"}}, "spec": {"selector": ds["spec"]["selector"]}});
    c.api().update(slim).unwrap();
    let lost = c.summary().lost_fields;
    assert!(lost.iter().any(|l| l.contains("/spec")), "{lost:?}");
    assert!(lost.iter().any(|l| l.contains("deprecated.daemonset.template.generation")), "{lost:?}");
}
