//! Stage two: checked raw values -> the rich [`Config`]. Every rule that a
//! value's syntax cannot express lives here (ranges, enums, `key=value`, the
//! notification URL, the window, shell-lexing of commands); each error names the
//! flag or `KURED_*` variable that supplied the value.

use std::time::Duration;

use super::checks;
use super::flags::RawFlags;
use super::{Config, LogFormat, OsFamily, RebootMethod, SentinelSpec, WarningTemplates};
use crate::error::{Error, Result};
use crate::window::{Recurring, Schedule, Window};

/// Upstream's `stripQuotes`: one pair of surrounding `'` or `"` is removed, as
/// Helm charts and shells sometimes leave them in.
fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() > 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// `https://hooks.slack.com/services/A/B/C` -> `slack://A/B/C`, as upstream.
fn slack_hook_to_notify_url(hook: &str) -> Option<String> {
    let rest = hook.strip_prefix("https://").or_else(|| hook.strip_prefix("http://"))?;
    let path = &rest[rest.find('/')?..];
    let tokens = path.strip_prefix("/services/")?;
    let parts: Vec<&str> = tokens.split('/').collect();
    let clean = |p: &&str| !p.is_empty() && !p.contains(['?', '#', ' ']);
    (parts.len() == 3 && parts.iter().all(clean)).then(|| format!("slack://{tokens}"))
}

fn int_in<T: TryFrom<i64>>(raw: &RawFlags, name: &str, ok: impl Fn(i64) -> bool, rule: &str) -> Result<T> {
    let n = raw.int(name);
    match T::try_from(n) {
        Ok(v) if ok(n) => Ok(v),
        _ => Err(raw.invalid(name, &n.to_string(), rule)),
    }
}

fn labels(raw: &RawFlags, name: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in raw.list(name).iter().filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                out.push((k.to_string(), v.to_string()))
            }
            _ => return Err(raw.invalid(name, item, "expected a label as key=value")),
        }
    }
    Ok(out)
}

fn command(raw: &RawFlags, name: &str) -> Result<Vec<String>> {
    let line = raw.str(name);
    let argv = crate::argv::lex(line).map_err(|why| raw.invalid(name, line, &why))?;
    if argv.is_empty() {
        return Err(raw.invalid(name, line, "empty command"));
    }
    Ok(argv)
}

/// A warning template (two arguments: the node, what happened) that renders
/// within the message bound.
fn warning_template(raw: &RawFlags, name: &str) -> Result<String> {
    let t = raw.str(name);
    crate::template::check_args(t, 2).map_err(|why| raw.invalid(name, t, &why))?;
    Ok(t.to_string())
}

/// Upstream's sentinel (a file, or a command that replaces it).
fn upstream_sentinel(raw: &RawFlags) -> Result<SentinelSpec> {
    if raw.str("reboot-sentinel-command").is_empty() {
        let path = raw.str("reboot-sentinel");
        if path.is_empty() {
            return Err(raw.invalid("reboot-sentinel", path, "empty path (set it, or set --reboot-sentinel-command)"));
        }
        Ok(SentinelSpec::File(path.to_string()))
    } else {
        Ok(SentinelSpec::Command(command(raw, "reboot-sentinel-command")?))
    }
}

/// `--reboot-sentinel-preset`: `file` is upstream's sentinel, `auto` keeps it
/// as the fallback for an OS it does not know, and a named family replaces it
/// (so setting both would leave one silently unused: refused).
fn sentinel(raw: &RawFlags) -> Result<SentinelSpec> {
    let preset = raw.str("reboot-sentinel-preset");
    match preset {
        "file" => upstream_sentinel(raw),
        "auto" => Ok(SentinelSpec::Auto(Box::new(upstream_sentinel(raw)?))),
        name => {
            let Some(family) = OsFamily::from_name(name) else {
                let names: Vec<&str> = OsFamily::ALL.iter().map(|f| f.name()).collect();
                let expected = format!("expected file, auto, {}", names.join(", "));
                return Err(raw.invalid("reboot-sentinel-preset", preset, &expected));
            };
            for other in ["reboot-sentinel", "reboot-sentinel-command"] {
                if raw.is_set(other) {
                    let why = format!(
                        "a preset replaces {}: set one of the two (or the preset auto or file)",
                        raw.source(other)
                    );
                    return Err(raw.invalid("reboot-sentinel-preset", preset, &why));
                }
            }
            Ok(SentinelSpec::Preset(family))
        }
    }
}

