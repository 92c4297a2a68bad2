//! The reboot and its confirmation: run the reboot command, then wait for the
//! machine to go down. A reboot counts as done only when the node's boot ID
//! changes (kubelet reports a new one after every boot). If this process is
//! still running `--reboot-timeout` after the command and the boot ID is
//! unchanged, the reboot failed (an inhibitor, a hung shutdown, a command that
//! exits 0 and does nothing): say so (Warning Event, log, metric), put the node
//! back and back off, rather than hold the lock and the cordon forever. A stop
//! (SIGTERM) after the command is the shutdown arriving: nothing is undone.
//! A guarded control-plane holder also looks at the other control-plane
//! nodes right before the command (see `agent/quorum.rs`).

use std::time::Duration;

use super::holder::Holding;
use super::plan::{self, RebootVerdict, RebootWait};
use super::{Agent, Flow};
use crate::error::Result;
use crate::lock::{DaemonSetLock, LockMeta};
use crate::metrics::Series;

impl Agent<'_> {
    /// Reboot delay, notification, the reboot command, then the wait.
    /// `boot_before`: the node's boot ID read before the drain.
    /// The command runs only after a look just now found this node's lock
    /// entry and Node still its own (see `holder`).
    pub(super) fn reboot(
        &self,
        lock: &DaemonSetLock<'_>,
        holding: &mut Holding,
        boot_before: Option<String>,
    ) -> Result<Flow> {
        let meta = holding.held.meta.clone();
        if !self.config.reboot_delay.is_zero() {
            log::info!("rebooting in {:?}", self.config.reboot_delay);
            self.clock.sleep(self.config.reboot_delay);
        }
        if self.clock.stopped() {
            log::info!("stopping before the reboot command: putting the node back");
            self.give_up(lock, !meta.unschedulable);
            return Ok(Flow::Continue);
        }
        match self.confirm_before_reboot(lock, holding) {
            Ok(()) => {}
            Err(Some(lost)) => {
                self.lock_lost(lock, holding, &lost);
                return Ok(lost.then());
            }
            Err(None) => {
                log::error!("not rebooting {}: its lock could not be confirmed; putting the node back", self.node_id());
                self.give_up(lock, !meta.unschedulable);
                return Ok(Flow::Continue);
            }
        }
        if let Some(flow) = self.quorum_before_reboot(lock, &meta) {
            return Ok(flow);
        }
        log::info!("rebooting node {}", self.node_id());
        self.event("Rebooting", "kured is rebooting the node");
        self.notify(&self.config.message_template_reboot);
        self.report_rebooting();
        match self.host.reboot() {
            Ok(()) => {}
            Err(e @ crate::Error::RebootUncertain { .. }) => log::warn!("{e}"),
            Err(e) => {
                // The machine is not going down: put the node back rather than
                // hold the lock and a cordoned node until someone notices.
                log::error!("reboot of {} failed: {e}", self.node_id());
                self.give_up(lock, !meta.unschedulable);
                self.reboot_retry.set(self.reboot_retry.get().failed(self.clock.now(), self.config.period));
                return Ok(Flow::Continue);
            }
        }
        self.wait_for_reboot(lock, &meta, boot_before.as_deref())
    }

    fn wait_for_reboot(&self, lock: &DaemonSetLock<'_>, meta: &LockMeta, boot_before: Option<&str>) -> Result<Flow> {
        let requested = self.clock.now();
        loop {
            let elapsed = Duration::try_from(self.clock.now() - requested).unwrap_or(Duration::ZERO);
            match plan::reboot_wait(elapsed, self.config.reboot_timeout) {
                RebootWait::Wait(d) => {
                    match self.config.reboot_timeout {
                        Some(t) => log::info!(
                            "waiting for the reboot (the boot ID must change within --reboot-timeout, {}s left)",
                            t.saturating_sub(elapsed).as_secs()
                        ),
                        None => log::info!("waiting for the reboot"),
                    }
                    self.clock.sleep(d);
                    if self.clock.stopped() {
                        return Ok(Flow::Exit);
                    }
                }
                RebootWait::Look => {
                    let node = match self.client.get_node(self.node_id()) {
                        Ok(node) => node,
                        Err(e) => {
                            log::warn!("cannot read the node's boot ID to confirm the reboot, will retry: {e}");
                            self.clock.sleep(Duration::from_secs(60).min(self.config.period));
                            if self.clock.stopped() {
                                return Ok(Flow::Exit);
                            }
                            continue;
                        }
                    };
                    return Ok(match plan::reboot_verdict(boot_before, node.boot_id()) {
                        RebootVerdict::Rebooted => {
                            log::info!("the node's boot ID changed: the reboot happened; finishing it");
                            self.release_after_reboot();
                            Flow::Continue
                        }
                        RebootVerdict::Failed => {
                            self.reboot_timed_out(lock, meta, elapsed);
                            Flow::Continue
                        }
                    });
                }
            }
        }
    }

    fn reboot_timed_out(&self, lock: &DaemonSetLock<'_>, meta: &LockMeta, elapsed: Duration) {
        let why = format!(
            "the reboot command ran {}s ago but the node did not reboot (boot ID unchanged, --reboot-timeout={}s): \
             putting the node back and retrying later",
            elapsed.as_secs(),
            self.config.reboot_timeout.map_or(0, |t| t.as_secs())
        );
        log::error!("reboot of {} failed: {why}", self.node_id());
        self.warning("RebootFailed", &format!("kured: {why}"));
        self.metrics.inc(Series::RebootTimeouts, self.node_id());
        self.give_up(lock, !meta.unschedulable);
        self.reboot_retry.set(self.reboot_retry.get().failed(self.clock.now(), self.config.period));
    }
}
