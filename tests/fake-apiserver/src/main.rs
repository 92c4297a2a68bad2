//! `fake-apiserver`: the test server as a process, for trying kubectl or kured by
//! hand. `--dir DIR` writes `kubeconfig` and a `serviceaccount/` there; `--seed
//! FILE` creates the objects of a JSON array; runs until SIGINT/SIGTERM or `--seconds`
//! (default 3600: a forgotten server must not run forever).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fakeapi::{FakeApiServer, Options};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

struct Args {
    port: u16,
    dir: Option<PathBuf>,
    seed: Option<PathBuf>,
    seconds: u64,
}

/// How long the server runs without `--seconds`.
const DEFAULT_SECONDS: u64 = 3600;

const USAGE: &str = "usage: fake-apiserver [--port N] [--dir DIR] [--seed FILE.json] [--seconds N]
  --seconds N   stop after N seconds (default 3600; SIGINT/SIGTERM stop it sooner)";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args { port: 0, dir: None, seed: None, seconds: DEFAULT_SECONDS };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = value()?.parse().map_err(|_| "--port: not a port number".to_string())?,
            "--dir" => a.dir = Some(value()?.into()),
            "--seed" => a.seed = Some(value()?.into()),
            "--seconds" => a.seconds = value()?.parse().map_err(|_| "--seconds: not a number".to_string())?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn run(a: Args) -> Result<(), String> {
    let api = FakeApiServer::try_start(Options { port: a.port, ..Options::default() })
        .map_err(|e| format!("cannot start: {e}"))?;
    if let Some(seed) = &a.seed {
        let text = std::fs::read_to_string(seed).map_err(|e| format!("reading {}: {e}", seed.display()))?;
        let objs: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: not a JSON array: {e}", seed.display()))?;
        for o in objs {
            api.try_create(o).map_err(|e| format!("seeding {}: {e}", seed.display()))?;
        }
    }
    if let Some(dir) = &a.dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        api.write_kubeconfig(dir.join("kubeconfig")).map_err(|e| format!("writing kubeconfig: {e}"))?;
        api.write_service_account(dir.join("serviceaccount"), "kube-system")
            .map_err(|e| format!("writing service account: {e}"))?;
    }
    println!("{}", api.url());
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let end = Instant::now() + Duration::from_secs(a.seconds);
    while !STOP.load(Ordering::SeqCst) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn main() {
    let code = match parse(std::env::args().skip(1)) {
        Err(e) => {
            eprintln!("fake-apiserver: {e}");
            2
        }
        Ok(a) => match run(a) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("fake-apiserver: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}
