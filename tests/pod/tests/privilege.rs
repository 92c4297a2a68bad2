//! Least privilege, measured, with the kured pod in runc on the real control
//! plane: manifests/base with each of its capabilities removed once (the
//! reboot fails, kured's error names the operation and the capability, the
//! node is put back, nothing hangs); the pod-spec mistakes users will make
//! (no hostPID, the sentinel not mounted, no token), each told at start-up in
//! pod-spec terms; and SIGTERM to the container mid-drain, as a rollout or an
//! uninstall sends it, putting the node back within the grace period.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};
use sim::objects::{deployment, pdb};
use sim::{Cluster, ControlPlaneKind, Event, Limit};
use support::*;

const LIMIT: Limit = Limit::Cycles(10);

fn wait(c: &mut Cluster, what: &str, done: impl FnMut(&Cluster) -> bool) {
    let ok = c.poll_until(LIMIT, |_| {}, done);
    assert!(ok, "{what}: not in time\n{}", c.report());
}

/// The first log line of `node` containing `needle`, from there on.
fn line_with(c: &Cluster, node: &str, needle: &str) -> Option<String> {
    log(c, node).lines().find_map(|l| l.find(needle).map(|i| l[i..].to_string()))
}

/// One node per manifest (node-1 runs the first, ...), real control plane.
fn per_node(manifests: &[&Manifest]) -> Cluster {
    let mut s = spec(manifests.len(), manifests[0], ControlPlaneKind::Real);
    s.kured_env = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("node-{}", i + 1), vec![("KURED_POD_MANIFEST".to_string(), m.0.display().to_string())]))
        .collect::<BTreeMap<_, _>>();
    start(s)
}

#[test]
fn each_capability_removed_once_names_itself_and_the_node_is_put_back() {
    // node-1..3: manifests/base without SYS_ADMIN, SYS_CHROOT, SYS_PTRACE
    let caps = ["SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"];
    let manifests: Vec<Manifest> = caps
        .iter()
        .map(|cap| {
            manifest("base", Some("RuntimeDefault"), |docs| {
                let add = &mut container(docs)["securityContext"]["capabilities"]["add"];
                let kept: Vec<Value> = add.as_array().unwrap().iter().filter(|c| *c != cap).cloned().collect();
                *add = json!(kept);
            })
        })
        .collect();
    // node-4: overlays/signal without its one capability, KILL
    let no_kill = manifest("overlays/signal", Some("RuntimeDefault"), |docs| {
        container(docs)["securityContext"]["capabilities"]["add"] = json!([])
    });
    let mut all: Vec<&Manifest> = manifests.iter().collect();
    all.push(&no_kill);
    let mut c = per_node(&all);
    let nodes = ["node-1", "node-2", "node-3"];
    wait(&mut c, "every node's reboot failed", |c| nodes.iter().all(|n| line_with(c, n, "failed: cannot").is_some()));
    wait(&mut c, "node-4 rebooted by signal", |c| c.reboots("node-4") == 1 && !cordoned(c, "node-4"));
    wait(&mut c, "every node put back (uncordoned, lock free)", |c| {
        lock_value(c).is_none() && nodes.iter().all(|n| !cordoned(c, n))
    });
    let mut table = vec!["| capability removed | kured's error at the reboot |".to_string(), "|---|---|".to_string()];
    for (node, cap) in nodes.iter().zip(caps) {
        let error = line_with(&c, node, "cannot ").unwrap();
        assert!(
            error.contains(&format!("CAP_{cap}")) && error.contains("mount namespace of pid 1"),
            "{node} without {cap}: {error}"
        );
        let warned =
            line_with(&c, node, "host commands (the reboot or sentinel command) will fail").unwrap_or_default();
        assert!(
            warned.contains(&format!("CAP_{cap}")),
            "{node} without {cap}: no start-up warning naming it\n{}",
            log(&c, node)
        );
        assert_eq!(c.reboots(node), 0, "{node}");
        assert_eq!(host_calls(&c, node), "", "{node}: nothing reached the host");
        table.push(format!("| {cap} | {error} |"));
    }
    // kill(2) needs no capability between processes of the same user: the
    // host's init and the container both run as root
    assert_eq!(host_calls(&c, "node-4").trim(), "signal 39", "{}", log(&c, "node-4"));
    table.push(
        "| KILL (overlays/signal) | none: the reboot signal reached the host's PID 1 (same uid, root, on both sides) |"
            .into(),
    );
    eprintln!("{}", table.join("\n"));
}

#[test]
fn pod_spec_mistakes_are_told_at_start_up() {
    let no_host_pid = manifest("base", None, |docs| pod_spec(docs)["hostPID"] = json!(false));
    let no_sentinel = manifest("base", None, |docs| container(docs)["volumeMounts"] = json!([]));
    let no_token = manifest("base", None, |docs| pod_spec(docs)["automountServiceAccountToken"] = json!(false));
    let mut c = per_node(&[&no_host_pid, &no_sentinel, &no_token]);
    let want = [
        ("node-1", "is kured itself: the pod has a PID namespace of its own, so the host's init is out of reach; set hostPID: true"),
        ("node-2", "the directory /sentinel of --reboot-sentinel does not exist: the sentinel's hostPath volume is probably not mounted"),
        ("node-3", "no service-account token at /var/run/secrets/kubernetes.io/serviceaccount/token: the pod mounts none (automountServiceAccountToken: false"),
    ];
    wait(&mut c, "each mistake told", |c| want.iter().all(|(n, w)| line_with(c, n, w).is_some()));
    wait(&mut c, "the pod without a token exited", |c| {
        c.timeline().iter().any(
            |t| matches!(&t.event, Event::KuredExited { node, status } if node == "node-3" && status.contains("1")),
        )
    });
    for (node, w) in want {
        eprintln!("{node}: {}", line_with(&c, node, w).unwrap());
    }
}

#[test]
fn sigterm_to_the_container_mid_drain_puts_the_node_back_within_the_grace_period() {
    let m = manifest("base", Some("RuntimeDefault"), |_| {});
    let grace = std::time::Duration::from_secs(90); // terminationGracePeriodSeconds of manifests/base
    let mut s = spec(1, &m, ControlPlaneKind::Real);
    s.extra_objects = vec![deployment("default", "stuck", 1), pdb("default", "stuck", json!({"minAvailable": 1}))];
    let mut c = start(s);
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    assert!(cordoned(&c, "node-1") && lock_value(&c).is_some(), "draining\n{}", c.report());
    let sent = Instant::now();
    // to the runner, which passes it to its container only (runc kill, by id)
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::KuredExited { .. })).unwrap();
    let took = sent.elapsed();
    eprintln!("SIGTERM mid-drain: the container exited {took:?} after it");
    assert!(took < grace, "exited {took:?} after SIGTERM, past the grace period\n{}", c.report());
    let status = c.timeline().iter().find_map(|t| match &t.event {
        Event::KuredExited { status, .. } => Some(status.clone()),
        _ => None,
    });
    assert_eq!(
        status.as_deref(),
        Some("exit status: 0"),
        "the container's own exit code, passed on by the runner\n{}",
        c.report()
    );
    assert!(!cordoned(&c, "node-1"), "uncordoned\n{}", c.report());
    assert_eq!(lock_value(&c), None, "lock released\n{}", c.report());
    assert_eq!(c.reboots("node-1"), 0);
    assert!(log(&c, "node-1").contains("kured-pod: stopping the pod: SIGTERM to container"), "{}", log(&c, "node-1"));
}
