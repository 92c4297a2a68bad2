//! Rebooting the host: a command in the host's mount namespace, or a signal to
//! the host's init (`--host-pid`).
