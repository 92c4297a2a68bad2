//! `kured-sim`: run a simulated cluster of real kured daemons against the fake API
//! server, print the timeline as it happens and the summary line last; exit 1 if
//! an invariant broke, 2 on a usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sim::{Cluster, ClusterSpec};

mod bench_run;

const USAGE: &str = "usage: kured-sim [--nodes N] [--concurrency C] [--seconds LIMIT] [--downtime SECS]
                 [--control-plane fake|real] [--control-plane-nodes K] [--kured PATH] [--arch aarch64|armv7]
                 [--workloads=false] [--keep] [--steady-state SECS]
                 [--install 'SHELL COMMAND'] [--bench[=LABEL]] [--floor=SUM,MIN,K] [--prometheus] [--bench-floor]
                 [KURED FLAGS...]

Starts an API server, N nodes that all need a reboot and one kured per node,
then plays the machines until every node rebooted or LIMIT seconds passed.
--control-plane fake (default) is the in-process fake API server; real is a real
Kubernetes control plane (scripts/control-plane; needs Go and kubectl) where kured
uses the kube-system/kured service account's token with manifests/base's RBAC,
or with what --install made: a shell command run once with KUBECONFIG set, that
creates that ServiceAccount, its RBAC and the DaemonSet kube-system/kured, e.g.
--install 'scripts/helm install kured manifests/helm/kured -n kube-system' (real only).
--control-plane-nodes K: node-1..node-K carry node-role.kubernetes.io/control-plane
(an HA control plane); the summary line then ends max_concurrent_control_plane=M.
--steady-state SECS: no node needs a reboot; run SECS and report the API load.
The last lines give the API requests per node per hour (at the run's --period) and
the largest peak memory (VmHWM) of one kured; KURED_SIM_REQUESTS=1 lists them by kind.
Any other --flag[=value] is passed to every kured, after the simulation's own so it
wins; except --reboot-command and --host-pid, which always stay the harmless ones.
--arch runs each kured through qemu-user (qemu-aarch64-static, qemu-arm-static);
the binary defaults to that target's static build (scripts/build-static.sh), which
`scripts/simulate --arch` makes first.
--bench[=LABEL]: after the rollout, print the scale benchmark's figures (`bench:`
lines: requests against the floor, the busiest second, hand-over gaps, fairness,
memory and CPU; see tests/sim/src/bench.rs). --floor=SUM,MIN,K: the floor for
N nodes is SUM + (N-K) x MIN, as measured by --bench-floor (K nodes, each
rebooting alone in turn; prints `bench-floor:`). --prometheus: a fake Prometheus
(no alerts firing) for --prometheus-url, its queries counted.
Exit status: 0 all invariants held, 1 one broke, 2 usage error.";

