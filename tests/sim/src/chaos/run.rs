//! One chaos run: start the simulated cluster the plan describes, inject its
//! faults at their times, watch the invariants while the rollout goes on, let
//! it settle, then check the end state. Every broken invariant becomes a
//! problem line; a run with problems keeps its directory (kured logs, plan,
//! timeline) for the reproduction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fakeapi::{Fault as ApiFault, FaultAction};
use serde_json::{json, Value};

use super::plan::{Blocker, Budget, Fault, Plan, RebootFault, Signal, Workload, BLOCKER_SELECTOR};
use super::sockets;
use crate::backend::ControlPlaneKind;
use crate::cluster::POLL_EVERY;
use crate::http::TinyServer;
use crate::lockview::{upstream_multi, upstream_single};
use crate::objects::{bare_pod, daemonset, deployment, pdb};
use crate::{Cluster, ClusterSpec, Event};

/// A run that has not settled by then fails (a stranded node, a held lock):
/// a minute, plus 15 s per round of `concurrency` nodes, plus 10 s per extra
/// reboot of a node in a reboot loop; at most 4 minutes. Answers later than
/// kured's `--api-timeout` cost it that timeout and the attempt they were part
/// of: four timeouts more per round, and at most 5 minutes.
pub fn run_limit(plan: &Plan) -> Duration {
    // A budget that lets one pod go at a time drains the nodes one after
    // another, whatever --concurrency says.
    let one_at_a_time = plan.workloads.iter().any(|w| match w {
        Workload::Deployment { replicas, budget: Budget::MinAvailable(m), .. } => m + 1 >= *replicas,
        Workload::Deployment { budget: Budget::MaxUnavailable(u), .. } => *u <= 1,
        _ => false,
    });
    let rounds = if one_at_a_time { plan.nodes } else { plan.nodes.div_ceil(plan.concurrency.max(1) as usize) } as u64;
    // A reboot that fails, hangs or does nothing costs its command's time-out,
    // the wait for the boot ID, the put-back and a back-off before the retry.
    let bad_reboots = plan.faults.iter().filter(|f| matches!(f, Fault::Reboot { .. })).count() as u64;
    let sticky = plan.faults.iter().filter(|f| matches!(f, Fault::StickySentinel { .. })).count() as u64;
    // A holder whose Node was deleted stops its attempt; a Node gone for good
    // keeps its entry until a waiter has seen it missing for the gap and the
    // grace (lock::stale, up to a minute): a minute more.
    let unregistered = if plan.faults.iter().any(|f| matches!(f, Fault::DeleteHolderNode { .. })) { 60 } else { 0 };
    let base = 60
        + 15 * rounds
        + 10 * sticky * u64::from(plan.reboot_loop_limit)
        + bad_reboots * (3 * plan.reboot_timeout_s + 5)
        + unregistered;
    match plan.api_timeout_s() {
        Some(t) => Duration::from_secs((base + 4 * t * rounds).min(300 + unregistered)),
        None => Duration::from_secs(base.min(240 + unregistered)),
    }
}

/// On the real control plane, which starts in seconds and schedules for real: a minute more.
fn run_limit_on(plan: &Plan, real: bool) -> Duration {
    run_limit(plan) + if real { Duration::from_secs(60) } else { Duration::ZERO }
}
/// How long a SIGTERMed kured may take to exit (the manifests give it 90 s; the
/// simulation's waits are all short).
const STOP_LIMIT: Duration = Duration::from_secs(20);
const LOCK_DS: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
/// kured's test-only wall-clock offset (src/clock.rs).
const CLOCK_OFFSET_VAR: &str = "KURED_RS_TEST_CLOCK_OFFSET_MS";

/// Counters of the campaign's last line, for one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub lock_violations: u32,
    pub pdb_violations: u32,
    pub left_cordoned: u32,
    pub crashes: u32,
    pub stranded: u32,
}

#[derive(Debug)]
pub struct RunResult {
    pub seed: u64,
    pub problems: Vec<String>,
    pub counts: Counts,
    /// fault kind -> how many times it was injected
    pub injected: BTreeMap<&'static str, u32>,
    pub elapsed: Duration,
    /// kept working directory (kured logs, plan.txt, timeline.txt)
    pub kept: Option<PathBuf>,
    /// fault kinds the plan had but this control plane cannot inject (the real
    /// one has no fault injection in its API server)
    pub skipped: BTreeMap<&'static str, u32>,
}

