//! End to end, `--maintenance-window` (issue 22): real `kured` processes on
//! the simulated cluster, on both servers (`NAME::fake`, `NAME::real`: a real
//! control plane, see tests/e2e.rs; both use the machine's clock), with a
//! monthly window ("the n-th <weekday>+1", the form of the Wednesday after
//! Patch Tuesday) that opens 40 s after the kureds start (computed once the
//! server is up, `Cluster::start_then`) in a fixed-offset zone, and a second
//! window that stays shut. Before the opening every node says when it opens
//! (status annotation, metric) and no reboot command runs; then every node
//! reboots, each reboot command inside the window. Bounded: the wait before
//! the opening ends just before it, the rollout after it by the harness's
//! cycle budget.

#[path = "support/promtool.rs"]
mod promtool;

use std::time::{Duration, SystemTime};

use serde_json::Value;
use sim::{cycles, Cluster, ClusterSpec, ControlPlaneKind, Event, Limit};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The window's zone, UTC+5 all year (POSIX signs: Etc/GMT-5 is east).
const ZONE: &str = "Etc/GMT-5";
const OFFSET_HOURS: i8 = 5;
/// From the kureds' start to the opening: time for every node's first check
/// (a few seconds, more on the real server) and a look at the status.
const LEAD: Duration = Duration::from_secs(40);
const LENGTH: Duration = Duration::from_secs(15 * 60);

fn weekday(d: time::Date) -> String {
    d.weekday().to_string()[..3].to_lowercase()
}

/// "2nd tue+1 13:05:07-13:20:07 Etc/GMT-5" for a window opening at `open`
/// (UTC): the local date is given as the day after the n-th weekday of the
/// day before, which may be in the previous month.
fn monthly_spec(open: OffsetDateTime) -> String {
    let local = open.to_offset(UtcOffset::from_hms(OFFSET_HOURS, 0, 0).unwrap());
    let anchor = local.date().previous_day().unwrap();
    let nth = match (anchor.day() - 1) / 7 + 1 {
        1 => "1st",
        2 => "2nd",
        3 => "3rd",
        4 => "4th",
        _ => "last",
    };
    let hms = |t: OffsetDateTime| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    format!("{nth} {}+1 {}-{} {ZONE}", weekday(anchor), hms(local), hms(local + LENGTH))
}

fn status_of(c: &Cluster, node: &str) -> Option<Value> {
    let text = c.get_node(node)?.pointer("/metadata/annotations")?.get("kured-rs.dev/status")?.as_str()?.to_string();
    serde_json::from_str(&text).ok()
}

