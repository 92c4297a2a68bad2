//! The loop: observe -> decide -> act, as a small state machine.

use crate::config::Config;
use crate::error::Result;
use crate::kube::Client;

/// Run the daemon until a fatal error (start-up only; the loop itself retries).
pub fn run(_config: Config, _client: Client) -> Result<()> {
    todo!()
}
