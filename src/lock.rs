//! The cluster-wide reboot lock in an annotation on kured's own DaemonSet.
