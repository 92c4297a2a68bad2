//! The Prometheus /metrics endpoint: a plain blocking listener.
