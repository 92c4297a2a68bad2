//! The pod blocker: any pod on this node matching one of the
//! `--blocking-pod-selector` values holds the reboot back while it runs.
//! Each selector is one whole label selector (its commas are AND).

use crate::error::Result;
use crate::kube::{Client, ListParams, Pod};

#[derive(Debug, Clone)]
pub struct PodBlocker {
    node: String,
    selectors: Vec<String>,
}

/// Finished pods do not block, as upstream's field selector
/// (`status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown`)
/// leaves them out. The phase is checked here rather than in the field
/// selector so that the query stays a plain equality any API server accepts.
pub fn pod_blocks(pod: &Pod) -> bool {
    !matches!(pod.status.phase.as_str(), "Succeeded" | "Failed" | "Unknown")
}

/// The reason for these (sorted) `namespace/name`s matching `selector`.
pub fn reason(selector: &str, names: &[String]) -> String {
    format!("blocking pods (selector {selector:?}): {}", crate::names::summary(names))
}

impl PodBlocker {
    pub fn new(node: &str, selectors: Vec<String>) -> PodBlocker {
        PodBlocker { node: node.to_string(), selectors }
    }

    /// `Ok(Some("pods blocking: ns/a, ns/b (selector app=x)"))` for the first
    /// selector with running pods on this node.
    pub fn check(&self, client: &Client) -> Result<Option<String>> {
        for selector in &self.selectors {
            let params = ListParams {
                label_selector: Some(selector.clone()),
                field_selector: Some(format!("spec.nodeName={}", self.node)),
                limit: Some(crate::kube::POD_PAGE),
            };
            // spec.nodeName is checked again: a server or proxy that ignored
            // the field selector must not let other nodes' pods block us.
            let mut names: Vec<String> = client
                .list_pods(&params)?
                .iter()
                .filter(|p| p.spec.node_name == self.node && pod_blocks(p))
                .map(|p| format!("{}/{}", p.metadata.namespace, p.metadata.name))
                .collect();
            if !names.is_empty() {
                names.sort();
                return Ok(Some(reason(selector, &names)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(phase: &str, blocks: bool) {
        let mut pod = Pod::default();
        pod.status.phase = phase.to_string();
        assert_eq!(pod_blocks(&pod), blocks, "phase {phase:?}");
    }

    #[test]
    fn finished_pods_do_not_block() {
        case("Running", true);
        case("Pending", true);
        case("", true);
        case("Succeeded", false);
        case("Failed", false);
        case("Unknown", false);
    }
}
