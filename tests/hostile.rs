//! Issue 15: the hostile inputs that broke an adversarial run of the binary,
//! one test per case of the list, each reproducing the input and
//! asserting the new outcome (exit 2 naming the flag, a WARN line, the lock
//! released and the node uncordoned within a bound, bounded memory and log
//! lines). Case 7 (pods of other nodes) is a unit test in src/drain/select.rs.
//!
//! Every run names a `sleep` child of this test as `--host-pid` and a reboot
//! command that only writes a marker file; servers are on loopback and every
//! wait has a deadline.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sim::http::TinyServer;
use sim::lockview::upstream_single;
use sim::objects::bare_pod;
use sim::{cycles, Budget, Cluster, ClusterSpec, Event, Limit};

#[path = "support/host.rs"]
mod host;
#[path = "support/poll.rs"]
mod poll;
#[path = "support/tempdir.rs"]
mod tempdir;
use host::{live_with, unique_sleep, HostStandIn};
use poll::poll;
use tempdir::TempDir;

/// A scenario's waits, in kured cycles (sim::budget turns them into seconds on
/// this machine); waits end as soon as their condition holds.
const LIMIT: Limit = Limit::Cycles(12);

// ---- the command line -------------------------------------------------------

/// The binary with a clean environment (no cluster: a valid command line stops
/// at the in-cluster set-up with exit 1, after start-up warnings are logged).
fn kured(args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let host = HostStandIn::new();
    let dir = TempDir::new("hostile-cli");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kured"));
    cmd.env_clear().args(args);
    cmd.arg(host.flag());
    cmd.arg(format!("--reboot-command=/bin/sh -c 'echo rebooted > {}'", dir.show("marker")));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kured");
    assert!(!dir.join("marker").exists(), "nothing may reboot at start-up");
    out
}

