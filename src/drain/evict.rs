//! Evict (or delete) all the selected pods together and wait until they are
//! gone, in one synchronous loop: every round sends the requests that are due
//! (first tries, and retries after a PodDisruptionBudget refusal, 5 s apart as
//! kubectl), then waits for the pods' deletion on one watch of the node's pods
//! (`fieldSelector=spec.nodeName=<node>`) until the next request is due. Where
//! a watch cannot be had it polls each pod every second instead, as kubectl
//! does. A pod that fails does not stop the others. When nothing but
//! PodDisruptionBudget refusals has been left for `stall_timeout`, the caller is
//! asked whether to give way to other lock holders (`--drain-stall-timeout`).

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::select::deletion_older_than;
use super::{DrainOptions, Drained, Guide};
use crate::clock::Clock;
use crate::error::{ApiErrorKind, Error};
use crate::kube::watch::{Ended, Event, Watch};
use crate::kube::{Client, Pod};

/// How long one watch for deletions lasts when nothing else is due (short: a
/// drain is when a stop must be seen soon, and it lasts little).
const WATCH_SLICE: Duration = Duration::from_secs(5);
/// A gap before the next eviction shorter than this is slept, not watched.
const MIN_WATCH: Duration = Duration::from_secs(2);

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
    /// Requests for it that got no usable answer (see [`LOST_TRIES`]).
    lost: u32,
}

/// An eviction or deletion that got no answer, or a 5xx, is sent again (it is
/// safe: a second eviction of a pod already going is accepted, of one gone a
/// 404), this many times in all, 1, 2, 4, 8 s apart, before the pod fails.
/// One lost answer must not end the whole drain and restart the attempt.
const LOST_TRIES: u32 = 5;

