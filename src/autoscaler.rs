//! The cluster autoscaler must not scale a node down while kured holds it for
//! a reboot (kured#1309): the node is cordoned and drained, which looks like
//! an idle node to the autoscaler. While kured holds it, the Node carries
//! `cluster-autoscaler.kubernetes.io/scale-down-disabled=true`; afterwards
//! kured removes it, but only if kured set it (recorded in an annotation of
//! our own across the reboot), so an operator's setting is never taken away.
//! Pure: which annotation changes to make, given the node's annotations.

use std::collections::BTreeMap;

pub const SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";
/// Set beside it when kured set it.
pub const SET_BY_KURED: &str = "kured-rs.dev/scale-down-disabled";

/// Annotation changes (None = remove) when kured takes the node.
pub fn on_hold(annotations: &BTreeMap<String, String>) -> Vec<(&'static str, Option<&'static str>)> {
    if annotations.get(SCALE_DOWN_DISABLED).is_some_and(|v| v == "true") {
        // Someone (or an earlier attempt of ours, already recorded) set it.
        return Vec::new();
    }
    vec![(SCALE_DOWN_DISABLED, Some("true")), (SET_BY_KURED, Some("true"))]
}

/// Annotation changes when kured lets the node go.
pub fn on_release(annotations: &BTreeMap<String, String>) -> Vec<(&'static str, Option<&'static str>)> {
    if annotations.contains_key(SET_BY_KURED) {
        vec![(SCALE_DOWN_DISABLED, None), (SET_BY_KURED, None)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn set_only_when_absent_and_removed_only_when_ours() {
        assert_eq!(on_hold(&ann(&[])), [(SCALE_DOWN_DISABLED, Some("true")), (SET_BY_KURED, Some("true"))]);
        assert_eq!(on_hold(&ann(&[(SCALE_DOWN_DISABLED, "false")])).len(), 2);
        assert!(on_hold(&ann(&[(SCALE_DOWN_DISABLED, "true")])).is_empty(), "an operator's setting stays");
        assert!(on_release(&ann(&[(SCALE_DOWN_DISABLED, "true")])).is_empty(), "not ours: left alone");
        assert_eq!(
            on_release(&ann(&[(SCALE_DOWN_DISABLED, "true"), (SET_BY_KURED, "true")])),
            [(SCALE_DOWN_DISABLED, None), (SET_BY_KURED, None)]
        );
    }
}