fn on_node(args: &[&str]) -> Output {
    kured(args, &[("KURED_NODE_ID", OsStr::new("node-a"))])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2 and a message naming `flag`, short enough to read.
#[track_caller]
fn refused(out: &Output, flag: &str, why: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit 2 expected\n{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.contains(flag), "{flag} not named: {first}");
    assert!(first.contains(why), "{why:?} not said: {first}");
    assert!(err.len() < 2048, "a short message, not {} bytes", err.len());
}

/// Case 1: a width that cannot be rendered within the message bound is a usage
/// error at start-up, in each template flag (and from the environment).
#[test]
fn case1_template_with_huge_width_is_refused_at_start() {
    for flag in ["message-template-drain", "message-template-reboot", "message-template-uncordon"] {
        let out = on_node(&[&format!("--{flag}=%99999999999999999999999s")]);
        refused(&out, &format!("--{flag}"), "width or precision");
        let out = on_node(&[&format!("--{flag}=%100000s")]);
        refused(&out, &format!("--{flag}"), "renders to 100000 bytes");
    }
    let env = kured::config::env_name("message-template-drain");
    let out = kured(&[], &[("KURED_NODE_ID", OsStr::new("node-a")), (&env, OsStr::new("%100000000s"))]);
    refused(&out, &env, "width or precision");
}

/// Case 3: selectors and the Prometheus URL that could only fail later.
#[test]
fn case3_values_that_can_only_fail_later_are_refused_at_start() {
    refused(&on_node(&["--blocking-pod-selector=a in ("]), "--blocking-pod-selector", "not a label selector");
    refused(
        &on_node(&["--blocking-pod-selector=app=ok", "--blocking-pod-selector=a in ("]),
        "--blocking-pod-selector",
        "no closing ')'",
    );
    refused(&on_node(&["--drain-pod-selector=a in ("]), "--drain-pod-selector", "not a label selector");
    refused(&on_node(&["--drain-pod-selector=-x"]), "--drain-pod-selector", "key \"-x\"");
    refused(&on_node(&["--prometheus-url=not a url"]), "--prometheus-url", "not a URL");
    refused(&on_node(&["--prometheus-url=prometheus:9090"]), "--prometheus-url", "expected http");
    // and valid ones pass (exit 1: no cluster here)
    let out = on_node(&[
        "--blocking-pod-selector=app in (db, cache),!canary",
        "--drain-pod-selector=tier!=system",
        "--prometheus-url=http://prometheus.monitoring:9090",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// Case 4: a window that never opens is a WARN at start-up, saying why.
#[test]
fn case4_window_that_never_opens_warns() {
    for (args, why) in [
        (&["--reboot-days="][..], "--reboot-days is empty"),
        (&["--start-time=03:00", "--end-time=03:00"][..], "--start-time equals --end-time"),
        (
            &["--maintenance-window=mon-fri 01:00-03:00", "--maintenance-window=last sun 03:00-03:00 Europe/Berlin"][..],
            "\"last sun 03:00-03:00 Europe/Berlin\" starts and ends at 03:00: it never opens",
        ),
    ] {
        let out = on_node(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "it still starts (as upstream)\n{err}");
        let warn = err.lines().find(|l| l.contains(" WARN ") && l.contains(why));
        assert!(warn.is_some(), "no WARN line saying {why:?}\n{err}");
    }
    let out = on_node(&["--start-time=03:00", "--end-time=04:00"]);
    assert!(!stderr(&out).contains("never opens"), "{}", stderr(&out));
}

/// Case 5: the node id must be a node name, from the flag or the environment.
#[test]
fn case5_node_id_must_be_a_node_name() {
    let huge = format!("--node-id={}", "a".repeat(100_000));
    refused(&kured(&[&huge], &[]), "--node-id", "more than 253");
    refused(&kured(&["--node-id=Node_A"], &[]), "--node-id", "DNS subdomain");
    let bad = OsStr::from_bytes(b"node-\xff");
    refused(&kured(&[], &[("KURED_NODE_ID", bad)]), "KURED_NODE_ID", "not valid UTF-8");
    let huge_env = "a".repeat(100_000);
    refused(&kured(&[], &[("KURED_NODE_ID", OsStr::new(&huge_env))]), "KURED_NODE_ID", "more than 253");
    let out = kured(&["--node-id=ip-10-0-0-1.ec2.internal"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

// ---- the daemon against the fake API server ---------------------------------

fn spec(args: &[&str]) -> ClusterSpec {
    ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, args)
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn cordoned(c: &Cluster, node: &str) -> bool {
    c.get_node(node).and_then(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool)).unwrap_or(false)
}

fn log_of(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("node").log_path()).unwrap_or_default()
}

/// Case 1, at run time: a template just inside the bound renders at every
/// step, and the cycle completes: no abort, the node uncordoned and the lock
/// released, every message within the bound.
#[test]
fn case1_large_template_completes_the_cycle() {
    let hook = TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("receiver");
    let url = format!("--notify-url=generic+http://127.0.0.1:{}/hook", hook.port());
    let args = [url.as_str(), "--message-template-drain=%3000s", "--message-template-uncordon=[%-3800s]"];
    let mut c = start(spec(&args));
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert!(c.poll_until(LIMIT, |_| {}, |c| c.lock_holders().is_empty() && !cordoned(c, "node-1")), "{}", c.report());
    assert!(c.poll_until(LIMIT, |_| {}, |_| hook.received().len() >= 3), "three notifications: {:?}", hook.received());
    assert!(c.node("node-1").unwrap().kured_running(), "kured still runs\n{}", c.report());
    for r in hook.received() {
        assert!(r.body.len() < 4096 + 512, "{} bytes", r.body.len());
    }
    assert!(
        hook.received().iter().any(|r| r.body.contains(&format!("[node-1{}]", " ".repeat(3794)))),
        "uncordon message"
    );
}

/// Waits without a simulated cluster to measure kured's first check: cycles of
/// the `--period=1s` these tests give kured (and the host commands it runs).
fn by_hand() -> Budget {
    Budget::of_period(Duration::from_secs(1))
}

/// Case 2: the lock held by this node, the node cordoned, and a sentinel
/// command that never answers. Start-up recovery finishes (uncordon, release)
/// within a bound, and no `sleep` outlives the daemon after SIGTERM.
#[test]
fn case2_hung_sentinel_command_does_not_strand_the_node() {
    // the input: `sleep 1000` (made unique to find it among processes)
    hung_sentinel_command(|token| format!("--reboot-sentinel-command=sleep {token}"));
}

/// As case 2, with the sleeps grandchildren of the command (a shell script).
#[test]
fn case2_hung_sentinel_script_leaves_no_grandchildren() {
    hung_sentinel_command(|token| {
        format!("--reboot-sentinel-command=/bin/sh -c 'sleep {token} & sleep {token}; wait'")
    });
}

fn hung_sentinel_command(flag: impl Fn(&str) -> String) {
    let token = unique_sleep();
    let sentinel = flag(&token);
    let mut s = spec(&[&sentinel]);
    s.precordoned = vec!["node-1".into()];
    s.lock = Some(upstream_single("node-1", "2026-01-01T00:00:00Z", 0));
    let mut c = start(s);
    let ok = c.poll_until(LIMIT, |_| {}, |c| c.lock_holders().is_empty() && !cordoned(c, "node-1"));
    assert!(ok, "lock released and node uncordoned\n{}\n{}", c.report(), log_of(&c, "node-1"));
    let told = |c: &Cluster| log_of(c, "node-1").contains("cannot tell whether a reboot is required");
    assert!(c.poll_until(LIMIT, |_| {}, told), "the periodic check says it cannot tell\n{}", log_of(&c, "node-1"));
    poll(c.allows(LIMIT), "a sentinel command to run again", || !live_with(&token).is_empty());
    let log = log_of(&c, "node-1");
    assert!(log.contains("no answer within 1s, killed with its process group"), "{log}");
    assert_eq!(c.reboots("node-1"), 0, "a hung sentinel never means 'reboot required'");

    let pid = c.node("node-1").unwrap().kured_pid().expect("kured runs") as i32;
    assert!(pid > 1);
    // SAFETY: kill(2) on the kured child this test started (pid > 1).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    poll(c.allows(LIMIT), "kured to exit", || {
        std::fs::metadata(format!("/proc/{pid}/cmdline")).is_err() || is_zombie(pid)
    });
    poll(c.allows(cycles(2)), "every sentinel sleep to be gone", || live_with(&token).is_empty());
}

fn is_zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').is_none_or(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// `VmHWM` of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_else(|| panic!("no VmHWM for {pid}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in kB")
}

/// `n` holders in upstream's multi format, each entry as upstream writes it
/// (about 104 bytes each: 50,000 make the 5.2 MB).
fn many_holders(n: usize, full: bool) -> String {
    let locks: Vec<Value> = (0..n)
        .map(|i| match full {
            true => json!({"nodeID": format!("node-x{i:05}"), "metadata": {"unschedulable": false}, "created": "2026-01-01T00:00:00Z", "TTL": 0}),
            false => json!({"nodeID": format!("h{i}")}),
        })
        .collect();
    json!({"maxOwners": n + 5, "locks": locks}).to_string()
}

/// Case 6: a lock annotation with 50,000 holders. The 5.2 MB one (upstream's
/// full entries) makes the DaemonSet larger than the 4 MiB read for it; a
/// compact 50,000-holder one (1 MB) is past the 256 KiB Kubernetes allows for
/// annotations: each a clear error, every period, the lock left untouched. A
/// 10,000-holder one under that bound is parsed, and its holders summarised.
/// Each time the daemon's peak memory stays under 32 MiB and every log line
/// under 8 KiB.
#[test]
fn case6_fifty_thousand_holders_in_bounded_memory() {
    for (n, full, want) in [
        (50_000, true, "larger than 4096 KiB"),
        (50_000, false, "more than the 256 KiB Kubernetes allows"),
        (10_000, false, "and 9995 more (10000 in all)"),
    ] {
        let lock = many_holders(n, full);
        let mut s = spec(&[]);
        s.lock = Some(lock.clone());
        let mut c = start(s);
        let seen = |c: &Cluster| log_of(c, "node-1").matches(want).count() >= 2;
        assert!(c.poll_until(LIMIT, |_| {}, seen), "{want:?} twice in the log\n{}", log_of(&c, "node-1"));
        let pid = c.node("node-1").unwrap().kured_pid().expect("kured runs");
        let peak = peak_kib(pid);
        eprintln!("{} bytes of lock annotation: kured VmHWM {peak} KiB", lock.len());
        assert!(peak < 32 * 1024, "VmHWM {peak} KiB with a {}-byte lock", lock.len());
        for line in log_of(&c, "node-1").lines() {
            assert!(line.len() < 8 * 1024, "a {}-byte log line: {}...", line.len(), &line[..200]);
        }
        assert_eq!(c.reboots("node-1"), 0);
        let ds = c.api().get("daemonsets", "kube-system", "kured").expect("ds");
        let now = ds.pointer("/metadata/annotations/weave.works~1kured-node-lock").and_then(Value::as_str);
        assert_eq!(now, Some(lock.as_str()), "the lock is left untouched");
    }
}

/// Case 6, the Node: a 61 MB Node object is refused at the 4 MiB cap with a
/// clear error, in bounded memory.
#[test]
fn case6_huge_node_object_is_refused_in_bounded_memory() {
    let mut s = spec(&[]);
    s.no_reboot = vec!["node-1".into()];
    let mut c = start(s);
    let bloat = json!("x".repeat(61_000_000));
    // (kured writes the node at start-up too: edit re-reads on a conflict)
    c.api()
        .edit("nodes", "", "node-1", |node| node["metadata"]["annotations"]["bloat"] = bloat.clone())
        .expect("bloat the node");
    std::fs::write(c.node("node-1").unwrap().sentinel(), "").expect("reboot needed now");
    let want = "larger than 4096 KiB";
    let seen = |c: &Cluster| log_of(c, "node-1").contains(want);
    assert!(c.poll_until(LIMIT, |_| {}, seen), "{want:?} in the log\n{}", log_of(&c, "node-1"));
    let pid = c.node("node-1").unwrap().kured_pid().expect("kured runs");
    let peak = peak_kib(pid);
    eprintln!("61 MB Node: kured VmHWM {peak} KiB");
    assert!(peak < 32 * 1024, "VmHWM {peak} KiB");
    assert_eq!(c.reboots("node-1"), 0);
}

/// Case 8: a sentinel path that is a directory means "reboot required", as
/// upstream, with one WARN line (not one per period).
#[test]
fn case8_directory_sentinel_warns_once() {
    let dir = TempDir::new("sentinel-dir");
    let sentinel = format!("--reboot-sentinel={}", dir.path());
    let mut s = spec(&[&sentinel, "--blocking-pod-selector=app=holdme"]);
    s.extra_objects = vec![bare_pod("default", "holdme", "node-1", "holdme", false)];
    let mut c = start(s);
    let blocked = |c: &Cluster| log_of(c, "node-1").matches("reboot blocked").count() >= 3;
    assert!(c.poll_until(LIMIT, |_| {}, blocked), "three blocked periods\n{}", log_of(&c, "node-1"));
    let log = log_of(&c, "node-1");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ") && l.contains("is a directory")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains(dir.path()), "{}", warnings[0]);
    assert!(!c.timeline().iter().any(|e| matches!(e.event, Event::Rebooted { .. })));
}

// ---- RUST_LOG=trace ---------------------------------------------------------

/// Issue 10's smaller fault: `RUST_LOG=trace` never prints the bearer token or
/// a notification URL's secret, while our own debug lines do appear.
#[test]
fn trace_logging_never_prints_secrets() {
    let api = fakeapi::FakeApiServer::start();
    let dir = TempDir::new("trace");
    let sa = dir.join("sa");
    std::fs::create_dir_all(&sa).unwrap();
    api.write_service_account(&sa, "kube-system").unwrap();
    api.create(sim::objects::node("node-1", false));
    api.create(sim::objects::kured_daemonset("kube-system", "kured", None));
    let secret = "s3cr3tWebhookPath9f8e7d";
    let hook = TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("receiver");
    std::fs::write(dir.join("sentinel"), "").unwrap();
    let host = HostStandIn::new();
    let log = dir.join("kured.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kured"))
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", api.port().to_string())
        .env("KURED_SERVICE_ACCOUNT_DIR", &sa)
        .args([
            "--node-id=node-1",
            "--period=1s",
            "--ds-namespace=kube-system",
            "--metrics-host=127.0.0.1",
            "--metrics-port=0",
            "--lock-release-delay=0",
            &format!("--reboot-sentinel={}", dir.show("sentinel")),
            &format!("--notify-url=generic+http://user:{secret}@127.0.0.1:{}/hook/{secret}", hook.port()),
            &format!("--reboot-command=/bin/sh -c 'echo rebooted > {}'", dir.show("marker")),
            &host.flag(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start kured");
    // no cluster to measure a first check: the --period alone
    let deadline = Instant::now() + by_hand().allows(LIMIT);
    while !(dir.join("marker").exists() && hook.received().len() >= 2) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(dir.join("marker").exists(), "kured reached the reboot\n{text}");
    assert!(text.contains(" DEBUG ") || text.contains(" TRACE "), "trace logging is on\n{text}");
    assert!(!text.contains(&api.token()), "the bearer token is in the log");
    assert!(!text.contains(secret), "the webhook secret is in the log");
    assert!(!text.contains("Bearer"), "an Authorization header is in the log");
}

/// No child outlives the daemon: `kill_running` (what `main` calls on the way
/// out) ends every running host command's whole process group, grandchildren
/// too, and the command is reaped. (This is the only test of this binary that
/// runs host commands in-process, so it kills nobody else's.)
#[test]
fn kill_running_ends_every_host_command_group() {
    let host = HostStandIn::new();
    let token = unique_sleep();
    let argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), format!("sleep {token} & sleep {token}; wait")];
    let pid = host.pid();
    // bounded by the daemon's own limit for a reboot command, far past this test
    let bound = Some(kured::hostcmd::DEFAULT_TIMEOUT);
    let runner = std::thread::spawn(move || kured::hostcmd::run_in_host_with_timeout(&argv, pid, bound));
    poll(by_hand().allows(LIMIT), "both sleeps to start", || live_with(&token).len() >= 3);
    kured::hostcmd::kill_running();
    poll(by_hand().allows(LIMIT), "the command to return", || runner.is_finished());
    let out = runner.join().expect("runner").expect("ran");
    assert_eq!(out.signal, Some(libc::SIGKILL), "{out:?}");
    poll(by_hand().allows(cycles(2)), "every sleep to be gone", || live_with(&token).is_empty());
}
