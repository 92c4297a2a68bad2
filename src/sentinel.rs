//! "Is a reboot required?": a file's existence (`--reboot-sentinel`), a
//! command's exit code (`--reboot-sentinel-command`, run in the host's mount
//! namespace), or an OS family's own check (`--reboot-sentinel-preset`, see
//! [`preset`]; `auto` picks one from the host's os-release, see [`auto`]). A
//! check that cannot be made is an error, not "no reboot needed"; only a
//! sentinel command that runs and answers oddly is read as "no", as upstream
//! does (a preset's odd answer is an error: it knows what its tool says).
//!
//! A command (sentinel or preset) is bounded by [`command_timeout`]: past it,
//! its process group is killed and reaped, and the answer is "cannot tell"
//! (an error), never "reboot required". A sentinel path that is a directory
//! counts as "reboot required", as upstream (which only stats it), with one
//! warning.

pub mod auto;
pub mod hostfs;
pub mod osrelease;
pub mod preset;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::argv::display_argv;
use crate::config::{OsFamily, SentinelSpec};
use crate::error::{Error, Result};
use crate::hostcmd::{self, Output};

use preset::{Probe, Reading};

#[derive(Debug, Clone)]
enum Check {
    File(PathBuf),
    Command(Vec<String>),
    Family(OsFamily),
    /// The family is read from the host at the first check that can read it,
    /// then kept (shared by clones).
    Auto {
        fallback: Box<Check>,
        resolved: Arc<Mutex<Option<Check>>>,
    },
}

impl Check {
    fn from_spec(spec: &SentinelSpec) -> Check {
        match spec {
            SentinelSpec::File(path) => Check::File(PathBuf::from(path)),
            SentinelSpec::Command(argv) => Check::Command(argv.clone()),
            SentinelSpec::Preset(family) => Check::Family(*family),
            SentinelSpec::Auto(fallback) => {
                Check::Auto { fallback: Box::new(Check::from_spec(fallback)), resolved: Arc::default() }
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Check::File(path) => format!("the file {} (--reboot-sentinel)", path.display()),
            Check::Command(argv) => {
                format!("the command {:?} (--reboot-sentinel-command)", display_argv(argv))
            }
            Check::Family(family) => format!("the {} preset", family.name()),
            Check::Auto { .. } => "auto".to_string(),
        }
    }
}

/// Where the "reboot required" answer comes from.
#[derive(Debug, Clone)]
pub struct Sentinel {
    check: Check,
    host_pid: i32,
    timeout: Option<Duration>,
    /// the directory warning was given (shared by clones: once per process)
    warned_dir: Arc<AtomicBool>,
}

/// The most a sentinel command may run: the smaller of the period and 60 s.
/// It answers a yes/no question every period; one that takes longer is hung,
/// and the next period asks again.
pub fn command_timeout(period: Duration) -> Duration {
    period.min(Duration::from_secs(60))
}

impl Sentinel {
    /// `timeout` bounds a sentinel command (None = wait forever, as upstream).
    pub fn new(spec: &SentinelSpec, host_pid: i32, timeout: Option<Duration>) -> Sentinel {
        Sentinel { check: Check::from_spec(spec), host_pid, timeout, warned_dir: Arc::default() }
    }

    pub fn reboot_required(&self) -> Result<bool> {
        self.run(&self.check)
    }

    /// The family `auto` settled on (None: not auto, not yet read, or the
    /// fallback). For tests and the log.
    #[cfg(any(test, feature = "test-support"))]
    pub fn auto_family(&self) -> Option<OsFamily> {
        match &self.check {
            Check::Auto { resolved, .. } => match &*resolved.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(Check::Family(family)) => Some(*family),
                _ => None,
            },
            _ => None,
        }
    }