/// Every `--notify-url` (each checked on its own: one that cannot be used is
/// dropped with a warning, the others stay), or else the converted
/// `--slack-hook-url`.
fn notify_urls(raw: &RawFlags, warnings: &mut Vec<String>) -> Result<Vec<String>> {
    let notify: Vec<&str> = raw.list("notify-url").iter().map(|u| strip_quotes(u)).filter(|u| !u.is_empty()).collect();
    let hook = strip_quotes(raw.str("slack-hook-url"));
    if !notify.is_empty() {
        if !hook.is_empty() {
            warnings.push(format!(
                "{} is ignored because {} is set",
                raw.source("slack-hook-url"),
                raw.source("notify-url")
            ));
        }
        let checked = notify.into_iter().filter_map(|u| checked_notify_url(raw, "notify-url", u.to_string(), warnings));
        return Ok(checked.collect());
    }
    Ok(slack_hook_url(raw, hook, warnings).into_iter().collect())
}

fn slack_hook_url(raw: &RawFlags, hook: &str, warnings: &mut Vec<String>) -> Option<String> {
    if hook.is_empty() {
        return None;
    }
    warnings.push(format!("{} is deprecated: use --notify-url", raw.source("slack-hook-url")));
    let Some(url) = slack_hook_to_notify_url(hook) else {
        warnings.push(format!(
            "{} is not https://hooks.slack.com/services/<a>/<b>/<c>: notifications are off",
            raw.source("slack-hook-url")
        ));
        return None;
    };
    checked_notify_url(raw, "slack-hook-url", url, warnings)
}

/// Parse the URL now, so that a URL the notifier cannot use is said at
/// start-up (redacted), not at the first reboot. Upstream starts anyway and
/// only fails each send, so a manifest that works upstream must start here too:
/// notifications are turned off with a warning, reboots go on.
fn checked_notify_url(raw: &RawFlags, flag: &str, url: String, warnings: &mut Vec<String>) -> Option<String> {
    match crate::notify::Notifier::from_url(&url) {
        Ok(_) => Some(url),
        Err(e) => {
            warnings.push(format!("{}: {e}: notifications are off", raw.source(flag)));
            None
        }
    }
}

fn sorted_keys(labels: &[(String, String)]) -> Vec<&str> {
    let mut keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys
}