fn metrics_of(c: &Cluster, node: &str) -> String {
    let (code, body) = sim::http::get(c.metrics_port(node).unwrap(), "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    body
}

/// When each "rebooting node <name>" line was logged (the reboot command
/// runs right after it; the log's seconds are whole, the opening too).
fn reboot_log_times(c: &Cluster, node: &str) -> Vec<OffsetDateTime> {
    let log = std::fs::read_to_string(c.node(node).unwrap().log_path()).unwrap_or_default();
    let line_end = format!("rebooting node {node}");
    log.lines()
        .filter(|l| l.ends_with(&line_end))
        .map(|l| {
            OffsetDateTime::parse(l.split(' ').next().unwrap_or_default(), &Rfc3339)
                .unwrap_or_else(|e| panic!("{l:?}: {e}"))
        })
        .collect()
}

mod a_monthly_window_that_opens_during_the_run_reboots_only_inside_it {
    #[test]
    fn fake() {
        super::a_monthly_window_that_opens_during_the_run_reboots_only_inside_it(sim::ControlPlaneKind::Fake)
    }
    #[test]
    fn real() {
        super::a_monthly_window_that_opens_during_the_run_reboots_only_inside_it(sim::ControlPlaneKind::Real)
    }
}

fn a_monthly_window_that_opens_during_the_run_reboots_only_inside_it(cp: ControlPlaneKind) {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 3, &[]);
    s.control_plane = cp;
    // the windows, once the server is up (a real one takes a while to start)
    let (mut open, mut spec, mut shut) = (OffsetDateTime::UNIX_EPOCH, String::new(), String::new());
    let mut c = Cluster::start_then(s, || {
        let now = OffsetDateTime::now_utc();
        open = (now + LEAD).replace_nanosecond(0).unwrap() + Duration::from_secs(1);
        spec = monthly_spec(open);
        // a weekday three days away, in another zone: shut for the whole run
        shut = format!("{} 12:00-12:01 America/New_York", weekday(now.date() + Duration::from_secs(3 * 86_400)));
        vec![format!("--maintenance-window={spec}"), format!("--maintenance-window={shut}")]
    })
    .unwrap_or_else(|e| panic!("cluster: {e}"));
    let close = open + LENGTH;
    let names = c.spec().node_names();
    let opens_at = open.format(&Rfc3339).unwrap();
    let reason = format!("outside the maintenance window, opens at {opens_at}");

    // Before the opening: each node says when its window opens, none reboots.
    let mut reboots: Vec<(String, SystemTime)> = Vec::new();
    let mut record = |e: &sim::Timed| {
        if let Event::Rebooted { node, .. } = &e.event {
            reboots.push((node.clone(), SystemTime::now()));
        }
    };
    let before =
        Duration::try_from(open - OffsetDateTime::now_utc()).unwrap_or_default().saturating_sub(Duration::from_secs(3));
    let said = c.poll_until(Limit::Fixed(before), &mut record, |c| {
        names.iter().all(|n| status_of(c, n).is_some_and(|s| s["reason"] == reason.as_str()))
    });
    assert!(said, "not every node said {reason:?} before the opening ({spec})\n{}", c.report());
    for n in &names {
        // (the metrics refresh reads the sentinel whatever the window, as upstream)
        assert_eq!(status_of(&c, n).unwrap()["state"], "pending", "{n}: its reboot waits for the window");
    }
    let m = metrics_of(&c, "node-1");
    promtool::check(&m);
    for line in [
        r#"kured_maintenance_window_open{node="node-1"} 0"#.to_string(),
        r#"kured_reboot_blocked{node="node-1",reason="window"} 1"#.to_string(),
        format!(r#"kured_maintenance_window_next_open_timestamp_seconds{{node="node-1"}} {}"#, open.unix_timestamp()),
    ] {
        assert!(m.lines().any(|l| l == line), "no {line:?} in\n{m}");
    }
    let log = std::fs::read_to_string(c.node("node-1").unwrap().log_path()).unwrap_or_default();
    assert!(log.contains(&format!("window=\"{spec} | {shut}\"")), "the start-up summary shows both windows\n{log}");

    // From the opening: every node reboots, one at a time, inside the window.
    let until_open = Duration::try_from(open - OffsetDateTime::now_utc()).unwrap_or_default();
    let summary = c.run_until_all_rebooted_with(Limit::Fixed(until_open + c.allows(cycles(12))), &mut record);
    assert!(summary.violations(1).is_empty() && summary.nodes_rebooted == 3, "{summary}\n{}", c.report());
    for n in &names {
        let times = reboot_log_times(&c, n);
        assert!(!times.is_empty(), "{n}: no reboot logged\n{}", c.report());
        for t in times {
            assert!(
                t >= open && t < close,
                "{n}: reboot command at {t}, outside the window {opens_at} to {close}\n{}",
                c.report()
            );
        }
    }
    assert_eq!(reboots.len(), 3, "{reboots:?}");
    for (n, seen) in &reboots {
        let seen = OffsetDateTime::from(*seen);
        assert!(
            seen >= open && seen < close,
            "{n}: rebooted (seen at {seen}) outside the window {opens_at} to {close}"
        );
    }
}
