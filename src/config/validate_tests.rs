//! Tests of validation and resolution into a whole [`Config`]: cross-flag
//! rules, defaults, what the environment and the command line add up to, and
//! that no input makes parsing panic.

use std::time::Duration;

use super::flags::{env_name, FLAGS};
use super::tests::{env_of, usage, usage_names};
use super::*;

#[test]
fn validation_rules() {
    usage_names(&["--reboot-method=signal", "--reboot-signal=0"], &[], &["--reboot-signal", "\"0\""]);
    usage_names(&["--reboot-method=signal", "--reboot-signal=65"], &[], &["--reboot-signal"]);
    usage_names(&["--reboot-method=signal", "--reboot-signal=-1"], &[], &["--reboot-signal"]);
    usage_names(&["--metrics-port=-1"], &[], &["--metrics-port"]);
    usage_names(&["--host-pid=-5"], &[], &["--host-pid"]);
    usage_names(&["--host-pid=99999999999"], &[], &["--host-pid"]);
    usage_names(&["--reboot-command=   "], &[], &["--reboot-command", "\"   \""]);
    usage_names(&["--period=-1s"], &[], &["--period", "negative"]);
    usage_names(&["--drain-timeout=1"], &[], &["--drain-timeout", "missing unit"]);
    usage_names(&["--lock-ttl=h"], &[], &["--lock-ttl"]);
    usage_names(&["--reboot-delay=1x"], &[], &["--reboot-delay", "unknown unit"]);
    usage_names(&["--drain-delay="], &[], &["--drain-delay"]);
    // --api-timeout: a bound every request can meet, and not one that hangs the loop
    usage_names(&["--api-timeout=0"], &[], &["--api-timeout", "\"0s\"", "must be from 1s to 1m0s"]);
    usage_names(&["--api-timeout=999ms"], &[], &["--api-timeout", "\"999ms\""]);
    usage_names(&["--api-timeout=61s"], &[], &["--api-timeout", "\"1m1s\""]);
    usage_names(&["--api-timeout=8760h"], &[], &["--api-timeout"]);
    usage_names(&["--api-timeout=-5s"], &[], &["--api-timeout", "negative"]);
    usage_names(&[], &[("KURED_API_TIMEOUT", "0s")], &["KURED_API_TIMEOUT", "must be from 1s"]);
    usage_names(&["--reboot-days=\"mo"], &[], &["--reboot-days", "quoted field"]);
    usage_names(&["--reboot-days=7"], &[], &["--reboot-days", "\"7\""]);
    // issue 15: what could only fail later is refused at start-up
    usage_names(&["--message-template-drain=%99999999999999999999999s"], &[], &["--message-template-drain", "width"]);
    usage_names(&["--message-template-uncordon=%100000000s"], &[], &["--message-template-uncordon"]);
    usage_names(&["--message-template-reboot=%5000s"], &[], &["--message-template-reboot", "renders to 5000 bytes"]);
    usage_names(&[], &[("KURED_MESSAGE_TEMPLATE_REBOOT", "%5000s")], &["KURED_MESSAGE_TEMPLATE_REBOOT"]);
    // the warning templates take two arguments (the node, what happened): both count
    usage_names(&["--message-template-reboot-failed=%s %3900s"], &[], &["--message-template-reboot-failed", "bytes"]);
    usage_names(&[], &[("KURED_MESSAGE_TEMPLATE_LOCK_LOST", "%100000000s")], &["KURED_MESSAGE_TEMPLATE_LOCK_LOST"]);
    usage_names(&["--blocking-pod-selector=a in ("], &[], &["--blocking-pod-selector", "not a label selector"]);
    usage_names(&["--drain-pod-selector=a in ("], &[], &["--drain-pod-selector", "not a label selector"]);
    usage_names(&["--control-plane-selector=a in ("], &[], &["--control-plane-selector", "not a label selector"]);
    usage_names(&["--control-plane-order=middle"], &[], &["--control-plane-order", "\"middle\"", "first, last or any"]);
    usage_names(&[], &[("KURED_CONTROL_PLANE_ORDER", "First")], &["KURED_CONTROL_PLANE_ORDER"]);
    usage_names(&["--prometheus-url=not a url"], &[], &["--prometheus-url", "not a URL"]);
    usage_names(&[], &[("KURED_NODE_ID", "Node_A")], &["KURED_NODE_ID", "DNS subdomain"]);
    usage_names(&[], &[("KURED_NODE_ID", "node-\u{fffd}")], &["KURED_NODE_ID", "not valid UTF-8"]);
    // --reboot-sentinel-preset: a known name, and a family does not sit beside upstream's sentinel
    usage_names(
        &["--reboot-sentinel-preset=windows"],
        &[],
        &[
            "--reboot-sentinel-preset",
            "\"windows\"",
            "expected file, auto, debian, rhel, suse, transactional, rpm-ostree, flatcar",
        ],
    );
    usage_names(&["--reboot-sentinel-preset="], &[], &["--reboot-sentinel-preset", "expected file"]);
    usage_names(&["--reboot-sentinel-preset=RHEL"], &[], &["--reboot-sentinel-preset"]);
    usage_names(&[], &[("KURED_REBOOT_SENTINEL_PRESET", "centos")], &["KURED_REBOOT_SENTINEL_PRESET", "\"centos\""]);
    usage_names(
        &["--reboot-sentinel-preset=rhel", "--reboot-sentinel-command=true"],
        &[],
        &["--reboot-sentinel-preset", "replaces --reboot-sentinel-command"],
    );
    usage_names(
        &["--reboot-sentinel-preset=suse", "--reboot-sentinel=/x"],
        &[],
        &["--reboot-sentinel-preset", "replaces --reboot-sentinel"],
    );
    usage_names(&["--reboot-sentinel-preset=flatcar"], &[("KURED_REBOOT_SENTINEL", "/x")], &["KURED_REBOOT_SENTINEL"]);
    usage_names(
        &["--reboot-sentinel-preset=auto", "--reboot-sentinel-command=\"x"],
        &[],
        &["--reboot-sentinel-command"],
    );
    // --prometheus-query and --alertmanager-url ask --prometheus-url's server
    usage_names(&["--prometheus-query=up == 0"], &[], &["--prometheus-query", "needs --prometheus-url"]);
    usage_names(
        &["--prometheus-url=http://p:9090", "--prometheus-query=up", "--prometheus-query=  "],
        &[],
        &["--prometheus-query", "empty query"],
    );
    usage_names(
        &["--prometheus-url=http://p:9090", &format!("--prometheus-query={}", "x".repeat(9000))],
        &[],
        &["--prometheus-query", "longer than 8192"],
    );
    usage_names(
        &["--alertmanager-url=http://am:9093"],
        &[],
        &["--alertmanager-url", "--prometheus-url, which is not set"],
    );
    usage_names(
        &["--prometheus-url=http://p:9090", "--alertmanager-url=am:9093"],
        &[],
        &["--alertmanager-url", "expected http"],
    );
    let long = "a".repeat(100_000);
    usage_names(&[], &[("KURED_NODE_ID", &long)], &["KURED_NODE_ID", "(100000 bytes)", "more than 253"]);
    assert!(usage(&[], &[("KURED_NODE_ID", &long)]).len() < 1024, "a short message for a long value");
}

