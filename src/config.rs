//! The command line, upstream-compatible: every kured flag, parsed with lexopt from
//! any iterator (so tests need no process), bound to `KURED_<FLAG>` environment
//! variables (the environment wins, as upstream), then validated into [`Config`].
//! After this module no code handles raw flag strings.

mod checks;
mod duration;
mod flags;
mod gotext;
mod help;
mod selector;
mod summary;
#[cfg(test)]
mod tests;
mod validate;
#[cfg(test)]
mod validate_tests;

use std::time::Duration;

use crate::error::Result;
use crate::window::Schedule;

pub use duration::{format_duration, parse_duration};
pub use flags::env_name;
pub use help::help_text;

/// How the node is rebooted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebootMethod {
    /// Run `reboot_command` in the host's mount namespace.
    Command,
    /// Send `reboot_signal` to `host_pid`.
    Signal,
}

/// Where the "reboot required" answer comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentinelSpec {
    /// The file exists (checked through `/proc/<host-pid>/root` is NOT done: the
    /// DaemonSet mounts the host's /var/run, as upstream).
    File(String),
    /// argv of a command run in the host's mount namespace: exit 0 = needed.
    Command(Vec<String>),
    /// One OS family's own check (`--reboot-sentinel-preset=<family>`).
    Preset(OsFamily),
    /// `--reboot-sentinel-preset=auto`: the family named by the host's
    /// os-release, or else this (upstream's file or command sentinel).
    Auto(Box<SentinelSpec>),
}

/// A family of node OSes that shares one way of saying "reboot needed"
/// (the checks themselves are in `sentinel/preset.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsFamily {
    Debian,
    Rhel,
    Suse,
    Transactional,
    RpmOstree,
    Flatcar,
}

impl OsFamily {
    pub const ALL: [OsFamily; 6] = [
        OsFamily::Debian,
        OsFamily::Rhel,
        OsFamily::Suse,
        OsFamily::Transactional,
        OsFamily::RpmOstree,
        OsFamily::Flatcar,
    ];

    /// The `--reboot-sentinel-preset` value naming this family.
    pub fn name(self) -> &'static str {
        match self {
            OsFamily::Debian => "debian",
            OsFamily::Rhel => "rhel",
            OsFamily::Suse => "suse",
            OsFamily::Transactional => "transactional",
            OsFamily::RpmOstree => "rpm-ostree",
            OsFamily::Flatcar => "flatcar",
        }
    }

    pub fn from_name(name: &str) -> Option<OsFamily> {
        OsFamily::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The message templates of the notifications sent for what went wrong, each
/// beside a Warning Event: `%s` the node, then `%s` what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningTemplates {
    pub reboot_failed: String,
    pub reboot_loop: String,
    pub drain_failed: String,
    pub stale_lock: String,
    pub lock_lost: String,
}

