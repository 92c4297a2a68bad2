//! `kured`: parse flags into a Config, route SIGTERM/SIGINT to the stop flag,
//! build the real parts, run the loop, and map errors to exit codes (2 = usage,
//! 1 = fatal start-up error; 0 after a graceful stop).

use std::process::ExitCode;

use kured::config::{self, Command};
use kured::Error;

/// Environment lookups for config and the in-cluster set-up. A value that is
/// not UTF-8 is decoded lossily so it still counts as set (and then fails
/// validation with its name) rather than silently vanishing.
fn env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn fail(err: &Error) -> ExitCode {
    eprintln!("kured: {err}");
    if err.exit_code() == 2 {
        eprintln!("kured: run 'kured --help' for the list of flags");
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
}

fn run(config: config::Config) -> Result<(), Error> {
    let stop = kured::stop::Stop::new()?;
    stop.install_signal_handlers()?;
    // what the pod spec must give: said now, in its terms, not at the first reboot
    for warning in kured::preflight::check(&config, &env)? {
        log::warn!("{warning}");
    }
    let mut kube = kured::kube::KubeConfig::in_cluster(&env)?;
    kube.read_timeout = config.api_timeout;
    let client = kured::kube::Client::new(kube)?;
    kured::agent::run(config, client, stop)
}

fn main() -> ExitCode {
    let (command, warnings) = match config::parse_with_warnings(std::env::args_os().skip(1), env) {
        Ok(parsed) => parsed,
        Err(err) => return fail(&err),
    };
    let config = match command {
        Command::Help => {
            print!("{}", config::help_text());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("kured-rs {}", kured::VERSION);
            return ExitCode::SUCCESS;
        }
        Command::Run(config) => *config,
    };
    kured::logging::init(config.log_format.clone());
    log::info!("kured-rs {} starting: {}", kured::VERSION, config.summary());
    for warning in &warnings {
        log::warn!("{warning}");
    }
    if let Err(err) = kured::clock::apply_test_offset(&env) {
        return fail(&err);
    }
    let result = run(config);
    // No host command outlives the daemon: its leader would get SIGKILL from
    // the kernel (PR_SET_PDEATHSIG), but not the rest of its process group.
    kured::hostcmd::kill_running();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}