// Whole configurations, through Window::parse.

fn config(args: &[&str], env: &[(&str, &str)]) -> (Config, Vec<String>) {
    let mut env = env.to_vec();
    env.push(("KURED_NODE_ID", "node-a"));
    match parse_with_warnings(args.iter().copied(), env_of(&env)) {
        Ok((Command::Run(c), w)) => (*c, w),
        Ok(_) => panic!("help or version"),
        Err(e) => panic!("{args:?}: {e}"),
    }
}

#[test]
fn defaults_resolve() {
    let (c, w) = config(&[], &[]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.node_id, "node-a");
    assert_eq!(c.period, Duration::from_secs(3600));
    assert_eq!(c.sentinel, SentinelSpec::File("/var/run/reboot-required".into()));
    assert_eq!(c.reboot_method, RebootMethod::Command);
    assert_eq!(c.reboot_command, ["/bin/systemctl", "reboot"]);
    assert_eq!((c.reboot_signal, c.host_pid, c.concurrency, c.metrics_port), (39, 1, 1, 8080));
    assert_eq!(
        (c.drain_timeout, c.drain_grace_period, c.skip_wait_for_delete_timeout, c.lock_ttl),
        (None, None, None, None)
    );
    assert_eq!(
        (c.prometheus_url.clone(), c.prefer_no_schedule_taint.clone(), c.notify_urls.clone()),
        (None, None, Vec::<String>::new())
    );
    assert!(c.alert_filter.is_none() && c.blocking_pod_selectors.is_empty());
    assert_eq!((c.ds_namespace.as_str(), c.ds_name.as_str()), ("kube-system", "kured"));
    assert_eq!(c.lock_annotation, "weave.works/kured-node-lock");
    // the quorum guard only ever makes a reboot wait: on by default
    assert!(c.control_plane_quorum_guard && c.control_plane_selector.is_empty());
    assert_eq!(c.control_plane_order, crate::controlplane::Order::Any);
    assert_eq!(c.slack_username, "kured");
    assert_eq!(c.message_template_uncordon, "Node %s rebooted & uncordoned successfully!");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.api_timeout, Duration::from_secs(30), "kube::config::READ_TIMEOUT, as before the flag");
    assert_eq!(c.api_timeout, crate::kube::config::READ_TIMEOUT);
    assert!(c.summary().contains(" api-timeout=30s "), "{}", c.summary());
}