impl RunResult {
    /// A run the harness itself broke off (it panicked): failed, with why.
    pub fn harness_panic(seed: u64, why: String, elapsed: Duration) -> RunResult {
        RunResult {
            seed,
            problems: vec![format!("harness panicked: {why}")],
            counts: Counts::default(),
            injected: BTreeMap::new(),
            elapsed,
            kept: None,
            skipped: BTreeMap::new(),
        }
    }

    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// Run `plan` with the kured binary at `kured`; keep the directory if the run
/// fails or `keep` says so.
pub fn run(plan: &Plan, kured: &Path, keep: bool, control_plane: ControlPlaneKind) -> RunResult {
    let started = Instant::now();
    let mut r = Runner {
        plan,
        problems: Vec::new(),
        counts: Counts::default(),
        injected: BTreeMap::new(),
        skipped: BTreeMap::new(),
        notes: Vec::new(),
        real: control_plane == ControlPlaneKind::Real,
    };
    let kept = r.go(kured, keep);
    RunResult {
        seed: plan.seed,
        problems: r.problems,
        counts: r.counts,
        injected: r.injected,
        elapsed: started.elapsed(),
        kept,
        skipped: r.skipped,
    }
}

struct Runner<'a> {
    plan: &'a Plan,
    problems: Vec<String>,
    counts: Counts,
    injected: BTreeMap<&'static str, u32>,
    skipped: BTreeMap<&'static str, u32>,
    /// what the campaign did, with the time (merged into the kept timeline)
    notes: Vec<String>,
    /// on the real control plane: no API-level faults
    real: bool,
}

/// What the run did so far with its timed faults.
#[derive(Default)]
struct Progress {
    signals_done: BTreeSet<usize>,
    /// node -> when it must have exited after SIGTERM
    terminating: BTreeMap<String, Instant>,
    unreachable_until: Option<Duration>,
    unreachable_done: bool,
    lock_takes: u32,
    deleted: BTreeSet<String>,
    /// Node objects deleted under a running kured, and when to register them again
    unregistered: BTreeMap<String, Duration>,
    blocker_created: bool,
    blocker_deleted: bool,
    foreign: BTreeSet<String>,
    consumed: BTreeSet<String>,
    crashes: Vec<String>,
}