/// Every pod's outcome; and how the guide interrupted the drain, if it did
/// (gave way or halted: the pods not yet gone are then `Failed`).
pub(super) fn run(
    client: &Client,
    node: &str,
    work: Vec<(Pod, Kind)>,
    opts: &DrainOptions,
    clock: &dyn Clock,
    deadline: Option<OffsetDateTime>,
    guide: &mut dyn Guide,
) -> (Vec<(String, Kind, Outcome)>, Option<Drained>) {
    let start = clock.now();
    let mut items: Vec<Item> = work
        .into_iter()
        .map(|(pod, kind)| {
            let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
            Item { key, pod, kind, state: State::Send(start), lost: 0 }
        })
        .collect();
    let mut pods = if items.is_empty() { None } else { watch_pods(client, node, opts) };
    // The stall clock: restarted whenever a pod moves on (eviction accepted,
    // pod gone) or the caller chose to go on waiting.
    let (mut progress, mut moved) = (progress_of(&items), start);
    let mut interrupted = None;
    let mut halt_asked = start;
    loop {
        let now = clock.now();
        if items.iter().all(|it| matches!(it.state, State::Settled(_))) {
            break;
        }
        let round_due = items.iter().filter_map(|it| due(it, pods.is_some())).min().is_some_and(|n| n <= now);
        let check_due = guide.check_every().is_some_and(|every| now - halt_asked >= every);
        if round_due || check_due {
            halt_asked = now;
            if let Some(why) = guide.halt() {
                settle_open(&mut items, "the drain was halted before it could be evicted");
                interrupted = Some(Drained::Halted(why));
                break;
            }
        }
        if progress_of(&items) != progress {
            (progress, moved) = (progress_of(&items), now);
        }
        if stalled(&items, opts.stall_timeout, moved, now) {
            log::warn!("drain {node}: every pod left has been refused by PodDisruptionBudgets for {:?}", now - moved);
            match guide.give_way() {
                Some(to) => {
                    settle_open(&mut items, "gave way before it could be evicted");
                    interrupted = Some(Drained::GaveWay(to));
                    break;
                }
                None => moved = now,
            }
        }
        // A graceful stop (SIGTERM) ends the drain at once; the caller puts the node back.
        if clock.stopped() {
            for it in items.iter_mut().filter(|it| !matches!(it.state, State::Settled(_))) {
                it.state = State::Settled(Outcome::Failed("kured is stopping".into()));
            }
            break;
        }
        if deadline.is_some_and(|d| now >= d) {
            for it in items.iter_mut().filter(|it| !matches!(it.state, State::Settled(_))) {
                let doing = if matches!(it.state, State::Send(_)) { "evict" } else { "wait for the deletion of" };
                log::warn!("drain {node}: timed out trying to {doing} pod {}", it.key);
                it.state = State::Settled(Outcome::Failed(format!("timed out trying to {doing} it")));
            }
            break;
        }
        let watching = pods.is_some();
        let next = items.iter().filter_map(|it| due(it, watching)).min();
        let waiting = watching && items.iter().any(|it| matches!(it.state, State::Wait(_)));
        if next.is_none_or(|n| n > now) {
            let check = guide.check_every().map(|every| halt_asked + every);
            let until = [next, deadline, check].into_iter().flatten().min();
            // A watch resumes where the last one ended, so a short gap before
            // the next eviction is slept through and its deletions caught up
            // later, rather than paid for with a watch request each.
            let worth_watching = next.is_none_or(|n| n - now >= MIN_WATCH);
            match (&mut pods, waiting && worth_watching) {
                (Some(watch), true) => {
                    if let Err(e) = wait_by_watch(watch, &mut items, node, opts, clock, until) {
                        log::warn!(
                            "drain {node}: cannot watch the node's pods ({e}); checking each pod every {:?} instead",
                            opts.poll
                        );
                        pods = None;
                        let now = clock.now();
                        items
                            .iter_mut()
                            .filter(|it| matches!(it.state, State::Wait(_)))
                            .for_each(|it| it.state = State::Wait(now));
                    }
                }
                _ => {
                    let until = until.unwrap_or(now);
                    clock.sleep(Duration::try_from(until - now).unwrap_or(Duration::ZERO));
                }
            }
            continue;
        }
        // Each next try is scheduled from when this one was made, not from the
        // round's start: a round over hundreds of pods must not make the next
        // round due at once and turn polling into a busy loop.
        let mut refused = Vec::new();
        for (i, it) in items.iter_mut().enumerate() {
            // A round over thousands of pods on a slow API server is progress
            // (/healthz), and a stop must not wait for the round to end.
            clock.beat();
            if clock.stopped() {
                break;
            }
            it.state = match it.state {
                State::Send(at) if at <= now => {
                    let next = send(client, it, opts, clock.now());
                    if matches!(next, State::Send(_)) {
                        refused.push(i);
                    }
                    next
                }
                State::Wait(at) if !watching && at <= now => poll(client, node, it, opts, clock.now()),
                _ => continue,
            };
        }
        spread(&mut items, &refused, opts.retry_after_pdb);
    }
    let outcomes = items
        .into_iter()
        .map(|it| match it.state {
            State::Settled(o) => (it.key, it.kind, o),
            _ => (it.key, it.kind, Outcome::Failed("not finished".into())),
        })
        .collect();
    (outcomes, interrupted)
}

fn settle_open(items: &mut [Item], why: &str) {
    for it in items.iter_mut().filter(|it| !matches!(it.state, State::Settled(_))) {
        it.state = State::Settled(Outcome::Failed(why.into()));
    }
}

/// How far the pods got: (settled, being waited for). Any change is progress.
fn progress_of(items: &[Item]) -> (usize, usize) {
    let settled = items.iter().filter(|it| matches!(it.state, State::Settled(_))).count();
    let waiting = items.iter().filter(|it| matches!(it.state, State::Wait(_))).count();
    (settled, waiting)
}

