//! A simulated Kubernetes cluster for kured: the fake API server in-process, one
//! real `kured` process per node (each with its own sentinel file, harmless reboot
//! command and host helper process, never PID 1), machines that "reboot" when the
//! reboot command runs, and an observer that turns the server's state into a
//! timeline and checks the invariants (lock holders and cordoned nodes within the
//! concurrency, no PodDisruptionBudget broken, every node rebooted and uncordoned).
//!
//! ```ignore
//! let mut spec = sim::ClusterSpec::new(env!("CARGO_BIN_EXE_kured"));
//! spec.nodes = 3;
//! let mut cluster = sim::Cluster::start(spec)?;
//! let summary = cluster.run_until_all_rebooted(sim::cycles(10));
//! assert!(summary.violations(1).is_empty(), "{}", cluster.report());
//! ```

pub mod backend;
pub mod bench;
pub mod budget;
pub mod chaos;
pub mod cluster;
pub mod events;
pub mod http;
pub mod lockview;
pub mod node;
pub mod objects;
pub mod observer;
pub mod real;
pub mod spec;
pub mod summary;

pub use backend::{Api, ControlPlaneKind};
pub use budget::{cycles, Budget, Limit};
pub use cluster::Cluster;
pub use events::{Event, Timed};
pub use spec::ClusterSpec;
pub use summary::Summary;