impl Runner<'_> {
    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    fn note(&mut self, c: &Cluster, text: String) {
        self.notes.push(format!("{:>7.1}s  {text}", c.elapsed().as_secs_f64()));
    }

    fn inject(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_default() += 1;
    }

    fn go(&mut self, kured: &Path, keep: bool) -> Option<PathBuf> {
        let plan = self.plan;
        let notify = match TinyServer::start(|_| (200, "text/plain".into(), String::new())) {
            Ok(s) => s,
            Err(e) => {
                self.problem(format!("harness: notification endpoint: {e}"));
                return None;
            }
        };
        let mut c = match Cluster::start(self.spec(kured, &notify)) {
            Ok(c) => c,
            Err(e) => {
                self.problem(format!("harness: cluster did not start: {e}"));
                return None;
            }
        };
        let base = self.base_faults();
        for f in &base {
            c.api().inject(f.clone());
        }
        for f in &plan.faults {
            match f {
                Fault::Reboot { node, kind } => {
                    if let Some(n) = c.node(node) {
                        let file = n.reboot_fault();
                        let act = match kind {
                            RebootFault::Fails => "exit 1",
                            RebootFault::Hangs => "sleep 600; exit 1",
                            RebootFault::DoesNothing => "exit 0",
                        };
                        if let Err(e) = std::fs::write(&file, format!("rm -f {}; {act}\n", file.display())) {
                            self.problem(format!("harness: write {}: {e}", file.display()));
                        }
                    }
                }
                Fault::StickySentinel { .. } | Fault::ClockSkew { .. } => self.inject(f.kind()),
                _ => {}
            }
        }
        let allowed: BTreeSet<SocketAddr> =
            [c.api().port(), notify.port()].into_iter().map(|p| SocketAddr::from(([127, 0, 0, 1], p))).collect();

        let mut p = Progress::default();
        let mut polls = 0u64;
        let mut settled_at: Option<Instant> = None;
        let settle = Duration::from_millis((3 * plan.period_ms).max(3000));
        loop {
            let events = c.poll();
            self.on_events(&mut c, &mut p, &events);
            self.timed_faults(&mut c, &mut p, &base);
            polls += 1;
            if polls.is_multiple_of(5) {
                for n in plan_nodes(plan).iter().filter(|n| !p.deleted.contains(*n)) {
                    let Some(pid) = c.node(n).and_then(|x| x.kured_pid()) else { continue };
                    for peer in sockets::remote_peers(pid) {
                        if !allowed.contains(&peer) && p.foreign.insert(format!("{n} -> {peer}")) {
                            self.note(&c, format!("{n}: kured connected to {peer}, neither the API server nor the notification endpoint"));
                        }
                    }
                }
            }
            let quiet = self.faults_over(&c, &p) && self.rollout_done(&c, &p);
            match (quiet, settled_at) {
                (true, None) => settled_at = Some(Instant::now()),
                (false, Some(_)) => settled_at = None,
                (true, Some(t)) if t.elapsed() >= settle => break,
                _ => {}
            }
            if c.elapsed() >= run_limit_on(plan, self.real) {
                self.problem(format!("did not settle within {:?}", run_limit_on(plan, self.real)));
                break;
            }
            std::thread::sleep(POLL_EVERY);
        }
        self.check_end(&c, &p);
        let keep = keep || !self.problems.is_empty();
        if keep {
            c.keep_dir_on_drop();
            let _ = std::fs::write(c.dir().join("plan.txt"), plan.to_string());
            let mut text =
                format!("problems:\n{}\n--- chaos actions\n{}\n", self.problems.join("\n"), self.notes.join("\n"));
            text.push_str(&c.report());
            let _ = std::fs::write(c.dir().join("timeline.txt"), text);
            return Some(c.dir().to_path_buf());
        }
        None
    }

    fn spec(&self, kured: &Path, notify: &TinyServer) -> ClusterSpec {
        let plan = self.plan;
        let mut s = ClusterSpec::new(kured);
        s.nodes = plan.nodes;
        s.concurrency = plan.concurrency;
        s.period = plan.period();
        s.downtime = Duration::from_millis(plan.downtime_ms);
        let start = plan.window_opens_s.map(|w| {
            let t = time::OffsetDateTime::now_utc() + Duration::from_secs(w);
            format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
        });
        s.extra_kured_args = plan.kured_flags(start.as_deref());
        if self.real {
            // the slow answers it is for are the fake server's (skipped here)
            s.extra_kured_args.retain(|a| !a.starts_with("--api-timeout="));
        }
        for (node, ms) in plan.clock_offsets_ms() {
            s.kured_env.insert(node, vec![(CLOCK_OFFSET_VAR.to_string(), ms.to_string())]);
        }
        s.extra_kured_args.push(format!("--notify-url=generic+http://127.0.0.1:{}/chaos", notify.port()));
        for f in &plan.faults {
            if let Fault::StickySentinel { node } = f {
                s.sticky_sentinel.push(node.clone());
            }
        }
        if plan.other_lock_format {
            s.lock = Some(if plan.concurrency == 1 {
                upstream_multi(2, &[])
            } else {
                // Free in the single format is an absent annotation or an expired
                // entry; {"nodeID":""} without a TTL is held (by nobody), as upstream reads it.
                upstream_single("node-gone", "2001-01-01T00:00:00Z", 1_000_000_000)
            });
        }
        s.extra_objects = workloads(plan);
        s.control_plane = if self.real { ControlPlaneKind::Real } else { ControlPlaneKind::Fake };
        s
    }

    /// The faults that stay on for the whole run (rates of API errors and the like).
    fn base_faults(&mut self) -> Vec<ApiFault> {
        let mut out = Vec::new();
        // random, not every k-th: a fixed k locks into step with kured's fixed
        // request pattern and hits the same request each time (seed 2904490827801212945)
        let seed = |i: usize| super::rng::mix(self.plan.seed ^ (i as u64 + 1));
        for (i, f) in self.plan.faults.iter().enumerate() {
            if self.real && super::plan::api_level(f) {
                *self.skipped.entry(f.kind()).or_default() += 1;
                continue;
            }
            match f {
                Fault::ApiErrors { code, per_mille } => {
                    out.push(ApiFault::new("*", "/", FaultAction::Status(*code)).random(*per_mille, seed(i)))
                }
                Fault::Resets { per_mille } => {
                    out.push(ApiFault::new("*", "/", FaultAction::Reset).random(*per_mille, seed(i)))
                }
                Fault::Drops { per_mille } => {
                    out.push(ApiFault::new("*", "/", FaultAction::Drop).random(*per_mille, seed(i)))
                }
                Fault::Slow { per_mille, ms } => {
                    out.push(ApiFault::latency("*", "/", Duration::from_millis(*ms)).random(*per_mille, seed(i)))
                }
                // applied at once, answered after kured's --api-timeout gave up
                Fault::SlowerThanTimeout { per_mille, late_ms, .. } => out
                    .push(ApiFault::late_answer("*", "/", Duration::from_millis(*late_ms)).random(*per_mille, seed(i))),
                Fault::LockConflicts { per_mille } => {
                    out.push(ApiFault::new("PUT", LOCK_DS, FaultAction::Status(409)).random(*per_mille, seed(i)));
                    out.push(ApiFault::new("PATCH", LOCK_DS, FaultAction::Status(409)).random(*per_mille, seed(i) ^ 1));
                }
                _ => continue,
            }
            self.inject(f.kind());
        }
        out
    }

    fn on_events(&mut self, c: &mut Cluster, p: &mut Progress, events: &[crate::Timed]) {
        for e in events {
            match &e.event {
                Event::KuredExited { node, status } => {
                    if p.terminating.remove(node).is_some() {
                        let log = c
                            .node(node)
                            .map(|n| std::fs::read_to_string(n.log_path()).unwrap_or_default())
                            .unwrap_or_default();
                        if !term_exit_ok(status, &log) {
                            self.problem(format!("kured on {node} exited with {status} after SIGTERM (expected 0)"));
                            p.crashes.push(node.clone());
                        }
                    } else {
                        self.problem(format!(
                            "kured on {node} exited unexpectedly ({status}) at {:.1}s",
                            e.at.as_secs_f64()
                        ));
                        p.crashes.push(node.clone());
                    }
                    // the DaemonSet starts it again
                    if let Err(err) = c.relaunch_kured(node) {
                        self.problem(format!("harness: restart kured on {node}: {err}"));
                    }
                }
                // A SIGTERM that raced the reboot command: the machine went
                // down, and that kured with it (seed 12073954441394641892).
                Event::Rebooted { node, .. } => {
                    p.terminating.remove(node);
                }
                Event::LockTaken { node } => {
                    p.lock_takes += 1;
                    self.delete_holder_node(c, p, node);
                    let nth = self.plan.faults.iter().find_map(|f| {
                        if let Fault::DeleteLockHolder { nth } = f {
                            Some(*nth)
                        } else {
                            None
                        }
                    });
                    if nth == Some(p.lock_takes) && c.node(node).is_some() {
                        match c.remove_node(node) {
                            Ok(()) => {
                                p.deleted.insert(node.clone());
                                self.inject("delete-lock-holder");
                                self.note(c, format!("CHAOS: {node} deleted while holding the lock"));
                            }
                            Err(err) => self.problem(format!("harness: delete {node}: {err}")),
                        }
                    }
                }
                _ => {}
            }
        }
        // a reboot fault counts once the reboot command consumed it
        for f in &self.plan.faults {
            if let Fault::Reboot { node, .. } = f {
                if let Some(n) = c.node(node) {
                    if !n.reboot_fault().exists() && p.consumed.insert(node.clone()) {
                        self.inject(f.kind());
                        self.note(c, format!("CHAOS: {node}'s reboot command misbehaved ({})", f.kind()));
                    }
                }
            }
        }
    }

    /// `holder-node-deleted-*`: the holder's Node object goes, kured goes on.
    fn delete_holder_node(&mut self, c: &Cluster, p: &mut Progress, node: &str) {
        let fault = self.plan.faults.iter().find_map(|f| {
            if let Fault::DeleteHolderNode { nth, back_after_s } = f {
                Some((*nth, *back_after_s, f.kind()))
            } else {
                None
            }
        });
        let Some((nth, back_after_s, kind)) = fault else { return };
        // `delete-lock-holder` on the same take removes the whole machine instead.
        let machine_goes =
            self.plan.faults.iter().any(|f| matches!(f, Fault::DeleteLockHolder { nth: n } if *n == nth));
        if nth != p.lock_takes || machine_goes || c.node(node).is_none() || p.deleted.contains(node) {
            return;
        }
        // Not while the API server is unreachable: kubectl would retry through the
        // rest of the window, and the harness, stuck in it, would not end it
        // (chaos seed 5969796991460677954). The next poll tries again.
        if p.unreachable_until.is_some() {
            return;
        }
        // kubectl meets the run's API faults too: a few tries
        let deleted = (0..5)
            .map(|_| c.delete_node_object(node))
            .find(Result::is_ok)
            .unwrap_or_else(|| c.delete_node_object(node));
        match deleted {
            Ok(()) => {
                self.inject(kind);
                match back_after_s {
                    Some(s) => {
                        p.unregistered.insert(node.to_string(), c.elapsed() + Duration::from_secs(s));
                        self.note(
                            c,
                            format!("CHAOS: {node}'s Node object deleted while it holds the lock; back in {s}s"),
                        );
                    }
                    None => {
                        // its machine runs on, but without a Node nothing is expected of it
                        p.deleted.insert(node.to_string());
                        self.note(c, format!("CHAOS: {node}'s Node object deleted for good while it holds the lock"));
                    }
                }
            }
            Err(err) => self.problem(format!("harness: delete the Node object {node}: {err}")),
        }
    }

    fn timed_faults(&mut self, c: &mut Cluster, p: &mut Progress, base: &[ApiFault]) {
        let now = c.elapsed();
        let due: Vec<String> = p.unregistered.iter().filter(|(_, at)| now >= **at).map(|(n, _)| n.clone()).collect();
        for n in due {
            p.unregistered.remove(&n);
            match c.register_node_again(&n) {
                Ok(()) => self.note(c, format!("CHAOS: {n}'s Node registered again")),
                Err(err) => self.problem(format!("harness: register {n} again: {err}")),
            }
        }
        for (i, f) in self.plan.faults.iter().enumerate() {
            match f {
                Fault::Signal { node, signal, at_s }
                    if now >= Duration::from_secs(*at_s) && !p.signals_done.contains(&i) =>
                {
                    if p.deleted.contains(node) {
                        p.signals_done.insert(i);
                        continue;
                    }
                    // only a running kured on a machine that is up
                    let Some(n) = c.node(node) else { continue };
                    if n.down_until.is_some() || !n.kured_running() || p.terminating.contains_key(node) {
                        continue;
                    }
                    p.signals_done.insert(i);
                    let result = match signal {
                        Signal::Kill => c.restart_kured(node),
                        Signal::Term => {
                            p.terminating.insert(node.clone(), Instant::now() + STOP_LIMIT);
                            c.signal_kured(node, libc::SIGTERM)
                        }
                    };
                    match result {
                        Ok(()) => {
                            self.inject(f.kind());
                            self.note(c, format!("CHAOS: {} to kured on {node}", f.kind()));
                        }
                        Err(e) => self.problem(format!("harness: {} on {node}: {e}", f.kind())),
                    }
                }
                Fault::Unreachable { at_s, for_s } if !self.real => {
                    if p.unreachable_until.is_none() && !p.unreachable_done && now >= Duration::from_secs(*at_s) {
                        c.api().inject(ApiFault::new("*", "/", FaultAction::Reset));
                        p.unreachable_until = Some(now + Duration::from_secs(*for_s));
                        self.inject(f.kind());
                        self.note(c, format!("CHAOS: API server unreachable for {for_s}s"));
                    } else if p.unreachable_until.is_some_and(|t| now >= t) {
                        c.api().clear_faults();
                        for b in base {
                            c.api().inject(b.clone());
                        }
                        p.unreachable_until = None;
                        p.unreachable_done = true;
                        self.note(c, "CHAOS: API server reachable again".into());
                    }
                }
                _ => {}
            }
        }
        let overdue: Vec<String> =
            p.terminating.iter().filter(|(_, t)| Instant::now() >= **t).map(|(n, _)| n.clone()).collect();
        for n in overdue {
            p.terminating.remove(&n);
            self.problem(format!("kured on {n} did not exit within {STOP_LIMIT:?} of SIGTERM"));
            p.crashes.push(n.clone());
            let _ = c.restart_kured(&n);
        }
        if let Some(Blocker { node, from_s, for_s }) = &self.plan.blocker {
            if !p.blocker_created && now >= Duration::from_secs(*from_s) {
                p.blocker_created = true;
                let mut pod = bare_pod("default", "chaos-blocker", node, "chaos-blocker", false);
                let (k, v) = BLOCKER_SELECTOR.split_once('=').unwrap_or(("chaos-blocker", "yes"));
                pod["metadata"]["labels"][k] = json!(v);
                if !p.deleted.contains(node) {
                    let _ = c.api().try_create(pod);
                    self.note(c, format!("CHAOS: blocking pod on {node}"));
                }
            }
            if p.blocker_created && !p.blocker_deleted && now >= Duration::from_secs(from_s + for_s) {
                p.blocker_deleted = true;
                c.api().delete("pods", "default", "chaos-blocker");
                self.note(c, format!("CHAOS: blocking pod on {node} gone"));
            }
        }
    }

    /// Every timed fault has happened and is over.
    fn faults_over(&self, c: &Cluster, p: &Progress) -> bool {
        let now = c.elapsed();
        let signals = self
            .plan
            .faults
            .iter()
            .enumerate()
            .all(|(i, f)| !matches!(f, Fault::Signal { .. }) || p.signals_done.contains(&i));
        let unreachable =
            !self.plan.faults.iter().any(|f| matches!(f, Fault::Unreachable { .. })) || p.unreachable_done;
        let blocker = self.plan.blocker.is_none() || p.blocker_deleted;
        let window = self.plan.window_opens_s.is_none_or(|w| now >= Duration::from_secs(w));
        let unreachable = unreachable || self.real;
        signals && unreachable && blocker && window && p.terminating.is_empty() && p.unregistered.is_empty()
    }

    /// The node's sentinel survives every reboot (a reboot loop).
    fn sticky(&self, node: &str) -> bool {
        self.plan.faults.iter().any(|f| matches!(f, Fault::StickySentinel { node: n } if n == node))
    }

    fn expected_reboots(&self, node: &str) -> u32 {
        if self.sticky(node) {
            self.plan.reboot_loop_limit
        } else {
            1
        }
    }

    fn rollout_done(&self, c: &Cluster, p: &Progress) -> bool {
        let nodes_done = plan_nodes(self.plan).iter().filter(|n| !p.deleted.contains(*n)).all(|n| {
            c.node(n)
                .is_some_and(|x| x.down_until.is_none() && x.kured_running() && x.reboots >= self.expected_reboots(n))
        });
        // A node in a reboot loop is done once its RebootLoop Event is out: kured
        // posts it at the check after its last release, which a release answered
        // after --api-timeout (applied, then retried) puts seconds after the
        // release the harness sees (seed 3265279613692153004 ended 3 s after it).
        let loops_told = || {
            plan_nodes(self.plan)
                .iter()
                .filter(|n| !p.deleted.contains(*n) && self.sticky(n))
                .all(|n| warning(c, n, "RebootLoop"))
        };
        nodes_done && c.lock_holders().is_empty() && c.summary().left_cordoned.is_empty() && loops_told()
    }

    fn check_end(&mut self, c: &Cluster, p: &Progress) {
        let plan = self.plan;
        let s = c.summary();
        let conc = plan.concurrency as usize;
        if s.max_lock_holders > conc {
            self.counts.lock_violations += 1;
            self.problem(format!("{} lock holders at once (concurrency {conc})", s.max_lock_holders));
        }
        if s.max_cordoned > conc {
            self.counts.lock_violations += 1;
            self.problem(format!("{} nodes cordoned by kured at once (concurrency {conc})", s.max_cordoned));
        }
        // A node whose kured gave its reboot up (--reboot-timeout: the boot ID
        // did not change in time) may still "go down" when a loaded harness
        // gets to its marker late: that overlap is the harness's, not kured's.
        let timed_out = |n: &str| {
            std::fs::read_to_string(c.dir().join(n).join("kured.log")).is_ok_and(|l| l.contains("boot ID unchanged"))
        };
        let down = c.most_down_at_once(&timed_out);
        if down > conc {
            self.counts.lock_violations += 1;
            self.problem(format!(
                "{down} machines ran their reboot command and were down at once (concurrency {conc})"
            ));
        }
        if s.pdb_violations > 0 {
            self.counts.pdb_violations += s.pdb_violations as u32;
            self.problem(format!("{} evictions broke a PodDisruptionBudget", s.pdb_violations));
        }
        if !s.left_cordoned.is_empty() {
            self.counts.left_cordoned += s.left_cordoned.len() as u32;
            self.problem(format!("left cordoned: {}", s.left_cordoned.join(", ")));
        }
        let holders = c.lock_holders();
        if !holders.is_empty() {
            self.counts.stranded += 1;
            self.problem(format!("lock still held by {}", holders.join(", ")));
        }
        for n in plan_nodes(plan).iter().filter(|n| !p.deleted.contains(*n)) {
            let want = self.expected_reboots(n);
            let got = c.reboots(n);
            let sticky = self.sticky(n);
            if got < want {
                self.counts.stranded += 1;
                self.problem(format!(
                    "{n} rebooted {got} time(s), wanted {want}{}",
                    if sticky { " (reboot loop limit)" } else { "" }
                ));
            } else if got > want {
                self.problem(format!("{n} rebooted {got} times, wanted {want}"));
            }
            if sticky && !warning(c, n, "RebootLoop") {
                self.counts.stranded += 1;
                self.problem(format!(
                    "{n}: sentinel still set after {got} reboots but no Warning Event RebootLoop says why"
                ));
            }
        }
        for n in plan_nodes(plan) {
            let log = std::fs::read_to_string(c.dir().join(&n).join("kured.log")).unwrap_or_default();
            if log.contains("panicked") {
                self.problem(format!("kured on {n} panicked (see {n}/kured.log)"));
                if !p.crashes.contains(&n) {
                    self.counts.crashes += 1;
                }
            }
        }
        self.counts.crashes += p.crashes.len() as u32;
        for f in &p.foreign {
            self.problem(format!("connection to a foreign address: {f}"));
        }
        for l in &s.lost_fields {
            self.problem(format!("the lock's DaemonSet lost a field: {l}"));
        }
    }
}

