//! Which pods a drain evicts, deletes or leaves, in kubectl drain's filter order
//! (with `--force --ignore-daemonsets --delete-emptydir-data`, as kured runs it).
//! Pure but for one question only the API server can answer (does a pod's
//! DaemonSet still exist?), which the caller passes in as a function.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::Result;
use crate::kube::Pod;

/// The annotation the kubelet puts on the API copy of a static pod; deleting
/// such a mirror pod does nothing (the kubelet recreates it).
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// POST an Eviction (honours PodDisruptionBudgets), then wait until gone.
    Evict,
    /// DELETE; `wait` = wait until gone. Finished pods hold no disruption
    /// budget and run nothing, so they are deleted without waiting.
    Delete {
        wait: bool,
    },
    Skip(SkipReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Deleted longer ago than skip-wait-for-delete-timeout: stuck, not our problem.
    DeletionTooOld,
    /// Its DaemonSet would recreate it on this very node at once.
    DaemonSet,
    /// A static pod's mirror.
    Mirror,
    /// Its `spec.nodeName` is another node: the server (or a proxy) ignored
    /// our field selector, and evicting it would drain some other node.
    OtherNode,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DeletionTooOld => "deleted longer ago than skip-wait-for-delete-timeout",
            SkipReason::DaemonSet => "managed by a daemonset",
            SkipReason::Mirror => "mirror pod of a static pod",
            SkipReason::OtherNode => "runs on another node (the API answer ignored spec.nodeName)",
        })
    }
}

/// One action per pod of `node`, in order. `daemonset_exists(namespace, name)`
/// is asked once per DaemonSet; its error aborts the selection, so a drain never
/// starts evicting on partial knowledge (as kubectl). A pod whose
/// `spec.nodeName` is not `node` is skipped, whatever the list query said.
pub fn select(
    pods: &[Pod],
    node: &str,
    now: OffsetDateTime,
    skip_wait: Option<Duration>,
    daemonset_exists: &mut dyn FnMut(&str, &str) -> Result<bool>,
) -> Result<Vec<Action>> {
    let mut known: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut exists = |ns: &str, name: &str| -> Result<bool> {
        let key = (ns.to_string(), name.to_string());
        if let Some(&e) = known.get(&key) {
            return Ok(e);
        }
        let e = daemonset_exists(ns, name)?;
        known.insert(key, e);
        Ok(e)
    };
    pods.iter()
        .map(|pod| {
            if pod.spec.node_name != node {
                return Ok(Action::Skip(SkipReason::OtherNode));
            }
            if deletion_older_than(pod, now, skip_wait) {
                return Ok(Action::Skip(SkipReason::DeletionTooOld));
            }
            let finished = is_finished(pod);
            if let Some(owner) = pod.controller().filter(|o| o.kind == "DaemonSet") {
                if finished {
                    return Ok(Action::Delete { wait: false });
                }
                return Ok(if exists(&pod.metadata.namespace, &owner.name)? {
                    Action::Skip(SkipReason::DaemonSet)
                } else {
                    // Orphaned: nothing will recreate it, so it goes like any other pod.
                    Action::Delete { wait: true }
                });
            }
            if pod.metadata.annotations.contains_key(MIRROR_ANNOTATION) {
                return Ok(Action::Skip(SkipReason::Mirror));
            }
            if finished {
                return Ok(Action::Delete { wait: false });
            }
            // emptyDir data is lost and unmanaged pods are not recreated: kured
            // drains with --delete-emptydir-data --force, as upstream.
            Ok(Action::Evict)
        })
        .collect()
}

