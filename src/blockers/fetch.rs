//! One bounded GET for the blockers that ask an HTTP API (Prometheus,
//! Alertmanager): the outbound agent's timeouts, and at most [`BODY_LIMIT`]
//! bytes of answer read, so a server that hangs or floods never stalls the
//! loop. A body cut at the limit fails to decode: "cannot tell", blocked.

use std::io::Read;

/// The most of an answer read.
pub const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// (status, body) of `url`, or why there is none.
pub fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), String> {
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut body = String::new();
    resp.body_mut()
        .as_reader()
        .take(BODY_LIMIT)
        .read_to_string(&mut body)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok((status, body))
}