/// After SIGTERM kured exits 0; or dies of the signal if it came before kured
/// even started (its handlers are the first thing `main` sets up, before any
/// log line), which is harmless: it had done nothing yet.
pub fn term_exit_ok(status: &str, log: &str) -> bool {
    let since_start = log.rsplit_once("--- kured starts on").map_or(log, |(_, rest)| rest);
    let logged = since_start.lines().skip(1).any(|l| !l.trim().is_empty());
    status == "exit status: 0" || (status.contains("SIGTERM") && !logged)
}

fn plan_nodes(plan: &Plan) -> Vec<String> {
    (1..=plan.nodes).map(Plan::node_name).collect()
}

/// A Warning Event with `reason` about node `name`.
fn warning(c: &Cluster, name: &str, reason: &str) -> bool {
    c.api().list("events").iter().any(|e| {
        e["type"] == "Warning"
            && e["reason"] == reason
            && e["involvedObject"]["kind"] == "Node"
            && e["involvedObject"]["name"] == name
    })
}

/// The plan's workloads as API objects.
pub fn workloads(plan: &Plan) -> Vec<Value> {
    let mut out = Vec::new();
    for w in &plan.workloads {
        match w {
            Workload::Deployment { name, replicas, budget } => {
                out.push(deployment("default", name, *replicas));
                let b = match budget {
                    Budget::MinAvailable(n) => json!({"minAvailable": n}),
                    Budget::MaxUnavailable(n) => json!({"maxUnavailable": n}),
                };
                out.push(pdb("default", name, b));
            }
            Workload::BarePod { name, node, empty_dir } => out.push(bare_pod("default", name, node, name, *empty_dir)),
            Workload::DaemonSet { name } => out.push(daemonset("default", name)),
            Workload::SlowToTerminate { name, replicas, grace_s } => {
                let mut d = deployment("default", name, *replicas);
                d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(grace_s);
                out.push(d);
            }
        }
    }
    // The API's default grace is 30 s: with --drain-grace-period=-1 (the pod's
    // own) every drain would take that long. One second, unless slow on purpose.
    for o in &mut out {
        let spec = match o["kind"].as_str() {
            Some("Pod") => &mut o["spec"],
            Some("Deployment" | "DaemonSet") => &mut o["spec"]["template"]["spec"],
            _ => continue,
        };
        if spec["terminationGracePeriodSeconds"].is_null() {
            spec["terminationGracePeriodSeconds"] = json!(1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_before_main_is_no_crash() {
        // seed 8158757963912344451: SIGTERM the moment kured was restarted after its reboot
        let before_main = "--- kured starts on n (boot 0) ---\nINFO ...\n--- kured starts on n (boot 1) ---\n";
        assert!(term_exit_ok("signal: 15 (SIGTERM)", before_main));
        assert!(term_exit_ok("exit status: 0", before_main));
        let running = format!("{before_main}INFO kured-rs starting\n");
        assert!(!term_exit_ok("signal: 15 (SIGTERM)", &running), "once started, a SIGTERM must end in exit 0");
        assert!(!term_exit_ok("exit status: 1", before_main));
    }

    #[test]
    fn on_the_real_control_plane_late_answers_are_skipped_and_clock_skew_is_not() {
        let mut plan = Plan::generate(5);
        plan.faults = vec![
            Fault::SlowerThanTimeout { per_mille: 50, timeout_s: 2, late_ms: 3000 },
            Fault::ClockSkew { offsets_ms: (0..plan.nodes as i64).map(|i| i * 100 - 200).collect() },
        ];
        let notify = TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("notification endpoint");
        for real in [false, true] {
            let mut r = Runner {
                plan: &plan,
                problems: vec![],
                counts: Counts::default(),
                injected: BTreeMap::new(),
                skipped: BTreeMap::new(),
                notes: vec![],
                real,
            };
            let spec = r.spec(Path::new("/nonexistent/kured"), &notify);
            let faults = r.base_faults();
            let flag = spec.extra_kured_args.iter().any(|a| a == "--api-timeout=2s");
            assert_eq!(
                (flag, faults.len(), r.skipped.contains_key("api-slower-than-client-timeout")),
                (!real, usize::from(!real), real)
            );
            assert_eq!(
                spec.kured_env.get("node-1"),
                Some(&vec![(CLOCK_OFFSET_VAR.to_string(), "-200".to_string())]),
                "skew on both"
            );
            assert_eq!(spec.kured_env.len(), plan.nodes);
        }
    }

    #[test]
    fn late_answers_lengthen_the_run_limit() {
        let mut plan = Plan::generate(5);
        plan.faults.retain(|f| !matches!(f, Fault::SlowerThanTimeout { .. } | Fault::StickySentinel { .. }));
        (plan.nodes, plan.concurrency) = (5, 1);
        assert_eq!(run_limit(&plan), Duration::from_secs(60 + 15 * 5));
        plan.faults.push(Fault::SlowerThanTimeout { per_mille: 50, timeout_s: 3, late_ms: 4000 });
        assert_eq!(run_limit(&plan), Duration::from_secs(60 + 15 * 5 + 4 * 3 * 5));
        plan.nodes = 10;
        assert_eq!(run_limit(&plan), Duration::from_secs(300));
    }

    #[test]
    fn every_pod_gets_a_short_grace_unless_slow() {
        let plan = Plan::generate(5);
        for o in workloads(&plan) {
            let spec = if o["kind"] == "Pod" { &o["spec"] } else { &o["spec"]["template"]["spec"] };
            if o["kind"] == "Pod" || o["kind"] == "Deployment" || o["kind"] == "DaemonSet" {
                assert!(spec["terminationGracePeriodSeconds"].as_u64().is_some_and(|g| g <= 5), "{o}");
            }
        }
    }
}
