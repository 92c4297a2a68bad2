//! Table-driven tests of the command line and `KURED_*` binding: every flag
//! parses a good value (from the command line and from the environment) and
//! rejects a bad one with a message naming the flag or variable. Validation and
//! whole configurations are in `validate_tests.rs`, which shares the helpers.

use std::time::Duration;

use super::flags::{env_name, parse_raw, Parsed, RawFlags, Value, FLAGS};
use super::*;
use crate::error::Error;

pub(super) fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
}

#[track_caller]
fn raw(args: &[&str], env: &[(&str, &str)]) -> RawFlags {
    match parse_raw(args.iter().copied(), env_of(env)) {
        Ok(Parsed::Run(raw)) => raw,
        Ok(_) => panic!("{args:?}: help or version"),
        Err(e) => panic!("{args:?} {env:?}: {e}"),
    }
}

/// The usage error for these args and env (with a node id unless given).
#[track_caller]
pub(super) fn usage(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "KURED_NODE_ID") {
        env.push(("KURED_NODE_ID", "node-a"));
    }
    match parse(args.iter().copied(), env_of(&env)) {
        Err(Error::Usage(m)) => m,
        Err(e) => panic!("{args:?} {env:?}: not a usage error: {e}"),
        Ok(_) => panic!("{args:?} {env:?}: accepted"),
    }
}

#[track_caller]
pub(super) fn usage_names(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let msg = usage(args, env);
    for n in needles {
        assert!(msg.contains(n), "{args:?} {env:?}: {msg:?} lacks {n:?}");
    }
    assert!(!msg.contains('\n') && !msg.ends_with('.'), "{msg:?}");
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}
fn list(v: &[&str]) -> Value {
    Value::List(v.iter().map(|s| s.to_string()).collect())
}
fn dur(secs: u64) -> Value {
    Value::Duration(Duration::from_secs(secs))
}

