//! The real `kured` binary's command line: exit codes and messages. Nothing here
//! reaches the daemon loop: with a clean environment there is no
//! `KUBERNETES_SERVICE_HOST`, so a valid command line stops at the in-cluster
//! set-up with exit 1. Even so, every run names a `sleep` child this test
//! started as `--host-pid` and a reboot command that only writes a marker file.
//!
//! The binary under test is this build's `kured`, or `KURED_TEST_BIN` run through
//! the optional `KURED_TEST_RUNNER` (e.g. a static aarch64 build under
//! `qemu-aarch64-static`; scripts/test-arm.sh does this for each ARM binary).

use std::path::PathBuf;
use std::process::{Command, Output};

#[path = "support/host.rs"]
mod host;
#[path = "support/tempdir.rs"]
mod tempdir;
use host::HostStandIn;
use tempdir::TempDir;

const IN_CLUSTER: &str =
    "kured: in-cluster configuration: KUBERNETES_SERVICE_HOST is not set (kured runs as a pod in the cluster)";

/// The harmless host for one run: a `sleep` child standing in for the host's
/// init (so no run ever names pid 1 or this test's pid) and a scratch dir for
/// the marker a "reboot" would write. Both are cleaned up on drop.
struct SafeHost {
    host: HostStandIn,
    dir: TempDir,
}

impl SafeHost {
    fn new() -> SafeHost {
        SafeHost { host: HostStandIn::new(), dir: TempDir::new("cli") }
    }
    fn host_pid_flag(&self) -> String {
        self.host.flag()
    }
    fn reboot_command(&self) -> String {
        format!("/bin/sh -c 'echo rebooted > {}'", self.dir.show("marker"))
    }
}

/// Run the binary with a clean environment. Unless the test passes them itself
/// (to check their parsing), `--host-pid` and `--reboot-command` get safe values.
fn kured(args: &[&str], env: &[(&str, &str)]) -> Output {
    let host = SafeHost::new();
    kured_on(&host, args, env)
}

/// The command that runs the binary under test (see the module comment).
fn kured_command() -> Command {
    let bin =
        std::env::var_os("KURED_TEST_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kured")), PathBuf::from);
    assert!(bin.is_file(), "KURED_TEST_BIN: no binary at {}", bin.display());
    match std::env::var("KURED_TEST_RUNNER").ok().filter(|r| !r.is_empty()) {
        None => Command::new(bin),
        Some(runner) => {
            // Resolved here: the child's environment is cleared, PATH included.
            let path = std::env::var_os("PATH").unwrap_or_default();
            let runner = std::env::split_paths(&path)
                .map(|d| d.join(&runner))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("KURED_TEST_RUNNER: {runner} not found on PATH"));
            let mut cmd = Command::new(runner);
            cmd.arg(bin);
            cmd
        }
    }
}

