//! The node's proxy variables must not route API traffic (nor our token) through
//! a proxy. Its own test binary: it sets process environment variables, which is
//! only sound while no other thread of the process reads them.

#[path = "support/kube.rs"]
mod support;

use std::net::TcpListener;

use support::*;

#[test]
fn proxy_variables_from_the_environment_are_ignored() {
    // A proxy that is never there: using it would fail the request.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"] {
        std::env::set_var(var, format!("http://127.0.0.1:{closed}"));
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let c = cluster();
    c.api.create(node("n1"));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1");
}