    fn run(&self, check: &Check) -> Result<bool> {
        match check {
            Check::File(path) => self.file(path, "check --reboot-sentinel"),
            Check::Command(argv) => {
                let output = self.command(argv)?;
                Ok(verdict_to_bool(argv, &output))
            }
            Check::Family(family) => self.family(*family),
            Check::Auto { fallback, resolved } => {
                let chosen = {
                    let mut slot = resolved.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        let detected = auto::detect(self.host_pid)?;
                        auto::log_choice(&detected, &fallback.describe());
                        *slot = Some(detected.family.map_or_else(|| (**fallback).clone(), Check::Family));
                    }
                    slot.clone().expect("set just above")
                };
                self.run(&chosen)
            }
        }
    }

    fn file(&self, path: &Path, hint: &str) -> Result<bool> {
        let found = file_kind(path)?;
        if found == Found::Directory && !self.warned_dir.swap(true, Ordering::Relaxed) {
            log::warn!(
                "reboot sentinel {} is a directory, not a file: counting it as \"reboot required\" as upstream does; {hint}",
                path.display()
            );
        }
        Ok(found != Found::Absent)
    }

    /// Run `argv` on the host; a command past its timeout is an error.
    fn command(&self, argv: &[String]) -> Result<Output> {
        let output = hostcmd::run_in_host_with_timeout(argv, self.host_pid, self.timeout)?;
        if output.timed_out {
            return Err(Error::CommandFailed {
                command: display_argv(argv),
                status: format!(
                    "no answer within {:?}, killed with its process group",
                    self.timeout.unwrap_or_default()
                ),
                stdout: output.stdout,
                stderr: output.stderr,
            });
        }
        Ok(output)
    }

    fn family(&self, family: OsFamily) -> Result<bool> {
        match preset::probe(family) {
            // the host's own file system, as its init sees it
            Probe::HostFile(path) => {
                let hint = format!("check the {} preset", family.name());
                let root = PathBuf::from(format!("/proc/{}/root", self.host_pid));
                self.file(&hostfs::resolve_in_root(&root, Path::new(path))?, &hint)
            }
            Probe::Command { argv, reading } => {
                let argv: Vec<String> = argv.iter().map(|w| w.to_string()).collect();
                let output = self.command(&argv)?;
                answer(family, reading, &argv, output)
            }
        }
    }
}

fn answer(family: OsFamily, reading: Reading, argv: &[String], output: Output) -> Result<bool> {
    preset::read_answer(reading, output.code, &output.stdout, &output.stderr).map_err(|why| Error::CommandFailed {
        command: display_argv(argv),
        status: format!("{why}: the {} preset cannot tell whether a reboot is needed", family.name()),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    File,
    Directory,
}

/// `stat` semantics (a dangling symlink is "absent"), but only "does not exist"
/// means no: a permission error must not quietly mean "no reboot needed".
fn file_kind(path: &Path) -> Result<Found> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(Found::Directory),
        Ok(_) => Ok(Found::File),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Absent),
        // a path component is a plain file: the sentinel cannot exist either
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Found::Absent),
        Err(source) => Err(Error::Io {
            what: "cannot check reboot sentinel".to_string(),
            path: path.display().to_string(),
            source,
        }),
    }
}

/// What a sentinel command's exit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Required,
    NotRequired,
    /// neither 0 nor 1 (or killed): upstream warns and treats it as "not required"
    Unexpected,
}

fn interpret(code: Option<i32>, timed_out: bool) -> Verdict {
    match (timed_out, code) {
        (false, Some(0)) => Verdict::Required,
        (false, Some(1)) => Verdict::NotRequired,
        _ => Verdict::Unexpected,
    }
}

fn verdict_to_bool(argv: &[String], output: &Output) -> bool {
    match interpret(output.code, output.timed_out) {
        Verdict::Required => true,
        Verdict::NotRequired => false,
        Verdict::Unexpected => {
            log::warn!(
                "reboot sentinel command {:?} gave {}, assuming no reboot is required; stdout: {:?}; stderr: {:?}",
                display_argv(argv),
                output.status_text(),
                output.stdout.trim_end(),
                output.stderr.trim_end()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{interpret, Verdict};

    #[track_caller]
    fn case(code: Option<i32>, timed_out: bool, want: Verdict) {
        assert_eq!(interpret(code, timed_out), want, "code {code:?} timed_out {timed_out}");
    }

    #[test]
    fn command_timeouts() {
        use super::command_timeout;
        use std::time::Duration;
        assert_eq!(command_timeout(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(command_timeout(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn interprets_exit_codes() {
        case(Some(0), false, Verdict::Required);
        case(Some(1), false, Verdict::NotRequired);
        case(Some(2), false, Verdict::Unexpected);
        case(Some(127), false, Verdict::Unexpected);
        case(Some(-1), false, Verdict::Unexpected);
        case(None, false, Verdict::Unexpected);
        case(None, true, Verdict::Unexpected);
        case(Some(0), true, Verdict::Unexpected);
    }
}
