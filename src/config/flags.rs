//! The flag table (upstream's 43 flags plus `--api-timeout`, the three `--control-plane-*`, `--drain-stall-timeout`,
//! `--host-pid`, `--maintenance-window`, `--reboot-loop-limit`, `--reboot-loop-window`, `--reboot-sentinel-preset`, `--reboot-timeout` and
//! `--release-gate-timeout`) and the first stage of
//! parsing: command line (pflag syntax, via lexopt) then `KURED_*` environment
//! into [`RawFlags`]: values syntactically checked (bool, int, duration, regexp,
//! CSV) and remembered with where they came from, so later errors can name the
//! flag or the environment variable.

use std::ffi::OsString;
use std::time::Duration;

use super::duration::parse_duration;
use super::gotext::{parse_bool, parse_int, split_csv};
use crate::error::{Error, Result};

/// A flag's Go type, as pflag names it in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int,
    Duration,
    /// pflag `stringSlice`: CSV-split, repeats append
    Strings,
    /// pflag `stringArray`: each value whole, repeats append
    StringArray,
    Regexp,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Bool => "",
            Kind::Int => "int",
            Kind::Duration => "duration",
            Kind::Strings => "strings",
            Kind::StringArray => "stringArray",
            Kind::Regexp => "regexp",
        }
    }
}

pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    /// In the flag's own syntax (CSV for slices); parsed like any value.
    pub default: &'static str,
    pub help: &'static str,
}