#[test]
fn resolution_rules() {
    let (c, w) = config(
        &[
            "--reboot-sentinel-command=/usr/bin/test -f '/x y'",
            "--notify-url=\"slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\"",
            "--slack-hook-url=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "--drain-timeout=5m",
            "--drain-grace-period=0",
            "--skip-wait-for-delete-timeout=30",
            "--lock-ttl=1h",
            "--alert-filter-regexp=^Watch",
            "--pre-reboot-node-labels=a=1",
            "--reboot-method=signal",
            "--api-timeout=1s",
        ],
        &[("KURED_HOST_PID", "4242")],
    );
    assert_eq!(c.sentinel, SentinelSpec::Command(vec!["/usr/bin/test".into(), "-f".into(), "/x y".into()]));
    assert_eq!(c.notify_urls, ["slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"]);
    assert_eq!(c.drain_timeout, Some(Duration::from_secs(300)));
    assert_eq!(c.drain_grace_period, Some(0));
    assert_eq!(c.skip_wait_for_delete_timeout, Some(Duration::from_secs(30)));
    assert_eq!(c.lock_ttl, Some(Duration::from_secs(3600)));
    assert!(c.alert_filter.as_ref().is_some_and(|r| r.is_match("Watchdog")));
    assert_eq!((&c.reboot_method, c.host_pid), (&RebootMethod::Signal, 4242));
    assert_eq!(c.pre_reboot_node_labels, [("a".to_string(), "1".to_string())]);
    assert_eq!(c.api_timeout, Duration::from_secs(1));
    let (c, _) = config(&[], &[("KURED_API_TIMEOUT", "1m")]);
    assert_eq!(c.api_timeout, Duration::from_secs(60));
    assert_eq!(w.len(), 2, "{w:?}"); // slack-hook-url ignored; label keys differ
    assert!(w.iter().any(|m| m.contains("--slack-hook-url is ignored")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("do not match")), "{w:?}");
    assert!(!c.summary().contains("B00000000"), "notify URL tokens must not be logged");
    let (c, w) = config(
        &["--slack-hook-url='https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'"],
        &[],
    );
    assert_eq!(c.notify_urls, ["slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"]);
    assert!(w[0].contains("deprecated"), "{w:?}");
}

#[test]
fn notify_urls_and_warning_templates_resolve() {
    let (c, w) = config(
        &[
            "--notify-url=generic+http://127.0.0.1:1/a",
            "--notify-url=smtp://u:hunter2@mail:25/?to=a@b",
            "--notify-url='discord://t@1'",
        ],
        &[],
    );
    assert_eq!(
        c.notify_urls,
        ["generic+http://127.0.0.1:1/a", "discord://t@1"],
        "an unusable one is dropped, the others stay"
    );
    assert!(w.len() == 1 && w[0].contains("--notify-url") && !w[0].contains("hunter2"), "{w:?}");
    assert!(c.summary().contains(" notify-url=generic+http://***,discord://*** "), "{}", c.summary());
    let (c, _) = config(&[], &[("KURED_NOTIFY_URL", "discord://t@1")]);
    assert_eq!(c.notify_urls, ["discord://t@1"], "the environment gives one whole URL, as upstream");
    let t = &c.warning_templates;
    assert_eq!(t.for_reason("RebootFailed"), Some("Reboot of node %s failed: %s"));
    assert_eq!(t.for_reason("RebootLoop"), Some("Node %s stopped rebooting: %s"));
    assert_eq!(t.for_reason("DrainFailed"), t.for_reason("DrainGaveWay"));
    assert_eq!(t.for_reason("StaleLockBroken"), Some("kured on node %s broke a stale lock: %s"));
    assert_eq!(t.for_reason("LockLost"), Some("Node %s lost the reboot lock: %s"));
    assert_eq!(t.for_reason("Rebooting"), None);
}

