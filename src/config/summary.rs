//! The effective configuration as one log line of `key=value` pairs, logged at
//! start-up so an operator sees what the flags and `KURED_*` variables added up
//! to. Notification URLs carry tokens, so only their scheme is shown.

use super::duration::format_duration;
use super::{Config, LogFormat, RebootMethod, SentinelSpec};

/// `slack://token@chan` -> `slack://***`: webhook URLs are credentials.
/// Stricter than `notify::url::redact`, which keeps the host: in some shoutrrr
/// URLs (`slack://tokenA/tokenB/tokenC`) the host is itself part of the token.
fn redact_secret_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://***"),
        None => "***".into(),
    }
}

fn notify_urls(urls: &[String]) -> String {
    match urls {
        [] => "none".into(),
        [one] => redact_secret_url(one),
        many => many.iter().map(|u| redact_secret_url(u)).collect::<Vec<_>>().join(","),
    }
}

/// Drop `user:password@` from a URL.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.into() };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.into(),
    }
}

fn opt_duration(d: Option<std::time::Duration>) -> String {
    d.map(format_duration).unwrap_or_else(|| "none".into())
}

fn list(items: &[String]) -> String {
    format!("{items:?}")
}

fn labels(items: &[(String, String)]) -> String {
    let pairs: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
    list(&pairs)
}

impl Config {
    /// One line, `key=value` separated by spaces; values with spaces are quoted.
    pub fn summary(&self) -> String {
        let argv = crate::argv::display_argv;
        let upstream = |spec: &SentinelSpec| match spec {
            SentinelSpec::File(p) => format!("file {p}"),
            SentinelSpec::Command(a) => format!("command {}", argv(a)),
            SentinelSpec::Preset(f) => f.name().to_string(),
            SentinelSpec::Auto(_) => "auto".to_string(),
        };
        let (sentinel_key, sentinel) = match &self.sentinel {
            SentinelSpec::File(p) => ("sentinel-file", p.clone()),
            SentinelSpec::Command(a) => ("sentinel-command", argv(a)),
            SentinelSpec::Preset(f) => ("sentinel-preset", f.name().to_string()),
            SentinelSpec::Auto(fallback) => ("sentinel-preset", format!("auto (else {})", upstream(fallback))),
        };
        let (method_key, method) = match self.reboot_method {
            RebootMethod::Command => ("reboot-command", argv(&self.reboot_command)),
            RebootMethod::Signal => ("reboot-signal", self.reboot_signal.to_string()),
        };
        let pairs: Vec<(&str, String)> = vec![
            ("node-id", self.node_id.clone()),
            ("period", format_duration(self.period)),
            (sentinel_key, sentinel),
            (method_key, method),
            ("host-pid", self.host_pid.to_string()),
            ("reboot-delay", format_duration(self.reboot_delay)),
            ("reboot-timeout", opt_duration(self.reboot_timeout)),
            ("reboot-loop-limit", self.reboot_loop_limit.to_string()),
            ("reboot-loop-window", opt_duration(self.reboot_loop_window)),
            ("force-reboot", self.force_reboot.to_string()),
            ("drain-delay", format_duration(self.drain_delay)),
            ("drain-timeout", opt_duration(self.drain_timeout)),
            ("drain-stall-timeout", opt_duration(self.drain_stall_timeout)),
            ("drain-grace-period", self.drain_grace_period.map_or("pod".into(), |n| n.to_string())),
            ("drain-pod-selector", self.drain_pod_selector.clone()),
            ("skip-wait-for-delete-timeout", opt_duration(self.skip_wait_for_delete_timeout)),
            ("lock", format!("{}/{}:{}", self.ds_namespace, self.ds_name, self.lock_annotation)),
            ("lock-ttl", opt_duration(self.lock_ttl)),
            ("lock-release-delay", format_duration(self.lock_release_delay)),
            ("release-gate-timeout", format_duration(self.release_gate_timeout)),
            ("concurrency", self.concurrency.to_string()),
            ("api-timeout", format_duration(self.api_timeout)),
            ("prometheus-url", self.prometheus_url.as_deref().map_or("none".into(), without_userinfo)),
            ("alert-filter-regexp", self.alert_filter.as_ref().map_or("none".into(), |r| r.as_str().into())),
            ("alert-filter-match-only", self.alert_filter_match_only.to_string()),
            ("alert-firing-only", self.alert_firing_only.to_string()),
            ("blocking-pod-selectors", list(&self.blocking_pod_selectors)),
            ("prefer-no-schedule-taint", self.prefer_no_schedule_taint.clone().unwrap_or_else(|| "none".into())),
            ("annotate-nodes", self.annotate_nodes.to_string()),
            ("pre-reboot-node-labels", labels(&self.pre_reboot_node_labels)),
            ("post-reboot-node-labels", labels(&self.post_reboot_node_labels)),
            ("window", self.window.to_string()),
            ("notify-url", notify_urls(&self.notify_urls)),
            ("metrics", format!("{}:{}", self.metrics_host, self.metrics_port)),
            ("log-format", if self.log_format == LogFormat::Json { "json" } else { "text" }.into()),
        ];
        let quote = |v: String| if v.is_empty() || v.contains([' ', '"', '=']) { format!("{v:?}") } else { v };
        let parts: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_logged() {
        assert_eq!(redact_secret_url("slack://a/b/c"), "slack://***");
        assert_eq!(redact_secret_url("nonsense"), "***");
        assert_eq!(without_userinfo("http://u:p@prom:9090/x@y"), "http://***@prom:9090/x@y");
        assert_eq!(without_userinfo("http://prom:9090"), "http://prom:9090");
    }
}
