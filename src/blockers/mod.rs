//! What holds a reboot back: alerts active in Prometheus (less those silenced
//! in Alertmanager, when asked), PromQL queries with a non-empty result, and
//! pods matching a blocking selector on this node. Each check answers `Ok(Some(reason))` when
//! it blocks, `Ok(None)` when it does not, and `Err` when it could not tell.
//! [`check_all`] turns both into typed [`Reason`]s: which kind of blocker
//! held the reboot back is known from the blocker, never guessed from its
//! text (a blocking pod named `prometheus-0` is a pod), and a blocker that
//! cannot answer blocks as its own kind (an unreachable Prometheus never lets
//! a reboot through, and is reported as Prometheus).

mod alertmanager;
mod fetch;
mod pods;
mod prometheus;
mod promql;

pub use alertmanager::{is_silenced, parse_silenced};
pub use pods::{pod_blocks, PodBlocker};
pub use prometheus::{blocking_alerts, parse_alerts, Alert, AlertFilter, PrometheusBlocker};
pub use promql::{parse_series, QueryBlocker};

use crate::error::{Error, Result};
use crate::kube::Client;

/// Which kind of blocker holds a reboot back; `status::Blocked::of` gives
/// its `kured_reboot_blocked{reason}` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--prometheus-url`: active alerts (less those Alertmanager holds
    /// silenced, so an Alertmanager that cannot answer is a Prometheus block
    /// too) and `--prometheus-query` results.
    Prometheus,
    /// `--blocking-pod-selector`: pods on this node.
    Pods,
}

/// Why one blocker holds the reboot back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub by: Kind,
    /// For the log and the node's status: what blocks, or why the blocker could not tell.
    pub text: String,
    /// The blocker could not answer: blocked all the same, since a reboot
    /// must not go ahead without an answer from each blocker.
    pub cannot_tell: bool,
}

impl Reason {
    pub fn blocks(by: Kind, text: impl Into<String>) -> Reason {
        Reason { by, text: text.into(), cannot_tell: false }
    }

    /// The blocker of kind `by` failed with `error`.
    pub fn cannot_tell(by: Kind, error: &Error) -> Reason {
        Reason { by, text: format!("cannot check blockers: {error}"), cannot_tell: true }
    }
}

/// One configured reason not to reboot.
#[derive(Debug)]
pub enum Blocker {
    Prometheus(PrometheusBlocker),
    Query(QueryBlocker),
    Pods(PodBlocker),
}

impl Blocker {
    pub fn kind(&self) -> Kind {
        match self {
            Blocker::Prometheus(_) | Blocker::Query(_) => Kind::Prometheus,
            Blocker::Pods(_) => Kind::Pods,
        }
    }

    /// `Ok(Some(reason))` if this blocker holds the reboot back.
    pub fn check(&self, client: &Client) -> Result<Option<String>> {
        match self {
            Blocker::Prometheus(p) => p.check(),
            Blocker::Query(q) => q.check(),
            Blocker::Pods(p) => p.check(client),
        }
    }
}

/// Run every blocker and collect the reasons of those that block. The first
/// blocker that cannot answer ends the check with a `cannot_tell` reason of
/// its kind (the next check asks them all again): empty means nothing blocks.
pub fn check_all(blockers: &[Blocker], client: &Client) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for b in blockers {
        match b.check(client) {
            Ok(Some(text)) => reasons.push(Reason::blocks(b.kind(), text)),
            Ok(None) => {}
            Err(e) => {
                reasons.push(Reason::cannot_tell(b.kind(), &e));
                break;
            }
        }
    }
    reasons
}

/// What the agent reports for these reasons: the first one's kind (for the
/// metric and the status's `blocked`) and all their texts joined with "; "
/// (for the status and the log); None when nothing blocks.
pub fn summary(reasons: &[Reason]) -> Option<(Kind, String)> {
    let first = reasons.first()?;
    let texts: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
    Some((first.by, texts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Blocked;

    #[track_caller]
    fn case(reasons: &[Reason], want: Option<(Blocked, &str)>) {
        let got = summary(reasons).map(|(by, text)| (Blocked::of(by), text));
        assert_eq!(got.as_ref().map(|(b, t)| (*b, t.as_str())), want, "{reasons:?}");
    }

    #[test]
    fn the_kind_comes_from_the_blocker_not_its_text() {
        let pod = Reason::blocks(Kind::Pods, pods::reason("app=prometheus", &["monitoring/prometheus-0".into()]));
        let down = Error::Prometheus { url: "http://p:9090".into(), message: "connection refused".into() };
        let am_down =
            Error::Prometheus { url: "http://am:9093".into(), message: "alertmanager: status 503: not ready".into() };
        let api_down = Error::Transport {
            method: "GET",
            url: "https://k/api/v1/pods?labelSelector=app%3Dprometheus".into(),
            message: "timed out".into(),
        };
        case(&[], None);
        case(
            std::slice::from_ref(&pod),
            Some((Blocked::Pods, "blocking pods (selector \"app=prometheus\"): monitoring/prometheus-0")),
        );
        case(
            &[Reason::cannot_tell(Kind::Prometheus, &down)],
            Some((Blocked::Prometheus, "cannot check blockers: prometheus http://p:9090: connection refused")),
        );
        case(
            &[Reason::cannot_tell(Kind::Prometheus, &am_down)],
            Some((
                Blocked::Prometheus,
                "cannot check blockers: prometheus http://am:9093: alertmanager: status 503: not ready",
            )),
        );
        let api = Reason::cannot_tell(Kind::Pods, &api_down);
        assert_eq!(summary(std::slice::from_ref(&api)).map(|(by, _)| Blocked::of(by)), Some(Blocked::Pods));
        let alerts = Reason::blocks(Kind::Prometheus, "active prometheus alerts: X");
        case(
            &[alerts, pod],
            Some((
                Blocked::Prometheus,
                "active prometheus alerts: X; blocking pods (selector \"app=prometheus\"): monitoring/prometheus-0",
            )),
        );
    }
}