const fn f(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Spec {
    Spec { name, kind, default, help }
}

use Kind::*;

/// Every flag, sorted by name as pflag prints them.
pub const FLAGS: &[Spec] = &[
    f("alert-filter-match-only", Bool, "false", "only block if --alert-filter-regexp matches an active alert"),
    f("alert-filter-regexp", Regexp, "", "alert names to ignore when checking for active alerts"),
    f("alert-firing-only", Bool, "false", "only consider firing alerts when checking for active alerts"),
    f("alertmanager-url", Str, "", "Alertmanager whose silences apply: an alert from --prometheus-url that is silenced there does not block (an Alertmanager that cannot answer blocks; kured-rs only)"),
    f("annotate-nodes", Bool, "false", "annotate nodes with weave.works/kured-reboot-in-progress and weave.works/kured-most-recent-reboot-needed"),
    f("api-timeout", Duration, "30s", "give up on a Kubernetes API request not answered in full after this long, and retry later (1s to 1m; not watches, which end after their own timeoutSeconds; kured-rs only)"),
    f("blocking-pod-selector", StringArray, "", "label selector of pods whose presence on this node blocks reboots (repeatable; commas inside are AND)"),
    f("concurrency", Int, "1", "how many nodes may reboot at the same time"),
    f("control-plane-order", Str, "any", "reboot control-plane nodes before the workers (first), after them (last) or in any order (any); a node held back by the order goes ahead anyway after 12 periods, with a warning (kured-rs only)"),
    f("control-plane-quorum-guard", Bool, "true", "a control-plane node takes the lock only when no other control-plane node holds it and every other one is Ready, whatever --concurrency says (kured-rs only)"),
    f("control-plane-selector", Str, "", "label selector of further control-plane nodes, besides those labelled node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master (kured-rs only)"),
    f("control-plane-settle", Duration, "2m", "a control-plane node takes the lock, and runs its reboot command, only once every other control-plane node has been Ready this long (from its Ready condition's lastTransitionTime: etcd rejoins after kubelet reports Ready; 0 = Ready is enough; kured-rs only)"),
    f("drain-delay", Duration, "0", "wait this long before draining"),
    f("drain-grace-period", Int, "-1", "seconds given to each pod to terminate; negative = the pod's own"),
    f("drain-pod-selector", Str, "", "only drain pods matching this label selector (empty = all pods)"),
    f("drain-stall-timeout", Duration, "1m", "when every pod left on the node has been refused eviction by PodDisruptionBudgets for this long and another node took the lock earlier, give way: uncordon, release the lock and wait until that node is done (breaks the deadlock of nodes draining at once whose budgets wait on each other; 0 = never, as upstream; kured-rs only)"),
    f("drain-timeout", Duration, "0", "abort the drain after this long (0 = no limit)"),
    f("ds-name", Str, "kured", "name of the daemonset that carries the lock"),
    f("ds-namespace", Str, "kube-system", "namespace of the daemonset that carries the lock"),
    f("end-time", Str, "23:59:59", "reboot only before this time of day"),
    f("force-reboot", Bool, "false", "reboot even if the drain fails or times out"),
    f("host-pid", Int, "1", "process whose mount namespace host commands enter and which --reboot-method=signal signals (kured-rs only)"),
    f("lock-annotation", Str, "weave.works/kured-node-lock", "annotation that records the lock holder"),
    f("lock-release-delay", Duration, "0", "wait this long before releasing the lock after a reboot"),
    f("lock-ttl", Duration, "0", "a lock older than this is free (0 = never expires)"),
    f("log-format", Str, "text", "log format: text or json"),
    f("maintenance-window", StringArray, "", "a window in which reboots may happen: \"<days> <start>-<end> [<zone>]\", e.g. \"mon-fri 03:00-05:00 Europe/Berlin\", \"2nd tue+1 03:00-05:00 UTC\" (the Wednesday after Patch Tuesday), \"last sun 22:00-02:00\"; days: mon, mon-fri, daily, or 1st/2nd/3rd/4th/last <weekday>[+N|-N]; an end before the start closes the next day; zone as --time-zone, default UTC; repeatable (or several separated by ;): the node is in the window when any contains now; replaces --reboot-days, --start-time, --end-time and --time-zone (kured-rs only)"),
    f("message-template-drain", Str, "Draining node %s", "notification sent before draining (%s = node)"),
    f("message-template-drain-failed", Str, "Drain of node %s did not finish: %s", "notification sent when a drain times out or gives way to another node (%s = node, then what happened; kured-rs only)"),
    f("message-template-lock-lost", Str, "Node %s lost the reboot lock: %s", "notification sent when this node's lock entry was taken or broken before its reboot (%s = node, then what happened; kured-rs only)"),
    f("message-template-reboot", Str, "Rebooting node %s", "notification sent before rebooting (%s = node)"),
    f("message-template-reboot-failed", Str, "Reboot of node %s failed: %s", "notification sent when the reboot command fails or the node did not come back within --reboot-timeout (%s = node, then what happened; kured-rs only)"),
    f("message-template-reboot-loop", Str, "Node %s stopped rebooting: %s", "notification sent when the reboot-loop guard stops rebooting this node (%s = node, then what happened; kured-rs only)"),
    f("message-template-stale-lock", Str, "kured on node %s broke a stale lock: %s", "notification sent when this node breaks the lock entry of a node that is gone (%s = node, then what happened; kured-rs only)"),
    f("message-template-uncordon", Str, "Node %s rebooted & uncordoned successfully!", "notification sent after uncordoning (%s = node)"),
    f("metrics-host", Str, "", "address the metrics server listens on (empty = all)"),
    f("metrics-port", Int, "8080", "port of the /metrics server"),
    f("node-id", Str, "", "node this pod runs on, a Kubernetes node name (required; normally KURED_NODE_ID from spec.nodeName)"),
    f("notify-url", StringArray, "", "notification URL, shoutrrr syntax: slack, teams (or a Teams Workflows https:// URL as it is), discord, telegram, mattermost, rocketchat, googlechat, gotify, ntfy, generic(+http), smtp; repeatable: every message goes to each (one failing does not stop the others)"),
    f("period", Duration, "1h", "how often to check the reboot sentinel"),
    f("post-reboot-node-labels", Strings, "", "key=value labels set on the node after uncordoning"),
    f("pre-reboot-node-labels", Strings, "", "key=value labels set on the node before cordoning"),
    f("prefer-no-schedule-taint", Str, "", "taint (effect PreferNoSchedule) set while this node waits to reboot (empty = none)"),
    f("prometheus-query", StringArray, "", "PromQL instant query asked of --prometheus-url each check: a non-empty result (or a non-zero scalar) blocks reboots, naming the series (repeatable; an answer that cannot be read blocks; kured-rs only)"),
    f("prometheus-url", Str, "", "Prometheus to ask for active alerts (empty = none)"),
    f("reboot-command", Str, "/bin/systemctl reboot", "command run in the host's mount namespace to reboot"),
    f("reboot-days", Strings, "su,mo,tu,we,th,fr,sa", "days on which reboots may happen"),
    f("reboot-delay", Duration, "0", "wait this long after draining before rebooting"),
    f("reboot-loop-limit", Int, "3", "stop rebooting this node after this many reboots in a row that left the sentinel set (0 = no limit; kured-rs only)"),
    f("reboot-loop-window", Duration, "6h", "also stop rebooting this node once it rebooted --reboot-loop-limit times within this window, whenever the sentinel reappears (0 = count only reboots in a row; kured-rs only)"),
    f("reboot-method", Str, "command", "how to reboot: command or signal"),
    f("reboot-sentinel", Str, "/var/run/reboot-required", "file whose existence means a reboot is needed"),
    f("reboot-sentinel-command", Str, "", "command whose exit code 0 means a reboot is needed (replaces --reboot-sentinel; killed after the smaller of --period and 60s)"),
    f("reboot-sentinel-preset", Str, "file", "how to tell that this node needs a reboot: file (--reboot-sentinel or --reboot-sentinel-command, as upstream), auto (pick from the host's /etc/os-release; an unknown OS uses file), debian (/var/run/reboot-required), rhel (needs-restarting -r), suse (zypper needs-rebooting), transactional (/run/reboot-needed), rpm-ostree (rpm-ostree status --pending-exit-77) or flatcar (update_engine_client -status); checks run in the host's mount namespace (kured-rs only)"),
    f("reboot-signal", Int, "39", "signal sent to the host's init with --reboot-method=signal (SIGRTMIN+5)"),
    f("reboot-timeout", Duration, "30m", "after the reboot command, give up (uncordon, release the lock, retry later) if the node's boot ID has not changed after this long (0 = wait forever; kured-rs only)"),
    f("release-gate-timeout", Duration, "10m", "after a reboot, release the lock only once the node is Ready and the PodDisruptionBudgets of its drained pods allow disruptions again, waiting at most this long (0 = release at once, as upstream; kured-rs only)"),
    f("skip-wait-for-delete-timeout", Int, "0", "when > 0, stop waiting for pods deleted more than this many seconds ago"),
    f("slack-channel", Str, "", "slack channel for notifications"),
    f("slack-hook-url", Str, "", "slack hook URL [deprecated: use --notify-url]"),
    f("slack-username", Str, "kured", "slack username for notifications"),
    f("start-time", Str, "0:00", "reboot only after this time of day"),
    f("time-zone", Str, "UTC", "time zone of --start-time and --end-time (IANA name or Local)"),
];

/// A value after its syntax was checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Duration(Duration),
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    Flag,
    Env,
}

