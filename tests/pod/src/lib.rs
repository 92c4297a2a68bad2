//! Test support: the kured pod as a kubelet would run it. The rendered
//! DaemonSet (`kubectl kustomize manifests/...`, `helm template ...`: any YAML
//! holding one DaemonSet) becomes an OCI bundle ([`bundle`], from [`spec`],
//! with containerd's RuntimeDefault seccomp profile from [`seccomp`]) over the
//! release image's root file system ([`image`]), run by runc ([`runc`]) on a
//! simulated node: a host stand-in ([`host`]) whose PID namespace the pod
//! shares (`hostPID`) and whose `/bin/systemctl` records and "reboots", and a
//! network sandbox ([`net`]) where the `kubernetes` Service leads to the API
//! server. [`run`] puts it together; the `kured-pod` binary is its command
//! line and the `tests/sim` harness's runner (`ClusterSpec::kured_runner`).

pub mod bundle;
pub mod host;
pub mod image;
pub mod net;
pub mod run;
pub mod runc;
pub mod seccomp;
pub mod spec;