/// (flag, a good value, what it parses to, a bad value if the flag has one
/// that this module rejects; window flags are rejected by `Window::parse`).
#[rustfmt::skip]
fn table() -> Vec<(&'static str, &'static str, Value, Option<&'static str>)> {
    vec![
        ("alert-filter-match-only", "true", Value::Bool(true), Some("yes")),
        ("alert-filter-regexp", "^Watchdog$", s("^Watchdog$"), Some("(")),
        ("alert-firing-only", "1", Value::Bool(true), Some("2")),
        ("alertmanager-url", "http://am:9093", s("http://am:9093"), Some("am:9093")),
        ("annotate-nodes", "T", Value::Bool(true), Some("nope")),
        ("api-timeout", "5s", dur(5), Some("0s")),
        ("blocking-pod-selector", "app=a,tier=b", list(&["app=a,tier=b"]), None),
        ("concurrency", "3", Value::Int(3), Some("many")),
        ("control-plane-order", "last", s("last"), None),
        ("control-plane-quorum-guard", "false", Value::Bool(false), Some("off")),
        ("control-plane-selector", "etcd=true", s("etcd=true"), None),
        ("control-plane-settle", "30s", dur(30), Some("30")),
        ("drain-delay", "30s", dur(30), Some("30")),
        ("drain-grace-period", "60", Value::Int(60), Some("1.5")),
        ("drain-pod-selector", "app!=x", s("app!=x"), None),
        ("drain-stall-timeout", "2m", dur(120), Some("2")),
        ("drain-timeout", "10m", dur(600), Some("10min")),
        ("ds-name", "kured2", s("kured2"), Some("")),
        ("ds-namespace", "ops", s("ops"), Some("")),
        ("end-time", "17:00", s("17:00"), Some("25:00")),
        ("force-reboot", "false", Value::Bool(false), Some("ja")),
        ("host-pid", "4242", Value::Int(4242), Some("0")),
        ("lock-annotation", "example.com/lock", s("example.com/lock"), Some("")),
        ("lock-release-delay", "5m", dur(300), Some("-5m")),
        ("lock-ttl", "24h", dur(86400), Some("1d")),
        ("log-format", "json", s("json"), None),
        ("maintenance-window", "mon-fri 03:00-05:00", list(&["mon-fri 03:00-05:00"]), None),
        ("message-template-drain", "Draining %s now", s("Draining %s now"), None),
        ("message-template-drain-failed", "Drain %s: %s", s("Drain %s: %s"), Some("%5000s")),
        ("message-template-lock-lost", "Lost %s: %s", s("Lost %s: %s"), Some("%s %4000s")),
        ("message-template-reboot", "Boot %s", s("Boot %s"), None),
        ("message-template-reboot-failed", "Failed %s: %s", s("Failed %s: %s"), Some("%99999999999s")),
        ("message-template-reboot-loop", "Loop %s: %s", s("Loop %s: %s"), Some("%5000s")),
        ("message-template-stale-lock", "Stale %s: %s", s("Stale %s: %s"), Some("%5000s")),
        ("message-template-uncordon", "Back: %s", s("Back: %s"), None),
        ("metrics-host", "127.0.0.1", s("127.0.0.1"), None),
        ("metrics-port", "9090", Value::Int(9090), Some("65536")),
        ("node-id", "node-b", s("node-b"), None),
        ("notify-url", "slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", list(&["slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"]), None),
        ("period", "30m", dur(1800), Some("0")),
        ("post-reboot-node-labels", "a=1,b=2", list(&["a=1", "b=2"]), Some("a")),
        ("pre-reboot-node-labels", "a=1,b=", list(&["a=1", "b="]), Some("=x")),
        ("prefer-no-schedule-taint", "kured/reboot", s("kured/reboot"), None),
        ("prometheus-query", "up == 0", list(&["up == 0"]), Some(" ")),
        ("prometheus-url", "http://prom:9090", s("http://prom:9090"), None),
        ("reboot-command", "/sbin/reboot now", s("/sbin/reboot now"), Some("'unbalanced")),
        ("reboot-days", "mo,tu", list(&["mo", "tu"]), Some("funday")),
        ("reboot-delay", "90s", dur(90), Some("90 s")),
        ("reboot-loop-limit", "5", Value::Int(5), Some("-1")),
        ("reboot-loop-window", "3h", dur(10800), Some("3")),
        ("reboot-method", "signal", s("signal"), Some("kexec")),
        ("reboot-sentinel", "/run/x", s("/run/x"), Some("")),
        ("reboot-sentinel-command", "test -f /x", s("test -f /x"), Some("\"unbalanced")),
        ("reboot-sentinel-preset", "auto", s("auto"), Some("windows")),
        ("reboot-signal", "40", Value::Int(40), Some("forty")),
        ("reboot-timeout", "10s", dur(10), Some("10")),
        ("release-gate-timeout", "5m", dur(300), Some("5")),
        ("skip-wait-for-delete-timeout", "30", Value::Int(30), Some("thirty")),
        ("slack-channel", "#ops", s("#ops"), None),
        ("slack-hook-url", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", s("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"), None),
        ("slack-username", "bot", s("bot"), None),
        ("start-time", "8:00", s("8:00"), Some("noon")),
        ("time-zone", "Europe/Berlin", s("Europe/Berlin"), Some("Mars/Olympus")),
    ]
}

#[test]
fn table_covers_every_flag_and_defaults_parse() {
    let names: Vec<&str> = table().iter().map(|t| t.0).collect();
    let flags: Vec<&str> = FLAGS.iter().map(|f| f.name).collect();
    assert_eq!(names, flags);
    assert_eq!(FLAGS.len(), 63, "43 upstream flags plus --alertmanager-url, --api-timeout, four --control-plane-*, --host-pid, --maintenance-window, --prometheus-query, --reboot-loop-limit, --reboot-loop-window, --reboot-sentinel-preset, --reboot-timeout, --release-gate-timeout, --drain-stall-timeout and five --message-template-* for what goes wrong");
    let defaults = raw(&[], &[]);
    assert_eq!(defaults.get("period"), Some(&dur(3600)));
    assert_eq!(defaults.get("reboot-days"), Some(&list(&["su", "mo", "tu", "we", "th", "fr", "sa"])));
    assert_eq!(defaults.get("drain-grace-period"), Some(&Value::Int(-1)));
    assert_eq!(defaults.get("reboot-signal"), Some(&Value::Int(39)));
    assert_eq!(defaults.get("host-pid"), Some(&Value::Int(1)));
    assert_eq!(defaults.get("blocking-pod-selector"), Some(&list(&[])));
    assert_eq!(defaults.get("alert-filter-regexp"), Some(&s("")));
}

#[test]
fn every_flag_from_the_command_line() {
    for (name, good, want, _) in table() {
        let eq = format!("--{name}={good}");
        assert_eq!(raw(&[&eq], &[]).get(name), Some(&want), "{eq}");
        if FLAGS.iter().any(|f| f.name == name && f.kind == flags::Kind::Bool) {
            continue;
        }
        let flag = format!("--{name}");
        assert_eq!(raw(&[&flag, good], &[]).get(name), Some(&want), "{flag} {good}");
        assert_eq!(raw(&[&flag, good], &[]).source(name), flag);
    }
}

#[test]
fn every_flag_from_the_environment() {
    for (name, good, want, _) in table() {
        let var = env_name(name);
        let r = raw(&[], &[(&var, good)]);
        assert_eq!(r.get(name), Some(&want), "{var}={good}");
        assert_eq!(r.source(name), var);
    }
    assert_eq!(env_name("reboot-sentinel-command"), "KURED_REBOOT_SENTINEL_COMMAND");
    assert_eq!(env_name("host-pid"), "KURED_HOST_PID");
}

#[test]
fn every_bad_value_names_the_flag_or_variable() {
    for (name, _, _, bad) in table() {
        let Some(bad) = bad else { continue };
        let arg = format!("--{name}={bad}");
        let (flag, var, quoted) = (format!("--{name}"), env_name(name), format!("{bad:?}"));
        usage_names(&[&arg], &[], &[&flag, &quoted]);
        usage_names(&[], &[(&var, bad)], &[&var, &quoted]);
    }
}

#[test]
fn environment_wins_over_the_command_line() {
    let r = raw(
        &["--period=5m", "--reboot-days=mo", "--force-reboot"],
        &[("KURED_PERIOD", "7m"), ("KURED_REBOOT_DAYS", "sa,su"), ("KURED_FORCE_REBOOT", "false")],
    );
    assert_eq!(r.get("period"), Some(&dur(420)));
    assert_eq!(r.get("reboot-days"), Some(&list(&["sa", "su"])));
    assert_eq!(r.get("force-reboot"), Some(&Value::Bool(false)));
    // Set but empty is set (upstream: os.LookupEnv).
    let r = raw(
        &["--prometheus-url=http://p", "--reboot-days=mo", "--blocking-pod-selector=a=b"],
        &[("KURED_PROMETHEUS_URL", ""), ("KURED_REBOOT_DAYS", ""), ("KURED_BLOCKING_POD_SELECTOR", "")],
    );
    assert_eq!(r.get("prometheus-url"), Some(&s("")));
    assert_eq!(r.get("reboot-days"), Some(&list(&[])));
    assert_eq!(r.get("blocking-pod-selector"), Some(&list(&[])));
    // One selector per env value: its commas are AND, as on the command line.
    let r = raw(&["--blocking-pod-selector=x=y"], &[("KURED_BLOCKING_POD_SELECTOR", "a=b,c=d")]);
    assert_eq!(r.get("blocking-pod-selector"), Some(&list(&["a=b,c=d"])));
    // Env ints are decimal as with strconv.Atoi; the command line takes Go prefixes.
    assert_eq!(raw(&[], &[("KURED_CONCURRENCY", "010")]).get("concurrency"), Some(&Value::Int(10)));
    assert_eq!(raw(&["--concurrency=010"], &[]).get("concurrency"), Some(&Value::Int(8)));
    usage_names(&[], &[("KURED_METRICS_PORT", "0x50")], &["KURED_METRICS_PORT", "\"0x50\""]);
    usage_names(&[], &[("KURED_FORCE_REBOOT", "")], &["KURED_FORCE_REBOOT"]);
    usage_names(&[], &[("KURED_PERIOD", "")], &["KURED_PERIOD"]);
    // A bad command-line value is an error even if the environment overrides it.
    usage_names(&["--period=soon"], &[("KURED_PERIOD", "1h")], &["--period", "\"soon\""]);
}

#[test]
fn booleans() {
    for (arg, want) in [
        ("--force-reboot", true),
        ("--force-reboot=true", true),
        ("--force-reboot=1", true),
        ("--force-reboot=t", true),
        ("--force-reboot=T", true),
        ("--force-reboot=TRUE", true),
        ("--force-reboot=True", true),
        ("--force-reboot=false", false),
        ("--force-reboot=0", false),
        ("--force-reboot=f", false),
        ("--force-reboot=F", false),
        ("--force-reboot=FALSE", false),
        ("--force-reboot=False", false),
    ] {
        assert_eq!(raw(&[arg], &[]).get("force-reboot"), Some(&Value::Bool(want)), "{arg}");
    }
    usage_names(&["--force-reboot="], &[], &["--force-reboot", "\"\""]);
    // pflag: a boolean never takes the next argument (see validate_tests for
    // what becomes of the stray "false").
    assert_eq!(raw(&["--force-reboot", "--period=1m"], &[]).get("force-reboot"), Some(&Value::Bool(true)));
}

#[test]
fn slices_split_and_append() {
    let days = raw(&["--reboot-days=mo,tu", "--reboot-days", "we", "--reboot-days="], &[]);
    assert_eq!(days.get("reboot-days"), Some(&list(&["mo", "tu", "we"])));
    let quoted = raw(&["--pre-reboot-node-labels=\"a=1,2\",b=3"], &[]);
    assert_eq!(quoted.get("pre-reboot-node-labels"), Some(&list(&["a=1,2", "b=3"])));
    let sel = raw(&["--blocking-pod-selector=app=a,tier in (x,y)", "--blocking-pod-selector", "b=c"], &[]);
    assert_eq!(sel.get("blocking-pod-selector"), Some(&list(&["app=a,tier in (x,y)", "b=c"])));
    let last = raw(&["--period=1m", "--period=2m"], &[]);
    assert_eq!(last.get("period"), Some(&dur(120)));
}

#[test]
fn command_line_shapes() {
    let help = |args: &[&str]| matches!(parse(args.iter().copied(), |_| None), Ok(Command::Help));
    assert!(help(&["--help"]) && help(&["-h"]) && help(&["--help", "--period=bad"]));
    assert!(matches!(parse(["--version"], |_| None), Ok(Command::Version)));
    usage_names(&["--no-such-flag"], &[], &["unknown flag", "--no-such-flag"]);
    usage_names(&["-period=1h"], &[], &["'p'"]);
    usage_names(&["--period"], &[], &["--period"]);
    usage_names(&["--version=2"], &[], &["--version"]);
    // pflag hands the next argument to a value flag even if it looks like a flag.
    assert_eq!(raw(&["--node-id", "--x"], &[]).get("node-id"), Some(&s("--x")));
    let err = parse(Vec::<String>::new(), |_| None).unwrap_err();
    assert_eq!(err.to_string(), "missing node id: set --node-id or KURED_NODE_ID");
    assert_eq!(err.exit_code(), 2);
    usage_names(&[], &[("KURED_NODE_ID", "")], &["missing node id"]);
}
