//! `kured-chaos`: a campaign of randomized rollouts with injected faults on the
//! simulated cluster (see `sim::chaos`). Prints each run as it ends, each failed
//! run's seed, reproduction and kept logs, the faults injected by kind, and last
//! the summary line. Exit status: 0 no run failed, 1 some did, 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use sim::backend::ControlPlaneKind;
use sim::chaos::{self, Plan, Totals};

const USAGE: &str = "usage: kured-chaos [--runs N] [--seed S] [--jobs J] [--control-plane fake|real] [--kured PATH] [--keep] [--print-plan]

Runs N randomized rollouts (default 30), J at a time (default 2), each drawn from
a seed: run 0 uses S (default: fresh, printed), the others seeds derived from S.
A failed run prints its seed and `scripts/chaos --runs 1 --seed SEED`, and keeps
its directory (kured logs, plan.txt, timeline.txt). --print-plan prints the runs'
plans and exits without running them. --keep keeps every run's directory.
--control-plane real runs on a real control plane (scripts/control-plane; needs Go),
one run at a time, without the API-level faults (errors, resets, slow answers, answers
later than kured's --api-timeout, 409s, unreachable), which only the fake server
injects; they are listed as planned but not injected.
The last line is:
runs=N failed=F lock_violations=L pdb_violations=P left_cordoned=C crashes=X stranded=S seed=S0";

struct Options {
    runs: u64,
    seed: u64,
    jobs: u64,
    kured: PathBuf,
    keep: bool,
    print_plan: bool,
    control_plane: ControlPlaneKind,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    let o = match parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kured-chaos: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if o.print_plan {
        for i in 0..o.runs {
            print!("{}", Plan::generate(chaos::run_seed(o.seed, i)));
        }
        return ExitCode::SUCCESS;
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    let jobs = if o.control_plane == ControlPlaneKind::Real { 1 } else { o.jobs };
    let cp = match o.control_plane {
        ControlPlaneKind::Fake => "fake API server",
        ControlPlaneKind::Real => "real (one run at a time; API-level faults not injectable)",
    };
    println!("chaos campaign: {} runs, {jobs} at a time, seed {} (control plane: {cp})", o.runs, o.seed);
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for _ in 0..jobs.min(o.runs) {
        let (next, tx, kured, keep, runs, seed, kind) =
            (next.clone(), tx.clone(), o.kured.clone(), o.keep, o.runs, o.seed, o.control_plane);
        workers.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= runs || STOP.load(Ordering::Relaxed) {
                return;
            }
            let plan = Plan::generate(chaos::run_seed(seed, i));
            // A harness panic is this run's failure, not the campaign's end (the
            // cluster's processes are stopped as it unwinds; debug builds unwind).
            let started = Instant::now();
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chaos::run::run(&plan, &kured, keep, kind)))
                    .unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                        chaos::run::RunResult::harness_panic(plan.seed, why.unwrap_or_default(), started.elapsed())
                    });
            if tx.send((i, plan, result)).is_err() {
                return;
            }
        }));
    }
    drop(tx);
    let mut totals = Totals::new(o.seed);
    for (i, plan, r) in rx {
        let faults: Vec<&str> = r.injected.keys().copied().collect();
        let status = if r.failed() { "FAILED" } else { "ok" };
        println!(
            "run {i:>3} seed={} {status} {:.1}s  {} nodes c={}  faults: {}",
            r.seed,
            r.elapsed.as_secs_f64(),
            plan.nodes,
            plan.concurrency,
            if faults.is_empty() { "none".to_string() } else { faults.join(",") }
        );
        if r.failed() {
            for p in &r.problems {
                println!("    {p}");
            }
            println!("    reproduce: scripts/chaos --runs 1 --seed {}", r.seed);
            if let Some(dir) = &r.kept {
                println!("    logs and timeline: {}/ (plan.txt, timeline.txt, node-*/kured.log)", dir.display());
            }
        }
        totals.add(&r);
    }
    for w in workers {
        let _ = w.join();
    }
    println!("{}", totals.faults_line());
    println!("elapsed {:.0}s", started.elapsed().as_secs_f64());
    if STOP.load(Ordering::Relaxed) {
        println!("interrupted");
    }
    println!("{totals}");
    if totals.failed > 0 || STOP.load(Ordering::Relaxed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let default_kured = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("kured")))
        .unwrap_or_else(|| PathBuf::from("kured"));
    let mut o = Options {
        runs: 30,
        seed: fresh_seed(),
        jobs: 2,
        kured: default_kured,
        keep: false,
        print_plan: false,
        control_plane: ControlPlaneKind::Fake,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value =
            |what: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs {what}"));
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--runs" => o.runs = number(&name, &value("a number")?)?,
            "--seed" => o.seed = number(&name, &value("a number")?)?,
            "--jobs" => o.jobs = number(&name, &value("a number")?)?,
            "--kured" => o.kured = PathBuf::from(value("a path")?),
            "--control-plane" => o.control_plane = value("fake or real")?.parse()?,
            "--keep" => o.keep = true,
            "--print-plan" => o.print_plan = true,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if o.runs == 0 || o.jobs == 0 {
        return Err("--runs and --jobs must be at least 1".into());
    }
    if !o.print_plan && !o.kured.is_file() {
        return Err(format!("no kured binary at {} (use --kured PATH)", o.kured.display()));
    }
    Ok(Some(o))
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{name}: not a number: {v:?}"))
}

/// A seed nobody chose: the clock's nanoseconds and our pid, mixed.
fn fresh_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    chaos::rng::mix(nanos ^ (u64::from(std::process::id()) << 32)) % 1_000_000_000
}
