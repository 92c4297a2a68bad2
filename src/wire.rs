//! Wiring: builds each part, or its options, from the [`Config`], in this one
//! place, so that the parts (`lock`, `drain`, `blockers`, `host`, `sentinel`,
//! `reboot`) take their own options and none of them knows `Config`. The
//! loop (`agent`) calls these; tests build the parts directly.

use crate::blockers::{AlertFilter, Blocker, PodBlocker, PrometheusBlocker, QueryBlocker};
use crate::clock::Clock;
use crate::config::Config;
use crate::drain::DrainOptions;
use crate::host::RealHost;
use crate::kube::Client;
use crate::lock::DaemonSetLock;
use crate::reboot::{self, Rebooter};
use crate::sentinel::{self, Sentinel};

/// This node's view of the lock in the annotation of kured's DaemonSet
/// (`--ds-namespace`, `--ds-name`, `--lock-annotation`, `--lock-ttl`,
/// `--concurrency`), not yet under the quorum guard.
pub fn lock<'a>(client: &'a Client, config: &Config, clock: &'a dyn Clock) -> DaemonSetLock<'a> {
    DaemonSetLock {
        client,
        namespace: config.ds_namespace.clone(),
        name: config.ds_name.clone(),
        annotation: config.lock_annotation.clone(),
        node: config.node_id.clone(),
        ttl: config.lock_ttl,
        concurrency: config.concurrency,
        clock,
        guard: None,
    }
}

/// How this node is drained (`--drain-grace-period`, `--drain-timeout`,
/// `--drain-pod-selector`, `--skip-wait-for-delete-timeout`, `--drain-stall-timeout`);
/// the rest as kubectl does it.
pub fn drain_options(config: &Config) -> DrainOptions {
    DrainOptions {
        grace_period: config.drain_grace_period,
        timeout: config.drain_timeout,
        pod_selector: config.drain_pod_selector.clone(),
        skip_wait_for_delete_timeout: config.skip_wait_for_delete_timeout,
        stall_timeout: config.drain_stall_timeout,
        ..DrainOptions::default()
    }
}

/// The blockers the configuration asks for (none when neither
/// `--prometheus-url` nor `--blocking-pod-selector` is given).
pub fn blockers(config: &Config) -> Vec<Blocker> {
    let mut out = Vec::new();
    if let Some(url) = config.prometheus_url.as_deref().filter(|u| !u.is_empty()) {
        let filter = AlertFilter {
            regex: config.alert_filter.clone(),
            match_only: config.alert_filter_match_only,
            firing_only: config.alert_firing_only,
        };
        let alerts = PrometheusBlocker::new(url, filter);
        let alerts = match &config.alertmanager_url {
            Some(am) => alerts.with_alertmanager(am),
            None => alerts,
        };
        out.push(Blocker::Prometheus(alerts));
        for query in &config.prometheus_queries {
            out.push(Blocker::Query(QueryBlocker::new(url, query)));
        }
    }
    if !config.blocking_pod_selectors.is_empty() {
        out.push(Blocker::Pods(PodBlocker::new(&config.node_id, config.blocking_pod_selectors.clone())));
    }
    out
}

/// The sentinel of `--reboot-sentinel`, `--reboot-sentinel-command` or
/// `--sentinel`, its command bounded by the period.
pub fn sentinel(config: &Config) -> Sentinel {
    Sentinel::new(&config.sentinel, config.host_pid, Some(sentinel::command_timeout(config.period)))
}

/// The reboot of `--reboot-method` (`--reboot-command` or `--reboot-signal`),
/// its command bounded by `--reboot-timeout`.
pub fn rebooter(config: &Config) -> Rebooter {
    Rebooter::new(
        &config.reboot_method,
        &config.reboot_command,
        config.reboot_signal,
        config.host_pid,
        Some(reboot::command_timeout(config.reboot_timeout)),
    )
}

/// The real host: the configured sentinel and reboot.
pub fn host(config: &Config) -> RealHost {
    RealHost { sentinel: sentinel(config), rebooter: rebooter(config) }
}
