//! PodDisruptionBudgets (policy/v1), read only: the release gate records the
//! budgets that covered a node's pods before its drain and waits for them to
//! allow disruptions again after the reboot.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::types::ObjectMeta;
use super::{list, url, Client, ListParams};
use crate::error::Result;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

/// metav1.LabelSelector: all of `matchLabels` and all of `matchExpressions`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub match_expressions: Option<Vec<LabelSelectorRequirement>>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector (an empty selector matches all).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_ok = self.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
        let exprs_ok = self.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or(&[]);
            match (r.operator.as_str(), labels.get(&r.key)) {
                ("In", Some(v)) => values.contains(v),
                ("NotIn", v) => v.is_none_or(|v| !values.contains(v)),
                ("Exists", v) => v.is_some(),
                ("DoesNotExist", v) => v.is_none(),
                // an unknown operator selects nothing, as the API server would refuse it
                _ => false,
            }
        });
        labels_ok && exprs_ok
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PdbSpec {
    /// policy/v1: null selects no pods; {} selects every pod of the namespace
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PdbStatus {
    #[serde(default)]
    pub disruptions_allowed: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PodDisruptionBudget {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PdbSpec,
    #[serde(default)]
    pub status: PdbStatus,
}

impl PodDisruptionBudget {
    /// Whether this budget covers a pod in `namespace` with `labels`.
    pub fn covers(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.metadata.namespace == namespace && self.spec.selector.as_ref().is_some_and(|s| s.matches(labels))
    }
}

impl Client {
    /// Every PodDisruptionBudget in the cluster, across pages.
    pub fn list_pdbs(&self, params: &ListParams) -> Result<Vec<PodDisruptionBudget>> {
        let base = url::path(&["apis", "policy", "v1", "poddisruptionbudgets"]);
        list::collect(|continue_token| {
            let mut query = vec![("limit", params.limit.unwrap_or(500).to_string())];
            if let Some(t) = continue_token {
                query.push(("continue", t.to_string()));
            }
            self.call("GET", &url::with_query(&base, &query), None, "PodDisruptionBudgetList", super::limits::POD_PAGE)
        })
    }

    pub fn get_pdb(&self, namespace: &str, name: &str) -> Result<PodDisruptionBudget> {
        let path = url::path(&["apis", "policy", "v1", "namespaces", namespace, "poddisruptionbudgets", name]);
        self.call("GET", &path, None, "PodDisruptionBudget", super::limits::OBJECT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[track_caller]
    fn sel(selector: &str, pod: &[(&str, &str)], want: bool) {
        let s: LabelSelector = serde_json::from_str(selector).unwrap();
        assert_eq!(s.matches(&labels(pod)), want, "{selector} on {pod:?}");
    }

    #[test]
    fn label_selectors() {
        sel("{}", &[], true);
        sel(r#"{"matchLabels":{"app":"web"}}"#, &[("app", "web"), ("x", "y")], true);
        sel(r#"{"matchLabels":{"app":"web"}}"#, &[("app", "db")], false);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"In","values":["a","b"]}]}"#, &[("app", "b")], true);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"In","values":["a"]}]}"#, &[], false);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"NotIn","values":["a"]}]}"#, &[], true);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"Exists"}]}"#, &[("app", "")], true);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"DoesNotExist"}]}"#, &[("app", "")], false);
        sel(r#"{"matchExpressions":[{"key":"app","operator":"Bogus"}]}"#, &[("app", "")], false);
        sel(
            r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"Exists"}]}"#,
            &[("app", "web")],
            false,
        );
    }

    #[test]
    fn a_budget_without_selector_covers_nothing() {
        let pdb: PodDisruptionBudget =
            serde_json::from_str(r#"{"metadata":{"name":"p","namespace":"d"},"spec":{}}"#).unwrap();
        assert!(!pdb.covers("d", &labels(&[])));
        let pdb: PodDisruptionBudget =
            serde_json::from_str(r#"{"metadata":{"name":"p","namespace":"d"},"spec":{"selector":{}}}"#).unwrap();
        assert!(pdb.covers("d", &labels(&[])) && !pdb.covers("other", &labels(&[])));
    }
}
