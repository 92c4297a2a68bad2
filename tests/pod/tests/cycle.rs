//! The kured pod of each rendering (manifests/base and the overlays that
//! change its security context), run by runc as a kubelet would, through a
//! 2-node rollout on the real control plane: sentinel seen through the
//! hostPath, lock, cordon, drain, the default `/bin/systemctl reboot` run in
//! the host stand-in's mount namespace (its recorded arguments), a new boot
//! ID, uncordon, release; under RuntimeDefault and Unconfined seccomp.

mod support;

use sim::{ControlPlaneKind, Limit};
use support::*;

const LIMIT: Limit = Limit::Cycles(10);

/// The rollout of `dir`'s pod under `seccomp`; `want` is what each host
/// stand-in must have recorded.
fn rollout(dir: &str, seccomp: &str, want: &str, kind: ControlPlaneKind) {
    let m = manifest(dir, Some(seccomp), |_| {});
    let mut c = start(spec(2, &m, kind));
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{dir} under {seccomp}: {:?}\n{}", s.violations(1), c.report());
    for node in ["node-1", "node-2"] {
        assert_eq!(c.reboots(node), 1, "{node}\n{}", c.report());
        let calls = host_calls(&c, node);
        assert_eq!(calls.trim(), want, "{dir} under {seccomp}: what {node}'s host saw\n{}", log(&c, node));
    }
}

#[test]
fn base_on_the_fake_server() {
    rollout("base", "RuntimeDefault", "systemctl reboot", ControlPlaneKind::Fake);
}