/// The name of the environment variable bound to a flag.
pub fn env_name(flag: &str) -> String {
    format!("KURED_{}", flag.to_ascii_uppercase().replace('-', "_"))
}

/// Every flag's value and where it came from, index-parallel to [`FLAGS`].
#[derive(Debug)]
pub struct RawFlags {
    values: Vec<(Value, Origin)>,
    /// Positional arguments: pflag ignores them, so an upstream manifest
    /// carrying one still starts; validation turns them into warnings.
    pub ignored: Vec<String>,
}

/// What the command line asked for before validation.
pub enum Parsed {
    Run(RawFlags),
    Help,
    Version,
}

fn usage_value(source: &str, value: &str, reason: &str) -> Error {
    // A 100 KB value must not make a 100 KB message: show its start and length.
    const SHOWN: usize = 200;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => {
            Error::Usage(format!("invalid value {:?}... ({} bytes) for {source}: {reason}", &value[..cut], value.len()))
        }
        None => Error::Usage(format!("invalid value {value:?} for {source}: {reason}")),
    }
}

/// Check one value's syntax. `from_env` picks upstream's env rules for ints.
fn parse_value(kind: Kind, text: &str, from_env: bool) -> std::result::Result<Value, String> {
    Ok(match kind {
        Str => Value::Str(text.to_string()),
        Bool => Value::Bool(parse_bool(text)?),
        Int => Value::Int(parse_int(text, !from_env)?),
        Duration => Value::Duration(parse_duration(text)?),
        Strings => Value::List(split_csv(text)?),
        // pflag keeps a stringArray value whole; an empty one adds nothing
        // (an empty label selector would match every pod).
        StringArray => Value::List(if text.is_empty() { Vec::new() } else { vec![text.to_string()] }),
        Regexp => {
            regex_lite::Regex::new(text).map_err(|e| format!("bad regular expression: {e}"))?;
            Value::Str(text.to_string())
        }
    })
}

impl RawFlags {
    fn defaults() -> RawFlags {
        let values = FLAGS
            .iter()
            .map(|s| {
                // Defaults are constants checked by a unit test.
                let v = parse_value(s.kind, s.default, false).unwrap_or(Value::Str(String::new()));
                (v, Origin::Default)
            })
            .collect();
        RawFlags { values, ignored: Vec::new() }
    }

