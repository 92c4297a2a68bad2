//! A small Kubernetes API server for tests: real HTTPS, bearer tokens,
//! resourceVersion conflicts, Status objects, patches, selectors, evictions that
//! honour PodDisruptionBudgets, and fault injection.
