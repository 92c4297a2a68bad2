//! The I/O of each [`Action`] of the machine: which part does it (client,
//! host, clock, notifier, metrics) and what it answers. An action that looks
//! answers with the [`Observation`] the machine steps on next; one that only
//! acts answers None (its failure is logged: none of them holds a reboot
//! back), or an [`Observation::Failed`] when the failure ends the attempt.
//! A stop (SIGTERM) is answered instead of running an action that starts new
//! work ([`Action::stoppable`]). The bigger actions live with their part of
//! the lifecycle: `drain.rs`, `holder.rs`, `recover.rs`, `fleet.rs`,
//! `gate.rs`, `quorum.rs`, `stale.rs`, `pace.rs`.

use std::collections::BTreeMap;

use super::machine::{Action, Command, NodeFacts, Observation, Template};
use super::{fleet, history, Agent, MOST_RECENT_REBOOT_NEEDED, REBOOT_IN_PROGRESS};
use crate::blockers;
use crate::kube::Node;
use crate::node;
use crate::status::Blocked;

impl Agent<'_> {
    /// Carry out one action.
    pub(super) fn execute(&mut self, action: Action) -> Option<Observation> {
        if action.stoppable() && self.clock.stopped() {
            return Some(Observation::Stop);
        }
        match action {
            Action::Log(level, message) => log::log!(level, "{message}"),
            Action::Report { state, reason, blocked, news } => self.report(state, &reason, blocked, news),
            Action::SetTaint(present) => self.set_taint(present),
            Action::Event(reason, message) => self.event(reason, &message),
            Action::Warning(reason, message) => self.warning(reason, &message),
            Action::NotifyWarning(reason, message) => self.notify_warning(reason, &message),
            Action::Notify(t) => self.notify(match t {
                Template::Drain => &self.config.message_template_drain,
                Template::Reboot => &self.config.message_template_reboot,
                Template::Uncordon => &self.config.message_template_uncordon,
            }),
            Action::SetMetric(series, value) => self.metrics.set(series, self.node_id(), value),
            Action::IncMetric(series) => self.metrics.inc(series, self.node_id()),
            Action::LockWaitStarted => self.metrics.status.lock_wait_started(self.clock.now()),
            Action::LeaveQueue => {
                self.metrics.status.lock_wait_left();
                self.io.waiting = Default::default();
            }
            Action::LookAgainIn(d) => self.note_lock_frees_in(d),
            Action::LookAtGate => return Some(self.look_at_gate()),
            Action::ReadNode => return Some(self.read_node()),
            Action::AnnotateInProgress => return self.annotate_in_progress(),
            Action::CheckBlockers => return Some(self.check_blockers()),
            Action::CheckControlPlane => return Some(self.check_control_plane()),
            Action::TakeLock { wanted, gave_way_to } => return Some(self.take_lock(wanted, &gave_way_to)),
            Action::Hold => self.hold(),
            Action::Drain => return Some(Observation::Drained(self.drain())),
            Action::GiveUp { uncordon } => self.give_up(uncordon),
            Action::PutBackLost { lost, was_cordoned } => {
                let cordon_left = !self.lock_lost(&lost, was_cordoned);
                return Some(Observation::PutBack { cordon_left });
            }
            Action::Sleep(d) => self.clock.sleep(d),
            Action::Confirm => return Some(Observation::Confirmed(self.confirm_before_reboot())),
            Action::CheckQuorum => return Some(Observation::Quorum(self.quorum_before_reboot())),
            Action::RunRebootCommand => return Some(Observation::Command(self.run_reboot_command())),
            Action::ReadBootId => {
                return Some(match self.client.get_node(self.node_id()) {
                    Ok(n) => Observation::BootId(n.boot_id().map(str::to_string)),
                    Err(e) => Observation::Failed(e.to_string()),
                })
            }
            Action::LookAtLock => return Some(self.look_at_lock()),
            Action::PutBack { uncordon, announce, labels, done } => {
                return Some(self.put_back(uncordon, announce, labels, done))
            }
            Action::PassReleaseGate => return Some(Observation::GateEnded(self.release_gate())),
            Action::TimeReboot => self.time_reboot(),
            Action::Unhold { after_reboot } => self.unhold(after_reboot),
            Action::ReleaseLock => {
                return Some(match self.lock().release() {
                    Ok(()) => {
                        self.io.holding = None;
                        Observation::LockReleased
                    }
                    Err(e) => Observation::Failed(e.to_string()),
                })
            }
            Action::ReadSentinel => {
                return Some(Observation::Sentinel(self.host.reboot_required().map_err(|e| e.to_string())))
            }
            Action::RemoveInProgress => {
                if let Err(e) = node::remove_annotations(self.client, self.node_id(), &[REBOOT_IN_PROGRESS]) {
                    log::warn!("cannot remove {REBOOT_IN_PROGRESS} from {}: {e}", self.node_id());
                }
            }
            Action::Tidy { our_cordon } => return Some(self.tidy(our_cordon)),
            Action::Wait(w) => return Some(self.pace(&w)),
        }
        None
    }

    /// The start of a check: the window (and its metrics), and the sentinel,
    /// which is read only inside the window.
    fn look_at_gate(&mut self) -> Observation {
        self.metrics.health.beat();
        self.io.check_started = Some(std::time::Instant::now());
        let now = self.clock.now();
        let in_window = self.config.window.contains(now);
        self.metrics.status.set_window_open(in_window);
        let opens = self.config.window.next_opening(now);
        self.metrics.status.set_window_next_open(opens);
        let required = if in_window { self.host.reboot_required().map_err(|e| e.to_string()) } else { Ok(false) };
        if let (true, Ok(r)) = (in_window, &required) {
            self.metrics.set_reboot_required(self.node_id(), *r, self.clock.now());
        }
        if !in_window {
            log::debug!("outside the maintenance window ({})", self.config.window);
            let wait = opens.map(|at| std::time::Duration::try_from(at - now).unwrap_or_default());
            self.io.window_opens_at = wait.map(|w| std::time::Instant::now() + w);
        }
        Observation::Gate { in_window, opens, required, pending: self.metrics.status.pending() }
    }

    fn read_node(&mut self) -> Observation {
        match self.client.get_node(self.node_id()) {
            Ok(node) => {
                let facts = facts(&node);
                self.io.node = Some(node);
                Observation::Node(facts)
            }
            Err(e) => Observation::Failed(e.to_string()),
        }
    }

    fn annotate_in_progress(&mut self) -> Option<Observation> {
        let stamp = super::effects::rfc3339(self.clock.now());
        let marks = [(REBOOT_IN_PROGRESS, stamp.as_str()), (MOST_RECENT_REBOOT_NEEDED, stamp.as_str())];
        node::set_annotations(self.client, self.node_id(), &marks).err().map(|e| Observation::Failed(e.to_string()))
    }

    /// Every blocker's reasons; an error asking one counts as blocking (an
    /// unreachable Prometheus must not let reboots through while alerts may
    /// be firing).
    fn check_blockers(&mut self) -> Observation {
        let reasons = blockers::check_all(&self.blockers, self.client);
        Observation::Blockers(reasons.into_iter().map(|r| (Blocked::of(r.by), r.text)).collect())
    }

    fn check_control_plane(&mut self) -> Observation {
        let Some(node) = self.io.node.clone() else { return Observation::Failed("the Node was not read".into()) };
        match self.control_plane_check(&node) {
            Ok(held) => Observation::ControlPlane { held },
            Err(e) => Observation::Failed(e.to_string()),
        }
    }

    /// The reboot command. A stop after it is the shutdown arriving.
    fn run_reboot_command(&mut self) -> Command {
        match self.host.reboot() {
            Ok(()) => Command::Ran,
            Err(e @ crate::Error::RebootUncertain { .. }) => Command::Uncertain(e.to_string()),
            Err(e) => Command::Failed(e.to_string()),
        }
    }
}

/// What the machine needs of the Node.
pub(super) fn facts(node: &Node) -> NodeFacts {
    let a: &BTreeMap<String, String> = &node.metadata.annotations;
    NodeFacts {
        opted_out: crate::optout::opted_out(&node.metadata.labels, a),
        reboots: history::recorded(a),
        in_progress: a.contains_key(REBOOT_IN_PROGRESS),
        in_release_gate: fleet::in_release_gate(a),
        unschedulable: node.spec.unschedulable,
        boot_id: node.boot_id().map(str::to_string),
    }
}