    /// Set from the command line: slices append after their first use (which
    /// replaces the default), everything else is last-wins.
    fn set_flag(&mut self, i: usize, text: &str) -> Result<()> {
        let spec = &FLAGS[i];
        let value =
            parse_value(spec.kind, text, false).map_err(|why| usage_value(&format!("--{}", spec.name), text, &why))?;
        let slot = &mut self.values[i];
        match (&mut slot.0, value, slot.1) {
            (Value::List(old), Value::List(new), Origin::Flag) => old.extend(new),
            (_, value, _) => slot.0 = value,
        }
        slot.1 = Origin::Flag;
        Ok(())
    }

    /// Set from `KURED_*`: the environment wins over the command line, for
    /// slices too (upstream appends an env slice to command-line values, which
    /// is surprising; here the env value replaces them).
    fn set_env(&mut self, i: usize, var: &str, text: &str) -> Result<()> {
        let value = parse_value(FLAGS[i].kind, text, true).map_err(|why| usage_value(var, text, &why))?;
        self.values[i] = (value, Origin::Env);
        Ok(())
    }

    fn index(name: &str) -> Option<usize> {
        FLAGS.iter().position(|s| s.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        Self::index(name).map(|i| &self.values[i].0)
    }

    /// How to name where a flag's value came from in an error message.
    pub fn source(&self, name: &str) -> String {
        match Self::index(name).map(|i| self.values[i].1) {
            Some(Origin::Env) => env_name(name),
            _ => format!("--{name}"),
        }
    }

    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        }
    }
    pub fn duration(&self, name: &str) -> Duration {
        match self.get(name) {
            Some(Value::Duration(d)) => *d,
            _ => Duration::ZERO,
        }
    }
    pub fn list(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(Value::List(l)) => l,
            _ => &[],
        }
    }

    /// The value came from the command line or the environment, not the default.
    pub fn is_set(&self, name: &str) -> bool {
        Self::index(name).is_some_and(|i| self.values[i].1 != Origin::Default)
    }

    /// A usage error about this flag's value, naming its source.
    pub fn invalid(&self, name: &str, value: &str, reason: &str) -> Error {
        usage_value(&self.source(name), value, reason)
    }
}

fn text(value: OsString, what: &str) -> Result<String> {
    value.into_string().map_err(|v| Error::Usage(format!("invalid value {v:?} for {what}: not valid UTF-8")))
}

/// Stage one: the command line, then the environment.
pub fn parse_raw<I, S, E>(args: I, env: E) -> Result<Parsed>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
    E: Fn(&str) -> Option<String>,
{
    use lexopt::Arg;
    let mut raw = RawFlags::defaults();
    let mut parser = lexopt::Parser::from_args(args);
    let lex = |e: lexopt::Error| Error::Usage(e.to_string());
    while let Some(arg) = parser.next().map_err(lex)? {
        match arg {
            Arg::Short('h') => return Ok(Parsed::Help),
            Arg::Long(name @ ("help" | "version")) => {
                let name = name.to_string();
                if let Some(v) = parser.optional_value() {
                    return Err(Error::Usage(format!("flag --{name} takes no value, got {v:?}")));
                }
                return Ok(if name == "help" { Parsed::Help } else { Parsed::Version });
            }
            Arg::Long(name) => {
                let name = name.to_string();
                let i = RawFlags::index(&name).ok_or_else(|| Error::Usage(format!("unknown flag: --{name}")))?;
                let value = if FLAGS[i].kind == Bool {
                    // As pflag: `--flag` alone means true; `--flag value` does
                    // not consume the next argument.
                    match parser.optional_value() {
                        Some(v) => text(v, &format!("--{name}"))?,
                        None => "true".to_string(),
                    }
                } else {
                    text(parser.value().map_err(lex)?, &format!("--{name}"))?
                };
                raw.set_flag(i, &value)?;
            }
            Arg::Short(c) => {
                return Err(Error::Usage(format!(
                    "unknown shorthand flag: '{c}' (kured flags are long: --name or --name=value)"
                )))
            }
            Arg::Value(v) => raw.ignored.push(v.to_string_lossy().into_owned()),
        }
    }
    for (i, spec) in FLAGS.iter().enumerate() {
        let var = env_name(spec.name);
        if let Some(value) = env(&var) {
            raw.set_env(i, &var, &value)?;
        }
    }
    Ok(Parsed::Run(raw))
}
