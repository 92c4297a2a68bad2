//! Opting one node out of reboots at run time: a Node carrying the label or
//! the annotation [`KEY`] (either; the annotation's value may give a reason,
//! shown in the node's status) never takes the lock, so kured never cordons,
//! drains or reboots it, and it does not wait in the lock's queue. The label
//! is the one to select nodes by (`kubectl get nodes -l kured-rs.dev/opt-out`);
//! the annotation is the one to explain why. Either counts whatever its value
//! (`"false"` too): it is removed to opt back in.
//!
//! Read from the Node object kured GETs anyway before it takes the lock, and
//! at each of the holder's looks (right before the cordon, while it drains,
//! right before the reboot command), so it costs no request. A node opted out
//! after it took the lock stops at the holder's next look, before the reboot
//! command: it is put back (uncordoned if kured cordoned it) and lets the lock go.

use std::collections::BTreeMap;

/// The Node label or annotation that opts the node out of reboots.
pub const KEY: &str = "kured-rs.dev/opt-out";

/// The status reason of an opted-out node (None: not opted out). A value that
/// says nothing (empty, `true`) shows as just "opted out"; the annotation's
/// text wins over the label's value.
pub fn opted_out(labels: &BTreeMap<String, String>, annotations: &BTreeMap<String, String>) -> Option<String> {
    let said = |v: Option<&String>| {
        v.map(|v| v.trim()).filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("true")).map(str::to_string)
    };
    if !labels.contains_key(KEY) && !annotations.contains_key(KEY) {
        return None;
    }
    Some(match said(annotations.get(KEY)).or_else(|| said(labels.get(KEY))) {
        Some(why) => format!("opted out: {why}"),
        None => "opted out".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[track_caller]
    fn case(labels: &[(&str, &str)], annotations: &[(&str, &str)], want: Option<&str>) {
        assert_eq!(
            opted_out(&map(labels), &map(annotations)).as_deref(),
            want,
            "labels {labels:?}, annotations {annotations:?}"
        );
    }

    #[test]
    fn a_label_or_an_annotation_opts_the_node_out() {
        case(&[], &[], None);
        case(&[("kured-rs.dev/opt-out-not", "true")], &[("other", "x")], None);
        case(&[(KEY, "true")], &[], Some("opted out"));
        case(&[(KEY, "")], &[], Some("opted out"));
        case(&[(KEY, "db-primary")], &[], Some("opted out: db-primary"));
        case(&[], &[(KEY, "")], Some("opted out"));
        case(&[], &[(KEY, "TRUE")], Some("opted out"));
        case(&[], &[(KEY, " holds the only replica of db-0 ")], Some("opted out: holds the only replica of db-0"));
        // the annotation's reason wins; a label that says nothing does not hide it
        case(&[(KEY, "db")], &[(KEY, "until Friday")], Some("opted out: until Friday"));
        case(&[(KEY, "true")], &[(KEY, "")], Some("opted out"));
        // removed, not set to false, to opt back in
        case(&[(KEY, "false")], &[], Some("opted out: false"));
    }
}
