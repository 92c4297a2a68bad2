//! The reboot loop itself (`Agent::check` and `Agent::recover`) with a fake
//! host and clock, against the fake API server: what ends up on the node (cordon,
//! taint) and on the kured DaemonSet (the lock) after each path through a check.

#[path = "agent/fake_host.rs"]
mod fake_host;
#[path = "support/host.rs"]
mod host;
#[path = "support/kube.rs"]
mod kube;
#[path = "agent/support.rs"]
mod support;

use fakeapi::Fault;
use support::{
    agent, run_check, run_loop_until_reboot, Ended, FakeHost, RebootResult, World, DS_PATH, NODE, NODE_PATH,
};
use time::Weekday;

const EVICT_P1: &str = "/api/v1/namespaces/default/pods/p1/eviction";

#[test]
fn happy_path_then_recovery_after_restart() {
    let w = World::new();
    w.pod("p1", NODE);
    w.pod("p2", NODE);
    w.pod("other", "node-2");
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
    w.assert_held();
    assert_eq!(w.pods_on(NODE), Vec::<String>::new());
    assert_eq!(w.pods_on("node-2"), ["other"]);
    assert_eq!(w.count("POST", "/eviction"), 2);
    assert!(!w.marker_written(), "the fake host never runs the reboot command");
    assert_eq!(w.event_reasons(), ["Draining", "Rebooting"]);

    // The pod after the reboot: a new process, the sentinel gone.
    let host = FakeHost::new(false);
    agent(&cfg, &w.client, &host).recover();
    w.assert_put_back();
    assert_eq!(host.reboots(), 0);
    assert_eq!(w.event_reasons(), ["Draining", "Rebooting", "Uncordoned"]);
}

#[test]
fn failed_reboot_command_puts_the_node_back() {
    let w = World::new();
    w.pod("p1", NODE);
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    host.set_reboot_result(RebootResult::CommandFailed);

    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 1);
    w.assert_put_back();

    // Backed off: the next check does not drain again at once...
    let writes = w.api.requests().len();
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 1);
    assert!(
        w.api.requests()[writes..].iter().all(|r| r.method == "GET" || status_only(r)),
        "only reads while backing off"
    );
    // ...but after a period it tries again, then waits two periods.
    host.advance(cfg.period);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 2);
    host.advance(cfg.period);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 2, "the second failure doubles the wait");
    host.advance(cfg.period);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 3);
    assert!(!w.cordoned());
}

#[test]
fn failed_reboot_command_leaves_an_operator_cordon() {
    let w = World::new();
    w.set_cordoned();
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    host.set_reboot_result(RebootResult::CommandFailed);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 1);
    w.assert_released_still_cordoned();
}

#[test]
fn uncertain_reboot_keeps_node_cordoned_and_lock_held() {
    let w = World::new();
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    host.set_reboot_result(RebootResult::Uncertain);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
    w.assert_held();
}

/// Pod p1 on this node, whose first eviction fails (500).
fn failing_eviction() -> World {
    let w = World::new();
    w.pod("p1", NODE);
    w.api.inject(Fault::status("POST", EVICT_P1, 500, 1));
    w
}

/// A failed drain gives up (node put back, pod left) unless --force-reboot.
#[test]
fn failed_drain_gives_up_unless_force_reboot() {
    for force in [false, true] {
        let w = failing_eviction();
        let cfg = w.config(if force { &["--force-reboot"] } else { &[] });
        let host = FakeHost::new(true);

        let ended = run_check(&mut agent(&cfg, &w.client, &host));
        if force {
            assert_eq!((ended, host.reboots()), (Ended::WaitingForReboot, 1));
            w.assert_held();
        } else {
            assert_eq!((ended, host.reboots()), (Ended::Returned, 0));
            w.assert_put_back();
            assert_eq!(w.pods_on(NODE), ["p1"]);
        }
    }
}

#[test]
fn drain_timeout_on_a_budget_that_never_allows_gives_up() {
    let w = World::new();
    w.pod("p1", NODE);
    // A PodDisruptionBudget refusing every eviction: 429, forever.
    w.api.inject(Fault::new("POST", EVICT_P1, fakeapi::FaultAction::Status(429)));
    let cfg = w.config(&["--drain-timeout=1s"]);
    let host = FakeHost::new(true);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    w.assert_put_back();
}

#[test]
fn failed_uncordon_keeps_the_lock_until_the_next_check_finishes_the_job() {
    let w = failing_eviction();
    // The PATCHes of the node: the release gate's record, the cordon, then the
    // uncordon fails (and the client's two resends of it).
    w.api.inject(Fault::status("PATCH", NODE_PATH, 500, 3).after(2));
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);

    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(w.cordoned());
    assert_eq!(w.holders(), [NODE], "the lock records that the cordon is ours");

    w.api.clear_faults();
    host.set_required(Ok(false));
    assert_eq!(run_check(&mut a), Ended::Returned);
    w.assert_put_back();
}

#[test]
fn operator_cordon_survives_a_failed_drain() {
    let w = failing_eviction();
    w.set_cordoned();
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    w.assert_released_still_cordoned();
}

#[test]
fn operator_cordon_survives_a_reboot() {
    let w = World::new();
    w.set_cordoned();
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(w.holders(), [NODE]);

    let host = FakeHost::new(false);
    agent(&cfg, &w.client, &host).recover();
    w.assert_released_still_cordoned();
}

