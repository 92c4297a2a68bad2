//! Evict (or delete) all the selected pods together and wait until they are
//! gone, in one synchronous loop: every round sends the requests that are due
//! (first tries, and retries after a PodDisruptionBudget refusal) and polls the
//! pods being waited for, then sleeps until the next one is due. A pod that
//! fails does not stop the others.

use std::time::Duration;

use time::OffsetDateTime;

use super::select::deletion_older_than;
use super::DrainOptions;
use crate::clock::Clock;
use crate::error::{ApiErrorKind, Error};
use crate::kube::{Client, Pod};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Evict,
    Delete { wait: bool },
}

/// How one pod ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Gone,
    Failed(String),
}

enum State {
    /// Send the eviction/deletion at this time.
    Send(OffsetDateTime),
    /// Poll the pod at this time.
    Wait(OffsetDateTime),
    Settled(Outcome),
}

struct Item {
    key: String,
    pod: Pod,
    kind: Kind,
    state: State,
}

pub(super) fn run(
    client: &Client,
    node: &str,
    work: Vec<(Pod, Kind)>,
    opts: &DrainOptions,
    clock: &dyn Clock,
    deadline: Option<OffsetDateTime>,
) -> Vec<(String, Kind, Outcome)> {
    let start = clock.now();
    let mut items: Vec<Item> = work
        .into_iter()
        .map(|(pod, kind)| {
            let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
            Item { key, pod, kind, state: State::Send(start) }
        })
        .collect();
    loop {
        let now = clock.now();
        let Some(next) = items.iter().filter_map(due).min() else { break };
        // A graceful stop (SIGTERM) ends the drain at once; the caller puts the node back.
        if clock.stopped() {
            for it in items.iter_mut().filter(|it| due(it).is_some()) {
                it.state = State::Settled(Outcome::Failed("kured is stopping".into()));
            }
            break;
        }
        if deadline.is_some_and(|d| now >= d) {
            for it in items.iter_mut().filter(|it| due(it).is_some()) {
                let doing = if matches!(it.state, State::Send(_)) { "evict" } else { "wait for the deletion of" };
                log::warn!("drain {node}: timed out trying to {doing} pod {}", it.key);
                it.state = State::Settled(Outcome::Failed(format!("timed out trying to {doing} it")));
            }
            break;
        }
        if next > now {
            let until = deadline.map_or(next, |d| next.min(d));
            clock.sleep(Duration::try_from(until - now).unwrap_or(Duration::ZERO));
            continue;
        }
        // Each next try is scheduled from when this one was made, not from the
        // round's start: a round over hundreds of pods must not make the next
        // round due at once and turn polling into a busy loop.
        for it in items.iter_mut() {
            // A round over thousands of pods on a slow API server is progress
            // (/healthz), and a stop must not wait for the round to end.
            clock.beat();
            if clock.stopped() {
                break;
            }
            it.state = match it.state {
                State::Send(at) if at <= now => send(client, it, opts, clock.now()),
                State::Wait(at) if at <= now => poll(client, node, it, opts, clock.now()),
                _ => continue,
            };
        }
    }
    items
        .into_iter()
        .map(|it| match it.state {
            State::Settled(o) => (it.key, it.kind, o),
            _ => (it.key, it.kind, Outcome::Failed("not finished".into())),
        })
        .collect()
}

fn due(it: &Item) -> Option<OffsetDateTime> {
    match it.state {
        State::Send(at) | State::Wait(at) => Some(at),
        State::Settled(_) => None,
    }
}

fn send(client: &Client, it: &Item, opts: &DrainOptions, now: OffsetDateTime) -> State {
    let (ns, name, key) = (&it.pod.metadata.namespace, &it.pod.metadata.name, &it.key);
    let wait = State::Wait(now + opts.poll);
    match it.kind {
        Kind::Evict => match client.evict_pod(ns, name, opts.grace_period) {
            Ok(()) => {
                log::info!("evicting pod {key}");
                wait
            }
            Err(e) if e.is_not_found() => gone(key, "was already gone"),
            // A PodDisruptionBudget forbids it now; it frees up as the pods it
            // protects become ready elsewhere. Wait, as `kubectl drain` does,
            // rather than hammering the API server as upstream kured 1.22+ does.
            Err(e) if e.is_too_many_requests() => {
                log::info!("pod {key}: eviction refused ({}), retrying in {:?}", message(&e), opts.retry_after_pdb);
                State::Send(now + opts.retry_after_pdb)
            }
            // An eviction in a namespace being deleted is always refused; if the
            // pod is terminating anyway, waiting is all we can do (as kubectl).
            Err(e) if namespace_terminating(&e) => match client.get_pod(ns, name) {
                Err(g) if g.is_not_found() => gone(key, "was already gone"),
                Ok(p) if p.metadata.uid != it.pod.metadata.uid => gone(key, "was already replaced"),
                Ok(p) if p.metadata.deletion_timestamp.is_some() => {
                    log::info!("pod {key}: namespace terminating, waiting for the pod to go");
                    wait
                }
                _ => failed(key, e),
            },
            Err(e) => failed(key, e),
        },
        Kind::Delete { wait: and_wait } => match client.delete_pod(ns, name, opts.grace_period) {
            Ok(()) if and_wait => {
                log::info!("deleting pod {key}");
                wait
            }
            Ok(()) => gone(key, "deleted"),
            Err(e) if e.is_not_found() => gone(key, "was already gone"),
            Err(e) => failed(key, e),
        },
    }
}

fn poll(client: &Client, node: &str, it: &Item, opts: &DrainOptions, now: OffsetDateTime) -> State {
    let key = &it.key;
    match client.get_pod(&it.pod.metadata.namespace, &it.pod.metadata.name) {
        Err(e) if e.is_not_found() => gone(key, "is gone"),
        // Same name, new pod (a StatefulSet's replacement): ours is gone.
        Ok(p) if p.metadata.uid != it.pod.metadata.uid => gone(key, "was replaced by a new pod"),
        // Same pod object bound elsewhere: it no longer runs here (kured#1169).
        Ok(p) if p.spec.node_name != node => gone(key, "now runs on another node"),
        Ok(p) if deletion_older_than(&p, now, opts.skip_wait_for_delete_timeout) => {
            gone(key, "has been terminating longer than skip-wait-for-delete-timeout, not waiting")
        }
        Ok(_) => State::Wait(now + opts.poll),
        // Transient trouble reading it is not a verdict on the pod: the drain
        // timeout bounds how long we keep asking.
        Err(e) => {
            log::warn!("pod {key}: cannot check whether it is gone: {e}");
            State::Wait(now + opts.poll)
        }
    }
}

fn gone(key: &str, how: &str) -> State {
    log::info!("pod {key} {how}");
    State::Settled(Outcome::Gone)
}

fn failed(key: &str, e: Error) -> State {
    log::error!("pod {key}: {e}");
    State::Settled(Outcome::Failed(e.to_string()))
}

fn message(e: &Error) -> String {
    match e {
        Error::Api { message, .. } if !message.is_empty() => message.clone(),
        other => other.to_string(),
    }
}

/// 403 with cause `NamespaceTerminating`. Our `Error::Api` keeps the reason and
/// message but not the causes, so the admission plugin's message is matched too
/// ("unable to create new content in namespace X because it is being terminated").
fn namespace_terminating(e: &Error) -> bool {
    match e {
        Error::Api { kind: ApiErrorKind::Forbidden, reason, message, .. } => {
            reason.contains("NamespaceTerminating")
                || message.contains("NamespaceTerminating")
                || message.contains("being terminated")
        }
        _ => false,
    }
}