struct Options {
    spec: ClusterSpec,
    seconds: u64,
    /// Some(secs): nothing needs a reboot; measure the idle load for secs.
    steady: Option<u64>,
    bench: Option<String>,
    /// (sum, min, k) from --bench-floor
    floor: Option<(f64, f64, usize)>,
    prometheus: bool,
    bench_floor: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kured-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Ctrl-C must still run the cleanup: the kured processes are in their own
    // process groups and would not see the terminal's SIGINT.
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    let concurrency = opts.spec.concurrency as usize;
    let keep = opts.spec.keep_dir;
    let mut opts = opts;
    let prometheus = match opts.prometheus {
        true => match sim::http::TinyServer::start(|_| (200, "application/json".into(), sim::http::alerts_answer(&[])))
        {
            Ok(p) => {
                opts.spec.extra_kured_args.push(format!("--prometheus-url={}", p.url()));
                Some(p)
            }
            Err(e) => {
                eprintln!("kured-sim: cannot start the fake Prometheus: {e}");
                return ExitCode::from(1);
            }
        },
        false => None,
    };
    if opts.bench_floor {
        return match bench_run::floor(opts.spec, Duration::from_secs(opts.seconds)) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kured-sim: {e}");
                ExitCode::from(1)
            }
        };
    }
    let mut cluster = match Cluster::start(opts.spec) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kured-sim: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(real) = cluster.api().real() {
        println!("control plane: real, {} (ready in {:.1}s)", real.url(), real.startup().as_secs_f64());
    }
    println!("kubeconfig: {}", cluster.kubeconfig().display());
    println!("watch it:   kubectl --kubeconfig {} get nodes -w", cluster.kubeconfig().display());
    println!("logs:       {}/node-*/kured.log", cluster.dir().display());
    if !keep {
        println!("            (removed at the end unless the run fails; --keep keeps it)");
    }
    let mut timeline = Vec::new();
    // --bench keeps the timeline out of the way of its figures (kept on failure)
    let quiet = opts.bench.is_some();
    let mut show = |e: &dyn std::fmt::Display| {
        if !quiet {
            println!("{e}");
        }
        timeline.push(e.to_string());
    };
    for e in cluster.timeline() {
        show(&e);
    }
    if let Some(secs) = opts.steady {
        cluster.poll_until(
            Duration::from_secs(secs),
            |e| println!("{e}"),
            |c| c.all_dead() || STOP.load(Ordering::Relaxed),
        );
        print_load(&cluster, "steady state");
        return if cluster.all_dead() || STOP.load(Ordering::Relaxed) { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    let limit = Duration::from_secs(opts.seconds);
    let mut fleet_rss = bench_run::RssSampler::default();
    cluster.poll_until(
        limit,
        |e| show(e),
        |c| {
            fleet_rss.sample(c);
            c.settled() || c.all_dead() || STOP.load(Ordering::Relaxed)
        },
    );
    let summary = cluster.summary();
    let mut violations = summary.violations(concurrency);
    if STOP.load(Ordering::Relaxed) {
        violations.push("interrupted".into());
    }
    for v in &violations {
        eprintln!("INVARIANT BROKEN: {v}");
    }
    if violations.iter().any(|v| v.starts_with("not rebooted")) {
        eprintln!(
            "hint: a node that needs a reboot waits outside the maintenance window \
             (--reboot-days, --start-time, --end-time, --time-zone) and while a blocker holds it; \
             each node's kured.log says why (outside-the-window lines are logged with RUST_LOG=debug)"
        );
    }
    if !violations.is_empty() {
        eprintln!("{}", cluster.report());
        cluster.keep_dir_on_drop();
    }
    if keep || !violations.is_empty() {
        // kept with the kubeconfig and the logs: the timeline as printed, and the outcome
        timeline.push(summary.to_string());
        let _ = std::fs::write(cluster.dir().join("timeline.txt"), timeline.join("\n") + "\n");
    }
    print_load(&cluster, "rollout");
    if let Some(label) = &opts.bench {
        let queries = prometheus.as_ref().map(|p| p.received().len());
        print!("{}", bench_run::report(&cluster, label, opts.floor, queries, fleet_rss.max_kib));
    }
    // the summary line stays last, as the README and the scripts that read it expect
    println!("{summary}");
    if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_load(cluster: &Cluster, what: &str) {
    if std::env::var_os("KURED_SIM_REQUESTS").is_some() {
        // By kind, most first: where the API load goes.
        for (k, n) in sim::bench::by_kind(&cluster.api().requests(), 15) {
            println!("requests: {n:7} {k}");
        }
    }
    let (n, rate) = cluster.requests_per_node_hour();
    let period = &cluster.spec().period;
    println!("api_requests={n} per_node_per_hour={rate:.0} ({what}, --period={period} unless overridden)");
    println!("daemon_peak_rss_kib={}", cluster.daemon_peak_kib());
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let default_kured = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("kured")))
        .unwrap_or_else(|| PathBuf::from("kured"));
    let mut spec = ClusterSpec::new(default_kured);
    spec.nodes = 5;
    spec.workloads = true;
    let mut seconds = 120;
    let mut steady = None;
    let mut control_plane_nodes = 0usize;
    let (mut bench, mut floor, mut prometheus, mut bench_floor) = (None, None, false, false);
    let (mut arch, mut kured_given) = (None, false);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--nodes" => spec.nodes = number(&name, &value("a number")?)?,
            "--concurrency" => spec.concurrency = number(&name, &value("a number")?)?,
            "--seconds" => seconds = number(&name, &value("a number of seconds")?)?,
            "--steady-state" => steady = Some(number(&name, &value("a number of seconds")?)?),
            "--downtime" => {
                let v = value("a number of seconds")?;
                let s: f64 = v.parse().map_err(|_| format!("{name}: not a number of seconds: {v:?}"))?;
                if !(0.0..=3600.0).contains(&s) {
                    return Err(format!("{name}: out of range: {v}"));
                }
                spec.downtime = Duration::from_secs_f64(s);
            }
            "--control-plane" => spec.control_plane = value("fake or real")?.parse()?,
            "--control-plane-nodes" => control_plane_nodes = number(&name, &value("a number")?)?,
            "--kured" => (spec.kured_bin, kured_given) = (PathBuf::from(value("a path")?), true),
            "--arch" => arch = Some(value("aarch64 or armv7")?),
            "--workloads" => spec.workloads = inline.as_deref() != Some("false"),
            "--keep" => spec.keep_dir = true,
            "--install" => spec.install_command = Some(vec!["/bin/sh".into(), "-c".into(), value("a shell command")?]),
            "--bench" => bench = Some(inline.clone().unwrap_or_else(|| "kured".into())),
            "--bench-floor" => bench_floor = true,
            "--prometheus" => prometheus = true,
            "--floor" => {
                let v = value("SUM,MIN,K")?;
                let parts: Vec<&str> = v.split(',').collect();
                let bad = || format!("{name}: expected SUM,MIN,K (numbers), got {v:?}");
                let [sum, min, k] = parts[..] else { return Err(bad()) };
                floor = Some((
                    sum.parse().map_err(|_| bad())?,
                    min.parse().map_err(|_| bad())?,
                    k.parse().map_err(|_| bad())?,
                ));
            }
            _ if arg.starts_with("--") => spec.extra_kured_args.push(arg.clone()),
            _ => match spec.extra_kured_args.last() {
                // the value of a passed-through `--flag value`
                Some(prev) if prev.starts_with("--") && !prev.contains('=') => spec.extra_kured_args.push(arg.clone()),
                _ => return Err(format!("unexpected argument {arg:?}")),
            },
        }
    }
    if spec.nodes == 0 || spec.concurrency == 0 {
        return Err("--nodes and --concurrency must be at least 1".into());
    }
    if control_plane_nodes > spec.nodes {
        return Err(format!("--control-plane-nodes {control_plane_nodes} is more than --nodes {}", spec.nodes));
    }
    spec.control_plane_nodes = spec.node_names().into_iter().take(control_plane_nodes).collect();
    if let Some(arch) = arch {
        let (target, runner) = match arch.as_str() {
            "aarch64" => ("aarch64-unknown-linux-musl", "qemu-aarch64-static"),
            "armv7" => ("armv7-unknown-linux-musleabihf", "qemu-arm-static"),
            _ => return Err(format!("--arch: {arch:?} is not aarch64 or armv7")),
        };
        spec.kured_runner = vec![runner.into()];
        if !kured_given {
            // target/debug/kured-sim -> target/<target>/release/kured
            let target_dir = spec.kured_bin.parent().and_then(|d| d.parent()).unwrap_or(std::path::Path::new("target"));
            spec.kured_bin = target_dir.join(target).join("release/kured");
        }
    }
    if !spec.kured_bin.is_file() {
        return Err(format!("no kured binary at {} (use --kured PATH)", spec.kured_bin.display()));
    }
    if steady.is_some() {
        spec.no_reboot = spec.node_names();
    }
    Ok(Some(Options { spec, seconds, steady, bench, floor, prometheus, bench_floor }))
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{name}: not a number: {v:?}"))
}
