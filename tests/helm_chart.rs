//! The Helm chart (manifests/helm/kured) with a real helm (scripts/helm,
//! v3.21.4) on the real control plane: `helm install` gives kured its
//! ServiceAccount, RBAC and DaemonSet, and the simulator's rollout with the
//! daemons on that ServiceAccount's token meets no 403; under the RBAC of
//! upstream's chart (a stand-in of chart 6.1.0 in tests/helm/) the rollout
//! still completes and each refused permission is a single WARN per daemon;
//! `helm upgrade` from that upstream release keeps the DaemonSet and its lock;
//! `helm uninstall` leaves no kured object behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fakeapi::RequestRecord;
use serde_json::Value;
use sim::real::controlplane::{repo_root, ControlPlane};

#[path = "support/helm.rs"]
mod helm_support;
use helm_support::helm_bin;
use sim::{Cluster, ClusterSpec, ControlPlaneKind, Limit};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

/// The whole rollout, in kured cycles (sim::budget turns them into seconds).
const ROLLOUT: Limit = Limit::Cycles(12);
const LOCK: &str = "weave.works/kured-node-lock";

fn chart() -> PathBuf {
    repo_root().join("manifests/helm/kured")
}
fn upstream_chart() -> PathBuf {
    repo_root().join("tests/helm/upstream-kured-6.1.0")
}

