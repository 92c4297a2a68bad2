//! End to end, notifications that reach people (issue 23): real `kured`
//! processes on a simulated cluster (the `sim` harness, fake API server) with
//! several `--notify-url`s on loopback receivers. Every message goes to each
//! URL, a failing one does not keep it from the others, and what went wrong
//! (a reboot that timed out) is notified beside its Warning Event. Bounded by
//! the harness's cycle budget; synchronised by polling what was received.

use sim::http::TinyServer;
use sim::{Cluster, ClusterSpec, Limit};

/// A scenario's waits, in kured cycles (sim::budget turns them into seconds here).
const LIMIT: Limit = Limit::Cycles(8);

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn wait(c: &mut Cluster, what: &str, done: impl FnMut(&Cluster) -> bool) {
    let ok = c.poll_until(LIMIT, |_| {}, done);
    assert!(ok, "{what}: not in time\n{}", c.report());
}

fn bodies(server: &TinyServer) -> Vec<String> {
    server.received().into_iter().map(|r| r.body).collect()
}

fn url(server: &TinyServer, path: &str) -> String {
    format!("--notify-url=generic+http://127.0.0.1:{}/{path}", server.port())
}

#[test]
fn a_reboot_that_times_out_is_notified_to_every_url_even_past_a_failing_one() {
    let ok = || TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("receiver");
    let (first, second) = (ok(), ok());
    // first in the list, and failing every message
    let broken = TinyServer::start(|_| (500, "text/plain".into(), "down for maintenance".into())).expect("receiver");
    let args = [url(&broken, "broken"), url(&first, "first"), url(&second, "second"), "--reboot-timeout=3s".into()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut spec = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &args);
    spec.dud_reboot = vec!["node-1".into()]; // the reboot command runs and nothing happens
    let mut c = start(spec);
    let failed = |s: &TinyServer| bodies(s).iter().any(|b| b.starts_with("Reboot of node node-1 failed: "));
    wait(&mut c, "the RebootFailed notification at both good URLs", |_| failed(&first) && failed(&second));
    for (name, server) in [("first", &first), ("second", &second), ("broken", &broken)] {
        let got = bodies(server);
        let want = ["Draining node node-1", "Rebooting node node-1"];
        assert_eq!(&got[..2], &want, "{name}: {got:?}");
        assert!(
            got[2].starts_with("Reboot of node node-1 failed: ") && got[2].contains("boot ID unchanged"),
            "{name}: {got:?}"
        );
    }
    // each failure logged on its own, naming its URL (redacted) and the answer
    let log = c.node("node-1").unwrap().log_tail(400);
    let at = |s: &TinyServer| format!("127.0.0.1:{} answered", s.port());
    // (on a loaded machine an answer may come after the client's timeout: a
    // warning all the same, naming the URL)
    let broken_at = format!("127.0.0.1:{}", broken.port());
    let failures = log.lines().filter(|l| l.contains(" WARN ") && l.contains(&broken_at)).count();
    assert!(failures >= 3, "one warning per failed message:\n{log}");
    assert!(
        log.lines().any(|l| l.contains(" WARN ") && l.contains(&at(&broken)) && l.contains("500: down")),
        "the answer named:\n{log}"
    );
    assert!(!log.contains(&at(&first)) && !log.contains(&at(&second)), "{log}");
}