fn kured_on(host: &SafeHost, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = kured_command();
    cmd.env_clear().args(args);
    let passes = |flag: &str| args.iter().any(|a| a.starts_with(flag));
    if !passes("--host-pid") {
        cmd.arg(host.host_pid_flag());
    }
    if !passes("--reboot-command") {
        cmd.arg(format!("--reboot-command={}", host.reboot_command()));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run kured")
}

fn node(args: &[&str]) -> Output {
    kured(args, &[("KURED_NODE_ID", "node-a")])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every upstream flag (and --maintenance-window) with a valid value and, where this binary rejects some
/// value of it at start-up, a bad one.
#[rustfmt::skip]
const FLAGS: &[(&str, &str, Option<&str>)] = &[
    ("alert-filter-match-only", "true", Some("yes")),
    ("alert-filter-regexp", "^Watchdog$", Some("(")),
    ("alert-firing-only", "false", Some("2")),
    ("annotate-nodes", "1", Some("nope")),
    ("api-timeout", "10s", Some("0")),
    ("blocking-pod-selector", "app=a,tier=b", None),
    ("concurrency", "2", Some("many")),
    ("drain-delay", "30s", Some("30")),
    ("drain-grace-period", "60", Some("1.5")),
    ("drain-pod-selector", "app!=x", None),
    ("drain-stall-timeout", "2m", Some("2")),
    ("drain-timeout", "1h30m", Some("-1s")),
    ("ds-name", "kured", Some("")),
    ("ds-namespace", "kube-system", Some("")),
    ("end-time", "17:00", None),
    ("force-reboot", "f", Some("ja")),
    ("lock-annotation", "example.com/lock", Some("")),
    ("lock-release-delay", "5m", Some("5")),
    ("lock-ttl", "24h", Some("1d")),
    ("log-format", "json", None),
    ("maintenance-window", "2nd tue+1 03:00-05:00 Europe/Berlin", Some("5th mon 03:00-05:00")),
    ("message-template-drain", "Draining %s", None),
    ("message-template-drain-failed", "Drain %s: %s", Some("%5000s")),
    ("message-template-lock-lost", "Lost %s: %s", Some("%5000s")),
    ("message-template-reboot", "Rebooting %s", None),
    ("message-template-reboot-failed", "Failed %s: %s", Some("%5000s")),
    ("message-template-reboot-loop", "Loop %s: %s", Some("%5000s")),
    ("message-template-stale-lock", "Stale %s: %s", Some("%5000s")),
    ("message-template-uncordon", "Back %s", None),
    ("metrics-host", "127.0.0.1", None),
    ("metrics-port", "9090", Some("65536")),
    ("node-id", "node-b", None),
    ("notify-url", "slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", None),
    ("period", "1.5h", Some("0")),
    ("post-reboot-node-labels", "a=1,b=2", Some("a")),
    ("pre-reboot-node-labels", "a=1", Some("=1")),
    ("prefer-no-schedule-taint", "kured/reboot", None),
    ("prometheus-url", "http://prom:9090", None),
    ("reboot-command", "/bin/true", Some("'unbalanced")), // replaced by the marker command when run
    ("reboot-days", "mo,tu", Some("\"mo")),
    ("reboot-delay", "300ms", Some("1x")),
    ("reboot-method", "signal", Some("kexec")),
    ("reboot-sentinel", "/run/reboot-needed", Some("")),
    ("reboot-sentinel-command", "test -f /x", Some("\"x")),
    ("reboot-sentinel-preset", "auto", Some("windows")),
    ("reboot-signal", "40", Some("forty")),
    ("release-gate-timeout", "30s", Some("30")),
    ("skip-wait-for-delete-timeout", "30", Some("x")),
    ("slack-channel", "#ops", None),
    ("slack-hook-url", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", None),
    ("slack-username", "bot", None),
    ("start-time", "8:00", None),
    ("time-zone", "Europe/Berlin", None),
];

#[test]
fn every_bad_value_is_a_usage_error_naming_the_flag() {
    assert_eq!(FLAGS.len(), 53);
    for (name, _, bad) in FLAGS {
        let Some(bad) = bad else { continue };
        let arg = format!("--{name}={bad}");
        let out = node(&[&arg]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {err}");
        assert!(err.starts_with("kured: ") && err.contains(&format!("--{name}")), "{arg}: {err}");
        assert!(out.stdout.is_empty(), "{arg}");
    }
    let out = node(&["--host-pid=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--host-pid"));
}

#[test]
fn prometheus_query_and_alertmanager_need_a_prometheus() {
    for (arg, flag) in [
        ("--prometheus-query=up == 0", "--prometheus-query"),
        ("--alertmanager-url=http://am:9093", "--alertmanager-url"),
    ] {
        let out = node(&[arg]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains(flag) && err.contains("--prometheus-url"), "{arg}: {err}");
    }
    let out = node(&["--prometheus-url=http://p:9090", "--alertmanager-url=am:9093"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--alertmanager-url"), "{}", text(&out.stderr));
    // both, valid, reach the in-cluster set-up
    let host = SafeHost::new();
    let args = [
        "--prometheus-url=http://p:9090",
        "--prometheus-query=up == 0",
        "--prometheus-query=ALERTS",
        "--alertmanager-url=http://am:9093",
    ];
    let out = kured_on(&host, &args, &[("KURED_NODE_ID", "node-a")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.lines().any(|l| l == IN_CLUSTER), "{err}");
}

#[test]
fn a_sentinel_preset_does_not_sit_beside_a_sentinel_command() {
    let out = node(&["--reboot-sentinel-preset=rhel", "--reboot-sentinel-command=test -e /x"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--reboot-sentinel-preset") && err.contains("replaces --reboot-sentinel-command"), "{err}");
    let out = kured(&[], &[("KURED_NODE_ID", "n"), ("KURED_REBOOT_SENTINEL_PRESET", "ubuntu")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("KURED_REBOOT_SENTINEL_PRESET") && err.contains("expected file, auto, debian"), "{err}");
}

#[test]
fn bad_environment_values_name_the_variable() {
    let out = kured(&[], &[("KURED_NODE_ID", "n"), ("KURED_PERIOD", "soon")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value \"soon\" for KURED_PERIOD"), "{}", text(&out.stderr));
}

#[test]
fn what_upstream_tolerates_still_starts() {
    // pflag ignores a stray argument, upstream logs text for an unknown format
    // and runs without notifications when the URL is unusable: the same
    // manifest must reach the cluster check here (exit 1), with warnings.
    for (args, needle) in [
        (&["--force-reboot", "false"][..], "\"false\""),
        (&["--log-format=JSON"][..], "logging text"),
        (&["--concurrency=0"][..], "below 1"),
        (&["--notify-url=smtp://u:secret@mail:25/?to=a@b"][..], "notifications are off"),
    ] {
        let out = node(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle) && err.contains("in-cluster") && !err.contains("secret"), "{args:?}: {err}");
    }
}

#[test]
fn unknown_and_malformed_flags() {
    for (args, needle) in
        [(&["--no-such-flag"][..], "--no-such-flag"), (&["-period=1h"][..], "'p'"), (&["--period"][..], "--period")]
    {
        let out = node(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(needle), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn missing_node_id() {
    let out = kured(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("kured: missing node id: set --node-id or KURED_NODE_ID"));
}

#[test]
fn help_lists_every_flag() {
    for arg in ["--help", "-h"] {
        let out = kured(&[arg], &[]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        for (name, _, _) in FLAGS {
            assert!(help.contains(&format!("--{name} ")), "--{name} missing from help");
        }
        assert!(help.contains("--host-pid int"));
        assert!(help.contains("--period duration") && help.contains("(default 1h0m0s)"));
        assert!(help.contains("--reboot-days strings") && help.contains("(default [su,mo,tu,we,th,fr,sa])"));
        assert!(help.contains("KURED_NODE_ID"));
    }
}

#[test]
fn version() {
    let out = kured(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("kured-rs {}\n", env!("CARGO_PKG_VERSION")));
}

// Valid command lines, through Window::parse to the in-cluster set-up.

#[test]
fn every_valid_value_reaches_the_in_cluster_setup() {
    let host = SafeHost::new();
    for (name, good, _) in FLAGS {
        // A valid reboot command, but a harmless one.
        let safe = host.reboot_command();
        let good = if *name == "reboot-command" { safe.as_str() } else { good };
        let arg = format!("--{name}={good}");
        let out = kured_on(&host, &[&arg], &[("KURED_NODE_ID", "node-a")]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arg}: {err}");
        assert!(err.lines().any(|l| l == IN_CLUSTER), "{arg}: {err}");
        // The same value from the environment.
        let var = format!("KURED_{}", name.to_uppercase().replace('-', "_"));
        let out = kured_on(&host, &[], &[("KURED_NODE_ID", "node-a"), (&var, good)]);
        assert_eq!(out.status.code(), Some(1), "{var}={good}: {}", text(&out.stderr));
    }
}

#[test]
fn bad_window_values_are_usage_errors() {
    for arg in [
        "--reboot-days=funday",
        "--start-time=noon",
        "--end-time=25:00",
        "--time-zone=Mars/Olympus",
        "--maintenance-window=mon 03:00-05:00 Mars/Olympus",
    ] {
        let out = node(&[arg]);
        let flag = arg.split('=').next().unwrap_or_default();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(text(&out.stderr).contains(flag), "{arg}: {}", text(&out.stderr));
    }
}

#[test]
fn json_logs_are_json_lines() {
    let out = node(&["--log-format=json"]);
    let err = text(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("{first:?}: {e}"));
    assert_eq!(v["level"], "info");
    assert!(v["msg"].as_str().is_some_and(|m| m.contains("node-id=node-a")));
}
