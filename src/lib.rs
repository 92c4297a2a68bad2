//! kured-rs: the Kubernetes Reboot Daemon, as a small synchronous program.
//!
//! Arrows point down: `agent` (the loop) uses the parts (`lock`, `drain`,
//! `blockers`, `notify`, `metrics`, `sentinel`, `reboot`, `window`), which use
//! `kube` (the REST client) or the host (`hostcmd`). `config` turns flags into a
//! [`config::Config`]; `wire` builds each part's options from it, so no part
//! knows `Config`; `main` starts it all and maps errors to exit codes. Leaves
//! that several of these share: `argv` (command lines), `template` (message
//! templates), `promtext` (the Prometheus text format), `clock`, `error`.

pub mod agent;
pub mod argv;
pub mod autoscaler;
pub mod blockers;
pub mod clock;
pub mod config;
pub mod controlplane;
pub mod drain;
pub mod error;
pub mod gate;
pub mod health;
pub mod host;
pub mod hostcmd;
pub mod kube;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod node;
pub mod notify;
pub mod optout;
pub mod outbound;
pub mod preflight;
pub mod promtext;
pub mod reboot;
pub mod sentinel;
pub mod status;
pub mod stop;
pub mod template;
pub mod tz;
pub mod urlenc;
pub mod window;
pub mod wire;

pub use error::{Error, Result};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
