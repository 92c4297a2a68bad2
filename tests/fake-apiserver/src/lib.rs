//! A small Kubernetes API server for tests: real HTTPS, bearer tokens,
//! resourceVersion conflicts, Status objects, patches, selectors, evictions that
//! honour PodDisruptionBudgets, and fault injection.
//!
//! Contract used by the other test suites (keep these signatures):
//!
//! ```ignore
//! let api = fakeapi::FakeApiServer::start();          // https://127.0.0.1:<port>, stops on drop
//! api.url();                                          // "https://127.0.0.1:43121"
//! api.write_service_account(dir, "kube-system")?;     // token, ca.crt, namespace (for KURED_SERVICE_ACCOUNT_DIR)
//! api.write_kubeconfig(path)?;                        // for the real kubectl
//! api.set_token("new");                               // rotate the accepted token
//! api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}));
//! api.get("nodes", "", "n1") -> Option<Value>;        // resource plural, namespace ("" if cluster-scoped), name
//! api.list("pods") -> Vec<Value>;
//! api.inject(Fault::status("PUT", "/apis/apps/v1/namespaces/kube-system/daemonsets/kured", 409, 1));
//! api.requests() -> Vec<RequestRecord>;               // what was asked, in order
//! ```