#[test]
fn lock_held_elsewhere_taints_and_waits() {
    let w = World::new();
    w.set_lock_annotation(
        r#"{"nodeID":"node-2","metadata":{"unschedulable":false},"created":"2026-11-25T11:00:00Z","TTL":0}"#,
    );
    let cfg = w.config(&["--prefer-no-schedule-taint=kured-wait"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);

    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    assert_eq!(w.holders(), ["node-2"]);
    assert_eq!(w.taints(), ["kured-wait:PreferNoSchedule"]);

    host.set_required(Ok(false));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(w.taints(), Vec::<String>::new());
    assert_eq!(w.holders(), ["node-2"], "another node's lock is not ours to release");
}

/// Failed reads of the lock at start-up, then the node is put back: 500
/// carries no Retry-After, so the client resends it twice, a moment apart,
/// then gives up, and the agent's own retry loop (sleeping on the fake clock)
/// tries again, once per failed call (two calls: six 500s); 503 carries
/// Retry-After: 1, which the client itself waits out (for real).
#[test]
fn recover_retries_until_the_api_answers() {
    for (status, faults, agent_retries) in [(500, 6, 2), (503, 2, 0)] {
        let w = World::new();
        let cfg = w.config(&[]);
        let host = FakeHost::new(true);
        assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);

        w.api.inject(Fault::status("GET", DS_PATH, status, faults));
        let host = FakeHost::new(false);
        agent(&cfg, &w.client, &host).recover();
        assert_eq!(host.sleeps().len(), agent_retries, "{status}: {:?}", host.sleeps());
        assert!(!w.cordoned(), "{status}");
        assert_eq!(w.holders(), Vec::<String>::new(), "{status}");
    }
}

#[test]
fn failed_sentinel_check_does_nothing() {
    let w = World::new();
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    host.set_required(Err("cannot run the sentinel command"));
    w.api.clear_requests();

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    assert_eq!(w.lock_annotation(), None);
    assert!(w.api.requests().iter().all(status_only), "{:?}", w.api.requests());
}

#[test]
fn outside_the_window_nothing_happens() {
    let w = World::new();
    let host = FakeHost::new(true);
    let today = kured::clock::Clock::now(&host).weekday();
    let cfg = w.config(&[&format!("--reboot-days={}", two_letters(today.next()))]);
    w.api.clear_requests();

    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    assert_eq!(w.lock_annotation(), None);
    assert!(w.api.requests().iter().all(|r| r.method == "GET" || status_only(r)), "{:?}", w.api.requests());
}

#[test]
fn outside_a_maintenance_window_the_status_says_when_it_opens() {
    let w = World::new();
    let host = FakeHost::new(true);
    // NOW is Wednesday 2026-11-25 12:00 UTC, the day after the 4th Tuesday;
    // 14:00 in Berlin (CET) is 13:00 UTC
    let cfg =
        w.config(&["--maintenance-window=4th tue+1 14:00-15:00 Europe/Berlin", "--maintenance-window=sat 00:00-24:00"]);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    let status = w.api.get("nodes", "", "node-1").expect("node-1")["metadata"]["annotations"]["kured-rs.dev/status"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(status.contains(r#""reason":"outside the maintenance window, opens at 2026-11-25T13:00:00Z""#), "{status}");
    // inside it, an hour later, the node reboots
    host.advance(std::time::Duration::from_secs(3600));
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}

#[test]
fn a_closed_window_is_checked_again_when_it_opens_not_a_period_later() {
    let w = World::new();
    let host = FakeHost::new(true);
    // --period=1h: the first check comes 30 to 90 minutes after NOW (12:00
    // UTC), outside the window, which opens at 14:00 UTC (15:00 in Berlin)
    let cfg = w.config(&["--period=1h", "--maintenance-window=4th tue+1 15:00-16:00 Europe/Berlin"]);
    assert!(run_loop_until_reboot(&mut agent(&cfg, &w.client, &host), &host), "no reboot; slept {:?}", host.sleeps());
    // the checks slept out whole periods while the opening was further away,
    // then the last wait ended at the opening (100 ms past it, less the real
    // time the check took); the check then rebooted without sleeping again
    let sleeps = host.sleeps();
    let opening = fake_host::NOW + std::time::Duration::from_secs(2 * 3600);
    let rebooted_at = fake_host::NOW + sleeps.iter().sum::<std::time::Duration>();
    assert!(
        rebooted_at >= opening && rebooted_at - opening < time::Duration::seconds(1),
        "the check after {sleeps:?} came at {rebooted_at}, the window opening at {opening}"
    );
    assert!(sleeps.last().is_some_and(|s| *s < std::time::Duration::from_secs(3600)), "{sleeps:?}");
    assert_eq!(host.reboots(), 1);
}

/// A PATCH of the node's status annotation only (it says why nothing happens).
fn status_only(r: &fakeapi::RequestRecord) -> bool {
    r.method == "PATCH"
        && r.body.starts_with(r#"{"metadata":{"annotations":{"kured-rs.dev/status":"#)
        && r.body.matches("kured-rs.dev/").count() == 1
}

fn two_letters(d: Weekday) -> &'static str {
    match d {
        Weekday::Sunday => "su",
        Weekday::Monday => "mo",
        Weekday::Tuesday => "tu",
        Weekday::Wednesday => "we",
        Weekday::Thursday => "th",
        Weekday::Friday => "fr",
        Weekday::Saturday => "sa",
    }
}

#[path = "agent/more.rs"]
mod more;
