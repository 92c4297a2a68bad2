//! Cordon, evict and wait: kubectl drain semantics through the Eviction API.