pub fn is_finished(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

/// `deletionTimestamp` set and older than `skip_wait` (kubectl's
/// `--skip-wait-for-delete-timeout`; None = never). An unparsable timestamp
/// counts as recent: we would rather wait than skip.
pub fn deletion_older_than(pod: &Pod, now: OffsetDateTime, skip_wait: Option<Duration>) -> bool {
    let (Some(limit), Some(ts)) = (skip_wait, pod.metadata.deletion_timestamp.as_deref()) else {
        return false;
    };
    match OffsetDateTime::parse(ts, &Rfc3339) {
        Ok(deleted) => now - deleted > limit,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::OwnerReference;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-03-01 03:00:00 UTC);

    /// A pod described in one short string: words are `ds=<name>`, `rs`,
    /// `mirror`, `emptydir`, `phase=<phase>`, `deleted=<seconds ago>`, `on=<node>`
    /// (default node-a, the node drained).
    fn pod(desc: &str) -> Pod {
        let mut p = Pod::default();
        p.spec.node_name = "node-a".into();
        p.metadata.namespace = "ns".into();
        p.metadata.name = desc.into();
        for word in desc.split_whitespace() {
            let (k, v) = word.split_once('=').unwrap_or((word, ""));
            let owner = |kind: &str, name: &str| OwnerReference {
                kind: kind.into(),
                name: name.into(),
                controller: Some(true),
                ..Default::default()
            };
            match k {
                "ds" => p.metadata.owner_references.push(owner("DaemonSet", v)),
                "rs" => p.metadata.owner_references.push(owner("ReplicaSet", "rs")),
                "mirror" => drop(p.metadata.annotations.insert(MIRROR_ANNOTATION.into(), "x".into())),
                "emptydir" => p
                    .spec
                    .volumes
                    .push(crate::kube::types::Volume { name: "v".into(), empty_dir: Some(serde_json::json!({})) }),
                "phase" => p.status.phase = v.into(),
                "on" => p.spec.node_name = v.into(),
                "deleted" => {
                    let at = NOW - Duration::from_secs(v.parse().unwrap());
                    p.metadata.deletion_timestamp = Some(at.format(&Rfc3339).unwrap());
                }
                _ => panic!("bad word {word}"),
            }
        }
        p
    }

    #[track_caller]
    fn selects(desc: &str, want: Action) {
        let mut exists = |_: &str, name: &str| Ok(name != "gone");
        let got = select(&[pod(desc)], "node-a", NOW, Some(Duration::from_secs(60)), &mut exists).unwrap();
        assert_eq!(got, vec![want], "{desc}");
    }

    #[test]
    fn kubectl_filter_order() {
        use Action::*;
        selects("rs", Evict);
        selects("", Evict); // unmanaged: evicted (--force)
        selects("emptydir", Evict); // --delete-emptydir-data
        selects("rs emptydir deleted=30", Evict);
        selects("rs deleted=61", Skip(SkipReason::DeletionTooOld));
        selects("ds=kured deleted=61", Skip(SkipReason::DeletionTooOld));
        selects("ds=kured", Skip(SkipReason::DaemonSet));
        selects("ds=kured phase=Succeeded", Delete { wait: false });
        selects("ds=gone", Delete { wait: true });
        selects("mirror", Skip(SkipReason::Mirror));
        selects("mirror phase=Failed", Skip(SkipReason::Mirror));
        selects("rs phase=Succeeded", Delete { wait: false });
        selects("phase=Failed", Delete { wait: false });
        selects("rs phase=Running", Evict);
        // issue 15, case 7: a server that ignored fieldSelector=spec.nodeName
        selects("rs on=node-b", Skip(SkipReason::OtherNode));
        selects("on=", Skip(SkipReason::OtherNode));
        selects("ds=gone on=node-b", Skip(SkipReason::OtherNode));
        selects("mirror on=node-b", Skip(SkipReason::OtherNode));
    }

    #[test]
    fn daemonset_lookup_is_cached_and_its_error_aborts() {
        let pods = [pod("ds=a"), pod("ds=a"), pod("ds=b")];
        let mut asked = Vec::new();
        let mut exists = |_: &str, n: &str| {
            asked.push(n.to_string());
            Ok(true)
        };
        select(&pods, "node-a", NOW, None, &mut exists).unwrap();
        assert_eq!(asked, ["a", "b"]);
        let mut failing = |_: &str, _: &str| Err(crate::Error::Drain("boom".into()));
        assert!(select(&pods, "node-a", NOW, None, &mut failing).is_err());
    }

    #[test]
    fn skip_wait_needs_a_limit_and_a_valid_timestamp() {
        let mut p = pod("deleted=1000");
        assert!(!deletion_older_than(&p, NOW, None));
        assert!(deletion_older_than(&p, NOW, Some(Duration::from_secs(999))));
        p.metadata.deletion_timestamp = Some("garbage".into());
        assert!(!deletion_older_than(&p, NOW, Some(Duration::from_secs(1))));
    }
}