/// Nothing but refused evictions left (every pod not yet gone waits for its
/// next try), unchanged for `stall_timeout`.
fn stalled(items: &[Item], stall_timeout: Option<Duration>, moved: OffsetDateTime, now: OffsetDateTime) -> bool {
    let Some(limit) = stall_timeout else { return false };
    let open: Vec<&Item> = items.iter().filter(|it| !matches!(it.state, State::Settled(_))).collect();
    !open.is_empty() && open.iter().all(|it| matches!(it.state, State::Send(_))) && now - moved >= limit
}

/// A watch on the node's pods, listed before any eviction so that no deletion
/// is missed; None (and a log line) when it cannot be had: then each pod is
/// polled, as kubectl does.
fn watch_pods<'c>(client: &'c Client, node: &str, opts: &DrainOptions) -> Option<Watch<'c>> {
    let mut watch = Watch::node_pods(client, node);
    match watch.list() {
        Ok(_) => Some(watch),
        Err(e) => {
            log::warn!(
                "drain {node}: cannot watch the node's pods ({e}); checking each pod every {:?} instead",
                opts.poll
            );
            None
        }
    }
}

/// Wait for the pods in `Wait` to go, by one watch on the node's pods, until
/// `until` (the next eviction retry or the deadline; a slice of
/// [`WATCH_SLICE`] when neither) or until none is left to wait for.
fn wait_by_watch(
    watch: &mut Watch<'_>,
    items: &mut [Item],
    node: &str,
    opts: &DrainOptions,
    clock: &dyn Clock,
    until: Option<OffsetDateTime>,
) -> crate::Result<()> {
    let now = clock.now();
    let mut max = until.map_or(WATCH_SLICE, |u| Duration::try_from(u - now).unwrap_or(Duration::ZERO));
    if opts.skip_wait_for_delete_timeout.is_some() {
        // Time alone can make a terminating pod count as gone: look again soon.
        max = max.min(Duration::from_secs(1));
    }
    let ended = watch.run(
        max,
        &|| {
            clock.beat();
            clock.stopped()
        },
        |event| {
            apply(event, items, node, opts, clock.now());
            match items.iter().any(|it| matches!(it.state, State::Wait(_))) {
                true => ControlFlow::Continue(()),
                false => ControlFlow::Break(()),
            }
        },
    )?;
    let now = clock.now();
    for it in items.iter_mut().filter(|it| matches!(it.state, State::Wait(_))) {
        if deletion_older_than(&it.pod, now, opts.skip_wait_for_delete_timeout) {
            it.state = gone(&it.key, "has been terminating longer than skip-wait-for-delete-timeout, not waiting");
        }
    }
    // A clock that did not move while the watch waited (a test's) is moved on,
    // as a sleep would have.
    if let (Ended::TimedOut, Some(u)) = (ended, until) {
        if u > now {
            clock.sleep(Duration::try_from(u - now).unwrap_or(Duration::ZERO));
        }
    }
    Ok(())
}

/// Settle the pods an event shows gone; keep the latest state of the others.
fn apply(event: Event, items: &mut [Item], node: &str, opts: &DrainOptions, now: OffsetDateTime) {
    let decode = |v: Value| serde_json::from_value::<Pod>(v).ok();
    match event {
        Event::Relisted(list) => {
            let current: Vec<Pod> = list.into_iter().filter_map(decode).collect();
            for it in items.iter_mut().filter(|it| matches!(it.state, State::Wait(_))) {
                let same = current.iter().find(|p| {
                    p.metadata.namespace == it.pod.metadata.namespace && p.metadata.name == it.pod.metadata.name
                });
                it.state = match same {
                    None => gone(&it.key, "is gone"),
                    Some(p) => judge(it, p.clone(), node, opts, now),
                };
            }
        }
        Event::Deleted(v) => {
            let Some(p) = decode(v) else { return };
            if let Some(it) = waiting_for(items, &p) {
                it.state = match p.metadata.uid == it.pod.metadata.uid {
                    true => gone(&it.key, "is gone"),
                    false => gone(&it.key, "was replaced by a new pod"),
                };
            }
        }
        Event::Added(v) | Event::Modified(v) => {
            let Some(p) = decode(v) else { return };
            if let Some(it) = waiting_for(items, &p) {
                it.state = judge(it, p, node, opts, now);
            }
        }
    }
}