#[test]
fn prometheus_queries_and_alertmanager_resolve() {
    let (c, w) = config(
        &[
            "--prometheus-url=http://p:9090",
            "--prometheus-query= up == 0 ",
            "--prometheus-query=ALERTS{severity=\"page\"}",
            "--alertmanager-url=http://am:9093/",
        ],
        &[],
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.prometheus_queries, ["up == 0", "ALERTS{severity=\"page\"}"]);
    assert_eq!(c.alertmanager_url.as_deref(), Some("http://am:9093/"));
    let blockers = crate::wire::blockers(&c);
    assert_eq!(blockers.len(), 3, "the alerts, then one per query: {blockers:?}");
    let (c, _) = config(&[], &[]);
    assert!(c.prometheus_queries.is_empty() && c.alertmanager_url.is_none());
}

#[test]
fn sentinel_presets_resolve() {
    use super::OsFamily::*;
    let preset = |args: &[&str]| config(args, &[]).0.sentinel;
    let file = SentinelSpec::File("/var/run/reboot-required".into());
    assert_eq!(preset(&["--reboot-sentinel-preset=file"]), file, "the default, upstream's sentinel");
    assert_eq!(preset(&["--reboot-sentinel-preset=auto"]), SentinelSpec::Auto(Box::new(file)));
    // auto falls back to whatever upstream's flags say
    assert_eq!(
        preset(&["--reboot-sentinel-preset=auto", "--reboot-sentinel-command=test -e /x"]),
        SentinelSpec::Auto(Box::new(SentinelSpec::Command(vec!["test".into(), "-e".into(), "/x".into()])))
    );
    for (name, family) in [
        ("debian", Debian),
        ("rhel", Rhel),
        ("suse", Suse),
        ("transactional", Transactional),
        ("rpm-ostree", RpmOstree),
        ("flatcar", Flatcar),
    ] {
        assert_eq!(preset(&[&format!("--reboot-sentinel-preset={name}")]), SentinelSpec::Preset(family));
    }
    let (c, w) = config(&[], &[("KURED_REBOOT_SENTINEL_PRESET", "rpm-ostree")]);
    assert_eq!((c.sentinel.clone(), w.len()), (SentinelSpec::Preset(RpmOstree), 0));
    assert!(c.summary().contains(" sentinel-preset=rpm-ostree "), "{}", c.summary());
    let (c, _) = config(&["--reboot-sentinel-preset=auto"], &[]);
    assert!(c.summary().contains(" sentinel-preset=\"auto (else file /var/run/reboot-required)\" "), "{}", c.summary());
}

#[test]
fn odd_input_never_panics() {
    let odd = [
        "",
        " ",
        "=",
        ",",
        ",,",
        "\"",
        "'",
        "-",
        "--",
        "-1",
        "0x",
        "1.",
        ".",
        "µ",
        "1µ",
        "\u{0}",
        "é,\"é\"",
        "99999999999999999999",
        "a=b=c",
        "\\",
        "%s%s%n",
    ];
    for spec in FLAGS {
        for v in odd {
            let arg = format!("--{}={v}", spec.name);
            let _ = parse([arg.as_str()], |k| (k == "KURED_NODE_ID").then(|| "n".to_string()));
            let var = env_name(spec.name);
            let _ = parse(Vec::<String>::new(), |k| match k {
                "KURED_NODE_ID" => Some("n".into()),
                k if k == var => Some(v.to_string()),
                _ => None,
            });
        }
    }
}