/// Validate into a Config, plus warnings to log once logging is up.
pub fn validate(raw: &RawFlags) -> Result<(Config, Vec<String>)> {
    let mut warnings = Vec::new();
    if raw.str("node-id").is_empty() {
        return Err(Error::Usage("missing node id: set --node-id or KURED_NODE_ID".into()));
    }
    let node_id = checks::node_id(raw)?;
    let period = raw.duration("period");
    if period.is_zero() {
        return Err(raw.invalid("period", "0", "the period must be greater than zero"));
    }
    let reboot_method = match raw.str("reboot-method") {
        "command" => RebootMethod::Command,
        "signal" => RebootMethod::Signal,
        other => return Err(raw.invalid("reboot-method", other, "expected command or signal")),
    };
    // Linux signals are 1..=64 (SIGRTMAX); anything else fails only at reboot time.
    let reboot_signal: i32 = match reboot_method {
        RebootMethod::Signal => {
            int_in(raw, "reboot-signal", |n| (1..=64).contains(&n), "a signal number from 1 to 64")?
        }
        RebootMethod::Command => int_in(raw, "reboot-signal", |_| true, "out of range")?,
    };
    let sentinel = sentinel(raw)?;
    let reboot_command = command(raw, "reboot-command")?;
    let alert_filter = match raw.str("alert-filter-regexp") {
        // Upstream would compile "" into a filter matching every alert; an
        // empty value here means no filter, which is what an empty env var means.
        "" => None,
        re => Some(regex_lite::Regex::new(re).map_err(|e| raw.invalid("alert-filter-regexp", re, &e.to_string()))?),
    };
    // Upstream switches on exactly "json" and logs text otherwise: a manifest
    // with another value must still start, so it is a warning here.
    let log_format = match raw.str("log-format") {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => {
            warnings.push(format!("{} {other:?} is neither text nor json: logging text", raw.source("log-format")));
            LogFormat::Text
        }
    };
    for arg in &raw.ignored {
        warnings.push(format!("ignoring the argument {arg:?}: kured takes only flags (--name=value)"));
    }
    let pre_reboot_node_labels = labels(raw, "pre-reboot-node-labels")?;
    let post_reboot_node_labels = labels(raw, "post-reboot-node-labels")?;
    if sorted_keys(&pre_reboot_node_labels) != sorted_keys(&post_reboot_node_labels) {
        warnings.push("pre-reboot-node-labels keys and post-reboot-node-labels keys do not match: labels set before the reboot may stay".into());
    }
    let non_empty = |name: &str| Some(raw.str(name).to_string()).filter(|s| !s.is_empty());
    let non_zero = |name: &str| Some(raw.duration(name)).filter(|d| !d.is_zero());
    let notify_urls = notify_urls(raw, &mut warnings)?;
    let api_timeout = checks::api_timeout(raw)?;
    let host_pid = int_in(raw, "host-pid", |n| n >= 1, "a process id must be at least 1")?;
    // Upstream takes the single lock for any value up to 1.
    let concurrency: u32 = match raw.int("concurrency") {
        n if n < 1 => {
            warnings.push(format!("{} {n} is below 1: using 1", raw.source("concurrency")));
            1
        }
        _ => int_in(raw, "concurrency", |_| true, "too large")?,
    };
    let reboot_loop_limit = int_in(raw, "reboot-loop-limit", |n| n >= 0, "must be 0 (no limit) or more")?;
    // 0 lets the kernel pick a free port, as Go's net.Listen does.
    let metrics_port = int_in(raw, "metrics-port", |_| true, "a port from 0 to 65535")?;
    let (ds_namespace, ds_name) = (required(raw, "ds-namespace")?, required(raw, "ds-name")?);
    let lock_annotation = required(raw, "lock-annotation")?;
    // Last, so that every other check runs first.
    let window = schedule(raw)?;
    warnings.extend(window.never_opens());
    let config = Config {
        node_id,
        period,
        sentinel,
        reboot_method,
        reboot_command,
        reboot_signal,
        host_pid,
        reboot_delay: raw.duration("reboot-delay"),
        reboot_timeout: non_zero("reboot-timeout"),
        reboot_loop_limit,
        reboot_loop_window: non_zero("reboot-loop-window"),
        force_reboot: raw.bool("force-reboot"),
        drain_delay: raw.duration("drain-delay"),
        drain_timeout: non_zero("drain-timeout"),
        drain_stall_timeout: non_zero("drain-stall-timeout"),
        drain_grace_period: Some(raw.int("drain-grace-period")).filter(|n| *n >= 0),
        drain_pod_selector: checks::selector(raw, "drain-pod-selector")?,
        skip_wait_for_delete_timeout: Some(raw.int("skip-wait-for-delete-timeout"))
            .filter(|n| *n > 0)
            .map(|n| Duration::from_secs(n as u64)),
        ds_namespace,
        ds_name,
        lock_annotation,
        lock_ttl: non_zero("lock-ttl"),
        lock_release_delay: raw.duration("lock-release-delay"),
        release_gate_timeout: raw.duration("release-gate-timeout"),
        concurrency,
        control_plane_quorum_guard: raw.bool("control-plane-quorum-guard"),
        control_plane_selector: checks::selector(raw, "control-plane-selector")?,
        control_plane_settle: raw.duration("control-plane-settle"),
        control_plane_order: match raw.str("control-plane-order") {
            "any" => crate::controlplane::Order::Any,
            "first" => crate::controlplane::Order::First,
            "last" => crate::controlplane::Order::Last,
            other => return Err(raw.invalid("control-plane-order", other, "expected first, last or any")),
        },
        api_timeout,
        prometheus_url: checks::prometheus_url(raw)?,
        prometheus_queries: checks::prometheus_queries(raw)?,
        alertmanager_url: checks::alertmanager_url(raw)?,
        alert_filter,
        alert_filter_match_only: raw.bool("alert-filter-match-only"),
        alert_firing_only: raw.bool("alert-firing-only"),
        blocking_pod_selectors: checks::selectors(raw, "blocking-pod-selector")?,
        prefer_no_schedule_taint: non_empty("prefer-no-schedule-taint"),
        annotate_nodes: raw.bool("annotate-nodes"),
        pre_reboot_node_labels,
        post_reboot_node_labels,
        window,
        notify_urls,
        warning_templates: WarningTemplates {
            reboot_failed: warning_template(raw, "message-template-reboot-failed")?,
            reboot_loop: warning_template(raw, "message-template-reboot-loop")?,
            drain_failed: warning_template(raw, "message-template-drain-failed")?,
            stale_lock: warning_template(raw, "message-template-stale-lock")?,
            lock_lost: warning_template(raw, "message-template-lock-lost")?,
        },
        slack_username: raw.str("slack-username").to_string(),
        slack_channel: raw.str("slack-channel").to_string(),
        message_template_drain: checks::template(raw, "message-template-drain")?,
        message_template_reboot: checks::template(raw, "message-template-reboot")?,
        message_template_uncordon: checks::template(raw, "message-template-uncordon")?,
        metrics_host: raw.str("metrics-host").to_string(),
        metrics_port,
        log_format,
    };
    Ok((config, warnings))
}