/// `helm ARGS` against the cluster of `kubeconfig`, with its own helm home
/// (no repositories or plugins of the user's); stdout, or the failure.
fn helm(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let home = kubeconfig.parent().unwrap_or(Path::new(".")).join("helm-home");
    let out = Command::new(helm_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .map_err(|e| format!("run helm: {e}"))?;
    if !out.status.success() {
        return Err(format!("helm {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .map_err(|e| format!("run kubectl: {e}"))?;
    if !out.status.success() {
        return Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn json(kubeconfig: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let text = kubectl(kubeconfig, &all).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl {args:?}: not JSON: {e}"))
}

/// The kured objects left, as `kind/name`: a release makes a ServiceAccount,
/// DaemonSet, Role and RoleBinding in kube-system and a ClusterRole and
/// ClusterRoleBinding, all named kured.
fn kured_objects(kubeconfig: &Path) -> Vec<String> {
    let kinds = [
        ("serviceaccount", true),
        ("daemonset", true),
        ("role", true),
        ("rolebinding", true),
        ("clusterrole", false),
        ("clusterrolebinding", false),
    ];
    let mut left = Vec::new();
    for (kind, namespaced) in kinds {
        let mut args = vec!["get", kind, "kured", "--ignore-not-found", "-o", "name"];
        if namespaced {
            args.extend(["--namespace", "kube-system"]);
        }
        let out = kubectl(kubeconfig, &args).unwrap_or_else(|e| panic!("{e}"));
        left.extend(out.lines().map(str::to_string));
    }
    left
}

fn spec(install: Vec<String>) -> ClusterSpec {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 3, &[]);
    s.control_plane = ControlPlaneKind::Real;
    s.downtime = std::time::Duration::from_millis(1500);
    s.workloads = true;
    s.install_command = Some(install);
    s
}

/// `helm install kured CHART -n kube-system`, through scripts/helm (its own
/// helm home), built first so that the build is not counted in the cluster's time.
fn install(chart: &Path) -> Vec<String> {
    helm_bin();
    let script = repo_root().join("scripts/helm");
    [&*script.to_string_lossy(), "install", "kured", &chart.to_string_lossy(), "--namespace", "kube-system"]
        .map(str::to_string)
        .to_vec()
}

fn forbidden(c: &Cluster) -> Vec<RequestRecord> {
    c.api().requests().into_iter().filter(|r| r.status == 403).collect()
}

#[test]
fn helm_install_gives_kured_its_identity_and_the_rollout_meets_no_403() {
    let mut c = Cluster::start(spec(install(&chart()))).unwrap_or_else(|e| panic!("cluster: {e}"));
    let kc = c.kubeconfig();
    let ds = json(&kc, &["-n", "kube-system", "get", "daemonset", "kured"]);
    assert_eq!(ds["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm", "{ds}");
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app.kubernetes.io/name": "kured", "app.kubernetes.io/instance": "kured"}),
        "upstream's selector"
    );
    assert_eq!(ds["spec"]["template"]["spec"]["serviceAccountName"], "kured");
    assert_eq!(ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 90);
    let left = kured_objects(&kc);
    assert_eq!(
        left.len(),
        6,
        "ServiceAccount, DaemonSet, Role, RoleBinding, ClusterRole, ClusterRoleBinding: {left:?}"
    );

    let s = c.run_until_all_rebooted(ROLLOUT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert_eq!((s.nodes_rebooted, s.max_concurrent, s.pdb_violations), (3, 1, 0), "{s}");
    let refused = forbidden(&c);
    let total = c.api().requests().len();
    assert!(
        refused.is_empty(),
        "{} of {total} requests refused with 403 under the chart's RBAC: {refused:?}",
        refused.len()
    );
    eprintln!("chart RBAC: {s}; {total} requests, 0 refused (audit log)");

    helm(&kc, &["uninstall", "kured", "--namespace", "kube-system", "--wait"]).unwrap_or_else(|e| panic!("{e}"));
    let left = kured_objects(&kc);
    assert!(left.is_empty(), "helm uninstall left {left:?}");
}

/// The permission a refused request needed, as the API server words it
/// ("cannot watch resource \"pods\""): what kured's WARN must name.
fn permission(r: &RequestRecord) -> String {
    let segments: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    // /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]] or /apis/GROUP/VERSION/...
    let rest = if segments.first() == Some(&"api") { &segments[2..] } else { &segments[3.min(segments.len())..] };
    let rest = if rest.first() == Some(&"namespaces") && rest.len() > 2 { &rest[2..] } else { rest };
    let resource = rest.first().copied().unwrap_or("?");
    let named = rest.len() > 1;
    let verb = match r.method.as_str() {
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ if r.query.split('&').any(|q| q == "watch=true" || q == "watch=1") => "watch",
        _ if named => "get",
        _ => "list",
    };
    format!("cannot {verb} resource \"{resource}\"")
}

/// Each kured run's log (a node's log holds one run per boot).
fn runs(log: &str) -> Vec<&str> {
    log.split("--- kured starts on ").filter(|r| !r.trim().is_empty()).collect()
}

#[test]
fn under_the_upstream_charts_rbac_the_rollout_completes_and_each_refusal_is_one_warning() {
    let mut c = Cluster::start(spec(install(&upstream_chart()))).unwrap_or_else(|e| panic!("cluster: {e}"));
    let s = c.run_until_all_rebooted(ROLLOUT);
    assert!(
        s.not_rebooted.is_empty() && s.left_cordoned.is_empty() && s.crashed.is_empty(),
        "a node stranded: {s:?}\n{}",
        c.report()
    );
    assert_eq!((s.nodes_rebooted, s.max_concurrent, s.pdb_violations), (3, 1, 0), "{s}");
    let refused = forbidden(&c);
    assert!(!refused.is_empty(), "upstream's RBAC lacks what kured-rs uses: some request must have been refused");
    let mut needed: BTreeMap<String, usize> = BTreeMap::new();
    for r in &refused {
        *needed.entry(permission(r)).or_default() += 1;
    }
    let total = c.api().requests().len();
    eprintln!("upstream RBAC: {s}; {} of {total} requests refused: {needed:?}", refused.len());

    let names: Vec<String> = c.spec().node_names();
    let mut warned: BTreeMap<String, usize> = BTreeMap::new();
    for name in &names {
        let log = std::fs::read_to_string(c.node(name).expect("node").log_path()).unwrap_or_default();
        for (i, run) in runs(&log).iter().enumerate() {
            for p in needed.keys() {
                let lines: Vec<&str> = run.lines().filter(|l| l.contains(p.as_str())).collect();
                assert!(
                    lines.iter().all(|l| l.contains("WARN")),
                    "{name} run {i}: a refusal ({p}) logged below WARN: {lines:#?}"
                );
                assert!(
                    lines.len() <= 1,
                    "{name} run {i}: {p} logged {} times, want once:\n{}",
                    lines.len(),
                    lines.join("\n")
                );
                *warned.entry(p.clone()).or_default() += lines.len();
            }
        }
    }
    for p in needed.keys() {
        assert!(
            warned.get(p).copied().unwrap_or(0) > 0,
            "refused ({p}) but no WARN names it; warned: {warned:?}\n{}",
            c.report()
        );
    }
}

#[test]
fn upstream_chart_plus_the_readmes_extra_rbac_meets_no_403() {
    let extra = repo_root().join("manifests/helm/upstream-chart-extra-rbac.yaml");
    let helm = repo_root().join("scripts/helm");
    // helm install, then kubectl apply, as an operator staying on upstream's chart would
    let script = format!(
        "set -e; '{}' install kured '{}' --namespace kube-system; kubectl apply -f '{}'",
        helm.display(),
        upstream_chart().display(),
        extra.display()
    );
    helm_bin();
    let mut c =
        Cluster::start(spec(vec!["/bin/sh".into(), "-c".into(), script])).unwrap_or_else(|e| panic!("cluster: {e}"));
    let s = c.run_until_all_rebooted(ROLLOUT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    let refused = forbidden(&c);
    assert!(refused.is_empty(), "upstream's RBAC plus {} still lacks: {refused:?}", extra.display());
}

#[test]
fn helm_upgrade_over_an_upstream_release_keeps_the_daemonset_and_its_lock() {
    let dir = TempDir::new("helm-upgrade");
    let cp = ControlPlane::start(&dir.0.join("control-plane")).unwrap_or_else(|e| panic!("control plane: {e}"));
    let kc = cp.kubeconfig();
    let ns = ["--namespace", "kube-system"];
    let up = upstream_chart();
    // an operator's own value on the upstream release, to be carried over
    helm(
        &kc,
        &[&["install", "kured", &*up.to_string_lossy(), "--set", "configuration.concurrency=2"][..], &ns].concat(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // A node holds the lock, as the upstream daemon writes it.
    let lock = r#"{"nodeID":"node-2","metadata":{"unschedulable":false},"created":"2026-01-01T00:00:00Z","TTL":0}"#;
    kubectl(&kc, &["-n", "kube-system", "annotate", "daemonset", "kured", &format!("{LOCK}={lock}")])
        .unwrap_or_else(|e| panic!("{e}"));
    let before = json(&kc, &["-n", "kube-system", "get", "daemonset", "kured"]);

    // README "Switch from the upstream chart": the operator's values, our chart's defaults
    let ours = chart();
    let upgrade = [
        "upgrade",
        "kured",
        &*ours.to_string_lossy(),
        "--reset-then-reuse-values",
        "--set",
        "image.repository=registry.example.org/kured-rs",
        "--set",
        "image.tag=0.1.0",
    ];
    helm(&kc, &[&upgrade[..], &ns].concat()).unwrap_or_else(|e| panic!("helm upgrade over the upstream release: {e}"));
    let after = json(&kc, &["-n", "kube-system", "get", "daemonset", "kured"]);
    let container = &after["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.org/kured-rs:0.1.0");
    let args: Vec<&str> = container["args"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(args.contains(&"--concurrency=2"), "the operator's value carried over: {args:?}");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz", "our defaults, not upstream's");
    assert!(
        container["securityContext"]["privileged"] != true,
        "least privilege by default: {}",
        container["securityContext"]
    );
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"], "the same DaemonSet, updated in place");
    assert_eq!(after["spec"]["selector"], before["spec"]["selector"]);
    assert_eq!(
        after["metadata"]["annotations"][LOCK], lock,
        "the lock carried over: {}",
        after["metadata"]["annotations"]
    );
    assert_eq!(after["metadata"]["labels"]["helm.sh/chart"], "kured-0.1.0", "now ours");
    assert_eq!(after["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 90);
    let role = json(&kc, &["get", "clusterrole", "kured"]);
    let rules = role["rules"].as_array().cloned().unwrap_or_default();
    assert!(
        rules.iter().any(|r| r["resources"] == serde_json::json!(["poddisruptionbudgets"])),
        "the ClusterRole is ours now (budgets readable): {role}"
    );

    helm(&kc, &[&["uninstall", "kured", "--wait"][..], &ns].concat()).unwrap_or_else(|e| panic!("{e}"));
    let left = kured_objects(&kc);
    assert!(left.is_empty(), "helm uninstall left {left:?}");
    drop(cp);
}
