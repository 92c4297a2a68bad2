//! A drain nobody interrupts, for the drain tests: `drain_node_guided` (what
//! the loop calls) with a guide that never halts nor gives way, so a finished
//! drain is its report and anything else an error.
//! Included with `#[path = "support/drain.rs"] mod drain;`.

use kured::clock::Clock;
use kured::drain::{drain_node_guided, DrainOptions, DrainReport, Drained, Guide};
use kured::kube::Client;
use kured::{Error, Result};

struct Unguided;
impl Guide for Unguided {}

/// Cordon `node` (if not already), then evict its pods and wait until they are
/// gone; pods that could not be drained make it an `Error::Drain`.
pub fn drain_node(client: &Client, node: &str, opts: &DrainOptions, clock: &dyn Clock) -> Result<DrainReport> {
    match drain_node_guided(client, node, opts, clock, &mut Unguided)? {
        Drained::Done(report) => Ok(report),
        Drained::GaveWay(_) | Drained::Halted(_) => {
            Err(Error::Drain(format!("node {node}: the drain was interrupted")))
        }
    }
}