/// Pods a PodDisruptionBudget refused in the same round are retried spread
/// over the next interval instead of all at once: each still waits the full
/// interval between its own tries (kubectl's 5 s), but the budget, which
/// frees up as each replacement becomes ready, is asked every
/// `interval / n` rather than every `interval`, so a drain through a budget
/// allowing one disruption takes one eviction per readiness, not per 5 s.
fn spread(items: &mut [Item], refused: &[usize], interval: Duration) {
    let n = refused.len() as u32;
    for (k, &i) in refused.iter().enumerate() {
        if let State::Send(at) = items[i].state {
            items[i].state = State::Send(at + interval * k as u32 / n.max(1));
        }
    }
}

fn waiting_for<'i>(items: &'i mut [Item], p: &Pod) -> Option<&'i mut Item> {
    items.iter_mut().find(|it| {
        matches!(it.state, State::Wait(_))
            && it.pod.metadata.namespace == p.metadata.namespace
            && it.pod.metadata.name == p.metadata.name
    })
}

/// The same verdicts as [`poll`], on a pod the watch showed us.
fn judge(it: &mut Item, p: Pod, node: &str, opts: &DrainOptions, now: OffsetDateTime) -> State {
    let key = &it.key;
    if p.metadata.uid != it.pod.metadata.uid {
        return gone(key, "was replaced by a new pod");
    }
    if p.spec.node_name != node {
        return gone(key, "now runs on another node");
    }
    if deletion_older_than(&p, now, opts.skip_wait_for_delete_timeout) {
        return gone(key, "has been terminating longer than skip-wait-for-delete-timeout, not waiting");
    }
    let state = State::Wait(now);
    it.pod = p;
    state
}
/// When `it` next needs a request: a (re)send, or a poll when not watching.
fn due(it: &Item, watching: bool) -> Option<OffsetDateTime> {
    match it.state {
        State::Send(at) => Some(at),
        State::Wait(at) if !watching => Some(at),
        State::Wait(_) | State::Settled(_) => None,
    }
}

fn send(client: &Client, it: &mut Item, opts: &DrainOptions, now: OffsetDateTime) -> State {
    let (ns, name, key) = (&it.pod.metadata.namespace, &it.pod.metadata.name, &it.key);
    let wait = State::Wait(now + opts.poll);
    let lost = |e: &Error| it.lost + 1 < LOST_TRIES && answer_lost(e);
    let again = Duration::from_secs(1) * 2u32.pow(it.lost.min(4));
    let mut resend = false;
    let state = match it.kind {
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
            Err(e) if lost(&e) => {
                log::warn!("pod {key}: eviction got no usable answer ({e}), sending it again in {again:?}");
                resend = true;
                State::Send(now + again)
            }
            Err(e) => failed(key, e),
        },
        Kind::Delete { wait: and_wait } => match client.delete_pod(ns, name, opts.grace_period) {
            Ok(()) if and_wait => {
                log::info!("deleting pod {key}");
                wait
            }
            Ok(()) => gone(key, "deleted"),
            Err(e) if e.is_not_found() => gone(key, "was already gone"),
            Err(e) if lost(&e) => {
                log::warn!("pod {key}: deletion got no usable answer ({e}), sending it again in {again:?}");
                resend = true;
                State::Send(now + again)
            }
            Err(e) => failed(key, e),
        },
    };
    if resend {
        it.lost += 1;
    }
    state
}

/// No answer (reset, timeout, closed), or a server or proxy in trouble (502,
/// 503, 504): the request may or may not have been applied, and sending it
/// again is safe. A 500 is an answer: the eviction subresource's refusal of a
/// pod under two budgets is one, and it never changes (as kubectl).
fn answer_lost(e: &Error) -> bool {
    matches!(e, Error::Transport { .. } | Error::Api { code: 502..=504, .. })
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