/// The upstream window flags, which `--maintenance-window` replaces.
const UPSTREAM_WINDOW: [&str; 4] = ["reboot-days", "start-time", "end-time", "time-zone"];

/// Every `--maintenance-window` (each value may hold several, `;` between:
/// the environment gives one value), or else upstream's window. Both at once
/// would leave one silently unused: refused.
fn schedule(raw: &RawFlags) -> Result<Schedule> {
    let specs: Vec<&str> = raw
        .list("maintenance-window")
        .iter()
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if specs.is_empty() {
        let days: Vec<String> = raw.list("reboot-days").to_vec();
        let window = Window::parse(&days, raw.str("start-time"), raw.str("end-time"), raw.str("time-zone"))
            .map_err(|e| name_env_sources(raw, e, &UPSTREAM_WINDOW))?;
        return Ok(Schedule::Upstream(window));
    }
    if let Some(upstream) = UPSTREAM_WINDOW.iter().find(|f| raw.is_set(f)) {
        let why = format!("it replaces --reboot-days, --start-time, --end-time and --time-zone, but {} is set too: set one or the other", raw.source(upstream));
        return Err(raw.invalid("maintenance-window", specs[0], &why));
    }
    let windows = specs
        .iter()
        .map(|s| Recurring::parse(s).map_err(|why| raw.invalid("maintenance-window", s, &why)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Schedule::Windows(windows))
}

/// `Window::parse` names flags as `--start-time`; when the value came from the
/// environment, name the variable the operator has to fix instead.
fn name_env_sources(raw: &RawFlags, err: Error, names: &[&str]) -> Error {
    match err {
        Error::Usage(mut msg) => {
            for name in names {
                let (flag, source) = (format!("--{name}"), raw.source(name));
                if source != flag {
                    msg = msg.replace(&format!("{flag} "), &format!("{source} "));
                }
            }
            Error::Usage(msg)
        }
        other => other,
    }
}

/// Names of Kubernetes objects: an empty one can only fail later, obscurely.
fn required(raw: &RawFlags, name: &str) -> Result<String> {
    match raw.str(name) {
        "" => Err(raw.invalid(name, "", "must not be empty")),
        s => Ok(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_slack_hooks() {
        assert_eq!(strip_quotes("\"slack://a\""), "slack://a");
        assert_eq!(strip_quotes("'x'"), "x");
        assert_eq!(strip_quotes("\"\""), "\"\"");
        assert_eq!(strip_quotes("'x\""), "'x\"");
        let hook = |s| slack_hook_to_notify_url(s);
        assert_eq!(hook("https://hooks.slack.com/services/A/B/C").as_deref(), Some("slack://A/B/C"));
        assert_eq!(hook("https://hooks.slack.com/services/A/B"), None);
        assert_eq!(hook("https://hooks.slack.com/services/A/B/C/D"), None);
        assert_eq!(hook("https://hooks.slack.com/services/A//C"), None);
        assert_eq!(hook("https://hooks.slack.com/hooks/A/B/C"), None);
        assert_eq!(hook("hooks.slack.com/services/A/B/C"), None);
        assert_eq!(hook("https://hooks.slack.com"), None);
    }
}
