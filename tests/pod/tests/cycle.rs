//! The kured pod of each rendering that changes the security context
//! (manifests/base, overlays/signal, overlays/privileged, the Helm chart), run by runc as a
//! kubelet would, through a 2-node rollout on the real control plane under
//! RuntimeDefault and under Unconfined seccomp: the sentinel seen through the
//! hostPath, lock, cordon, drain, the default `/bin/systemctl reboot` run in
//! the host stand-in's mount namespace (or SIGRTMIN+5 to its PID 1), a new
//! boot ID, uncordon, release. The host's records show which path ran.
//! `/healthz` and `/metrics` answer on the pod's port.

mod support;

use sim::{Cluster, ControlPlaneKind, Limit};
use support::*;

const LIMIT: Limit = Limit::Cycles(10);

/// Poll the pod's port (carried to the test's loopback) until both answer.
fn probes_answer(c: &mut Cluster, node: &str) {
    let port = c.metrics_port(node).expect("node");
    let mut seen = (None, None);
    let ok = c.poll_until(
        LIMIT,
        |_| {},
        |_| {
            if seen.0.is_none() {
                seen.0 = http_get(port, "/healthz").filter(|(code, _)| *code == 200);
            }
            if seen.1.is_none() {
                seen.1 = http_get(port, "/metrics")
                    .filter(|(code, body)| *code == 200 && body.contains("kured_reboot_required"));
            }
            seen.0.is_some() && seen.1.is_some()
        },
    );
    assert!(
        ok,
        "{node}: /healthz {:?}, /metrics {:?} on the pod's port\n{}",
        seen.0,
        seen.1.map(|(c, _)| c),
        c.report()
    );
}

/// The rollout of `dir`'s pod under `seccomp`; `want` is what each host
/// stand-in must have recorded.
fn rollout(dir: &str, seccomp: &str, want: &str, kind: ControlPlaneKind) {
    rollout_of(&manifest(dir, Some(seccomp), |_| {}), &format!("{dir} under {seccomp}"), want, kind);
}

/// The same for any rendering: e.g. the Helm chart's default, as
/// `manifest_of(pod::spec::documents(&helm_template_output)?, Some("RuntimeDefault"), |_| {})`.
fn rollout_of(m: &Manifest, what: &str, want: &str, kind: ControlPlaneKind) {
    let mut c = start(spec(2, m, kind));
    probes_answer(&mut c, "node-2");
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{what}: {:?}\n{}", s.violations(1), c.report());
    for node in ["node-1", "node-2"] {
        assert_eq!(c.reboots(node), 1, "{node}\n{}", c.report());
        let calls = host_calls(&c, node);
        assert_eq!(calls.trim(), want, "{what}: what {node}'s host saw\n{}", log(&c, node));
        assert!(!log(&c, node).contains(" WARN "), "{what}: a start-up warning on {node}\n{}", log(&c, node));
    }
}

#[test]
fn base_on_the_fake_server() {
    rollout("base", "RuntimeDefault", "systemctl reboot", ControlPlaneKind::Fake);
}

#[test]
fn base_under_runtime_default() {
    rollout("base", "RuntimeDefault", "systemctl reboot", ControlPlaneKind::Real);
}

#[test]
fn base_unconfined() {
    rollout("base", "Unconfined", "systemctl reboot", ControlPlaneKind::Real);
}

#[test]
fn signal_overlay_under_runtime_default() {
    rollout("overlays/signal", "RuntimeDefault", "signal 39", ControlPlaneKind::Real);
}

#[test]
fn signal_overlay_unconfined() {
    rollout("overlays/signal", "Unconfined", "signal 39", ControlPlaneKind::Real);
}

/// containerd gives a privileged container no seccomp profile, whatever the
/// spec asks: both runs are unconfined, as on a real node.
#[test]
fn privileged_overlay_under_runtime_default() {
    rollout("overlays/privileged", "RuntimeDefault", "systemctl reboot", ControlPlaneKind::Real);
}

#[test]
fn privileged_overlay_unconfined() {
    rollout("overlays/privileged", "Unconfined", "systemctl reboot", ControlPlaneKind::Real);
}

/// The Helm chart's default rendering (`helm template kured manifests/helm/kured
/// --namespace kube-system`, with the project's helm: scripts/helm).
fn chart() -> Vec<serde_json::Value> {
    let helm = repo().join("scripts/helm");
    let out = std::process::Command::new(&helm)
        .args(["template", "kured"])
        .arg(repo().join("manifests/helm/kured"))
        .args(["--namespace", "kube-system"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", helm.display()));
    assert!(
        out.status.success(),
        "helm template (scripts/helm build installs helm): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pod::spec::documents(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

#[test]
fn helm_chart_default_under_runtime_default() {
    rollout_of(
        &manifest_of(chart(), Some("RuntimeDefault"), |_| {}),
        "the Helm chart under RuntimeDefault",
        "systemctl reboot",
        ControlPlaneKind::Real,
    );
}

#[test]
fn helm_chart_default_unconfined() {
    rollout_of(
        &manifest_of(chart(), Some("Unconfined"), |_| {}),
        "the Helm chart unconfined",
        "systemctl reboot",
        ControlPlaneKind::Real,
    );
}