impl WarningTemplates {
    /// The template for a Warning Event's reason (None: not notified).
    pub fn for_reason(&self, reason: &str) -> Option<&str> {
        Some(match reason {
            "RebootFailed" => &self.reboot_failed,
            "RebootLoop" => &self.reboot_loop,
            "DrainFailed" | "DrainGaveWay" => &self.drain_failed,
            "StaleLockBroken" => &self.stale_lock,
            "LockLost" => &self.lock_lost,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: String,
    pub period: Duration,
    pub sentinel: SentinelSpec,
    pub reboot_method: RebootMethod,
    /// argv, shell-lexed from `--reboot-command`
    pub reboot_command: Vec<String>,
    pub reboot_signal: i32,
    /// The process whose mount namespace commands enter and which the signal
    /// method signals. Upstream hard-codes 1.
    pub host_pid: i32,
    pub reboot_delay: Duration,
    /// After the reboot command, how long to wait for the boot ID to change
    /// before the reboot counts as failed; None = wait forever (as upstream).
    pub reboot_timeout: Option<Duration>,
    /// Stop rebooting after this many consecutive confirmed reboots that left
    /// the sentinel set; 0 = no limit (as upstream).
    pub reboot_loop_limit: u32,
    /// Also stop once this many confirmed reboots fall within this window,
    /// whenever the sentinel reappeared; None = only reboots in a row count.
    pub reboot_loop_window: Option<Duration>,
    pub force_reboot: bool,
    pub drain_delay: Duration,
    /// None = wait forever
    pub drain_timeout: Option<Duration>,
    /// A drain refused only by PodDisruptionBudgets this long gives way to an
    /// earlier lock holder; None = never (as upstream).
    pub drain_stall_timeout: Option<Duration>,
    /// None = the pod's own grace period
    pub drain_grace_period: Option<i64>,
    pub drain_pod_selector: String,
    /// None = wait for every pod
    pub skip_wait_for_delete_timeout: Option<Duration>,
    pub ds_namespace: String,
    pub ds_name: String,
    pub lock_annotation: String,
    /// None = a lock never expires
    pub lock_ttl: Option<Duration>,
    pub lock_release_delay: Duration,
    /// Zero = no release gate (upstream's behaviour).
    pub release_gate_timeout: Duration,
    pub concurrency: u32,
    /// Control-plane nodes take the lock one at a time, and only while every
    /// other one is Ready (`--control-plane-quorum-guard`).
    pub control_plane_quorum_guard: bool,
    /// `--control-plane-settle`: how long the other control-plane nodes must
    /// have been Ready (zero = Ready is enough).
    pub control_plane_settle: Duration,
    /// `--control-plane-selector`: further control-plane nodes (empty = only the role labels).
    pub control_plane_selector: String,
    /// `--control-plane-order`.
    pub control_plane_order: crate::controlplane::Order,
    /// The whole-request timeout of the Kubernetes API client (not of watches,
    /// which have their own bound beyond their `timeoutSeconds`).
    pub api_timeout: Duration,
    pub prometheus_url: Option<String>,
    /// `--prometheus-query`: PromQL asked of `prometheus_url`; a non-empty result blocks.
    pub prometheus_queries: Vec<String>,
    /// `--alertmanager-url`: alerts silenced there do not block.
    pub alertmanager_url: Option<String>,
    pub alert_filter: Option<regex_lite::Regex>,
    pub alert_filter_match_only: bool,
    pub alert_firing_only: bool,
    pub blocking_pod_selectors: Vec<String>,
    pub prefer_no_schedule_taint: Option<String>,
    pub annotate_nodes: bool,
    pub pre_reboot_node_labels: Vec<(String, String)>,
    pub post_reboot_node_labels: Vec<(String, String)>,
    /// `--maintenance-window`s, or else upstream's --reboot-days/--start-time/--end-time/--time-zone.
    pub window: Schedule,
    /// Resolved notification URLs (each --notify-url, or converted --slack-hook-url)
    pub notify_urls: Vec<String>,
    /// Notifications for what went wrong (`--message-template-<event>`).
    pub warning_templates: WarningTemplates,
    pub slack_username: String,
    pub slack_channel: String,
    pub message_template_drain: String,
    pub message_template_reboot: String,
    pub message_template_uncordon: String,
    pub metrics_host: String,
    pub metrics_port: u16,
    pub log_format: LogFormat,
}

/// What the command line asked for: run, or print help/version and exit 0.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

/// Parse `args` (without argv[0]) and the environment (`env` lookups) into a Command.
pub fn parse<I, S, E>(args: I, env: E) -> Result<Command>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
    E: Fn(&str) -> Option<String>,
{
    parse_with_warnings(args, env).map(|(command, _)| command)
}

/// As [`parse`], plus warnings about accepted but doubtful settings (deprecated
/// --slack-hook-url, pre/post label keys that differ), for `main` to log once
/// logging is set up.
pub fn parse_with_warnings<I, S, E>(args: I, env: E) -> Result<(Command, Vec<String>)>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
    E: Fn(&str) -> Option<String>,
{
    match flags::parse_raw(args, env)? {
        flags::Parsed::Help => Ok((Command::Help, Vec::new())),
        flags::Parsed::Version => Ok((Command::Version, Vec::new())),
        flags::Parsed::Run(raw) => {
            let (config, warnings) = validate::validate(&raw)?;
            Ok((Command::Run(Box::new(config)), warnings))
        }
    }
}