#[test]
fn what_upstream_tolerates_starts_with_a_warning() {
    // A manifest that starts upstream must start here: these are warnings.
    #[track_caller]
    fn warns(args: &[&str], want: &str, check: impl Fn(&Config) -> bool) {
        let (c, w) = config(args, &[]);
        assert!(w.iter().any(|m| m.contains(want)), "{args:?}: {w:?}");
        assert!(check(&c), "{args:?}");
    }
    // pflag: a boolean never takes the next argument; the stray "false" is ignored.
    warns(&["--force-reboot", "false"], "\"false\"", |c| c.force_reboot);
    warns(&["stray"], "\"stray\"", |_| true);
    warns(&["--", "--period=1h"], "\"--period=1h\"", |c| c.period == Duration::from_secs(3600));
    warns(&["--concurrency=0"], "below 1", |c| c.concurrency == 1);
    warns(&["--concurrency=-2"], "below 1", |c| c.concurrency == 1);
    warns(&["--log-format=JSON"], "logging text", |c| c.log_format == LogFormat::Text);
    // Notification URLs the notifier cannot use turn notifications off, named
    // and redacted; reboots go on.
    for (arg, flag) in [
        ("--notify-url=slack://tok@chan", "--notify-url"),
        ("--notify-url=teams://x", "--notify-url"),
        ("--notify-url=not a url", "--notify-url"),
        ("--notify-url='slack'", "--notify-url"),
        ("--notify-url=smtp://user:hunter2@mail:25/?to=a@b", "--notify-url"),
        ("--slack-hook-url=https://hooks.slack.com/services/a/b/c", "--slack-hook-url"),
        ("--slack-hook-url=https://hooks.slack.com/services/A/B", "--slack-hook-url"),
    ] {
        let (c, w) = config(&[arg], &[]);
        assert!(c.notify_urls.is_empty(), "{arg}");
        let all = w.join("\n");
        assert!(all.contains(flag) && all.contains("notifications are off"), "{arg}: {all}");
        assert!(!all.contains("hunter2") && !all.contains("tok@"), "{arg}: {all}");
    }
}

#[test]
fn maintenance_windows_replace_the_upstream_window() {
    use crate::window::Schedule;
    let (c, w) = config(
        &["--maintenance-window=mon-fri 03:00-05:00 Europe/Berlin", "--maintenance-window=sat 00:00-24:00"],
        &[],
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(matches!(&c.window, Schedule::Windows(ws) if ws.len() == 2));
    assert!(
        c.summary().contains(r#" window="mon-fri 03:00-05:00 Europe/Berlin | sat 00:00-24:00 UTC" "#),
        "{}",
        c.summary()
    );
    // the environment gives one value: several windows are separated by ;
    let (c, _) =
        config(&[], &[("KURED_MAINTENANCE_WINDOW", "mon-fri 03:00-05:00 Europe/Berlin; 2nd tue+1 03:00-05:00;")]);
    assert_eq!(c.window.to_string(), "mon-fri 03:00-05:00 Europe/Berlin | 2nd tue+1 03:00-05:00 UTC");
    // absent (or empty): upstream's flags, with their defaults
    for args in [&[][..], &["--maintenance-window="][..]] {
        let (c, _) = config(args, &[]);
        assert_eq!(c.window.to_string(), "SunMonTueWedThuFriSat between 00:00 and 23:59 UTC", "{args:?}");
    }
    // a window that never opens is a warning, naming it
    let (_, w) = config(&["--maintenance-window=mon 03:00-05:00", "--maintenance-window=2nd tue 03:00-03:00"], &[]);
    assert_eq!(w, ["--maintenance-window \"2nd tue 03:00-03:00 UTC\" starts and ends at 03:00: it never opens"]);
}

#[test]
fn bad_maintenance_windows_name_the_flag_and_the_part() {
    usage_names(
        &["--maintenance-window=5th mon 03:00-05:00"],
        &[],
        &["--maintenance-window", "\"5th mon 03:00-05:00\"", "day \"5th\""],
    );
    usage_names(
        &["--maintenance-window=mon 03:00-05:00", "--maintenance-window=mon 03:00-25:00"],
        &[],
        &["--maintenance-window", "time \"25:00\""],
    );
    usage_names(
        &[],
        &[("KURED_MAINTENANCE_WINDOW", "mon 03:00-05:00; tue 03:00-05:00 Nowhere")],
        &["KURED_MAINTENANCE_WINDOW", "\"tue 03:00-05:00 Nowhere\"", "time zone \"Nowhere\""],
    );
    // both forms at once: one would be silently unused
    for (arg, named) in [
        ("--reboot-days=mon", "--reboot-days"),
        ("--start-time=3am", "--start-time"),
        ("--end-time=5am", "--end-time"),
        ("--time-zone=UTC", "--time-zone"),
    ] {
        usage_names(
            &["--maintenance-window=mon 03:00-05:00", arg],
            &[],
            &["--maintenance-window", "replaces", &format!("but {named} is set too")],
        );
    }
    usage_names(
        &["--maintenance-window=mon 03:00-05:00"],
        &[("KURED_TIME_ZONE", "UTC")],
        &["--maintenance-window", "but KURED_TIME_ZONE is set too"],
    );
}
