//! Injected faults: a status code, added latency (before the request is handled,
//! or after: a late answer to a request already applied), a dropped or reset
//! connection, or an expired `continue` token, for requests matching a method and a path
//! prefix, a bounded number of times or on every k-th match (deterministic, so
//! tests can count on them), or at random with a given probability (seeded:
//! every-k-th faults lock into step with a client's fixed request pattern and
//! can hit the same request every time, which a real server's errors do not).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// answer with this code and a matching `Status`
    Status(u16),
    /// wait this long before handling the request (adds up with other faults)
    Latency(Duration),
    /// handle the request (a write is applied), then wait this long before
    /// answering: what a client that gave up meanwhile never hears of (adds up)
    LateAnswer(Duration),
    /// close the connection without answering
    Drop,
    /// reset the TCP connection (RST) without answering
    Reset,
    /// a list request carrying `continue` gets 410 Expired
    ExpireContinue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// "" or "*" for any method
    pub method: String,
    pub path_prefix: String,
    pub action: FaultAction,
    /// how many more times it fires; None = forever
    pub times: Option<u32>,
    /// fire on every k-th matching request (1 = each)
    pub every: u32,
    /// match the path exactly, not as a prefix (a collection, not its objects)
    pub exact: bool,
    /// pass over this many matching requests before the first fire
    pub after: u32,
    seen: u32,
    /// fire with probability `.0`/1000, drawn from the generator state `.1`
    pub random: Option<(u32, u64)>,
}

impl Fault {
    pub fn new(method: &str, path_prefix: &str, action: FaultAction) -> Fault {
        Fault {
            method: method.to_string(),
            path_prefix: path_prefix.to_string(),
            action,
            times: None,
            every: 1,
            exact: false,
            after: 0,
            seen: 0,
            random: None,
        }
    }

    /// Answer `code` to the next `times` matching requests.
    pub fn status(method: &str, path_prefix: &str, code: u16, times: u32) -> Fault {
        Fault::new(method, path_prefix, FaultAction::Status(code)).times(times)
    }

    /// Answer `code` to every `k`-th matching request (the k-th, 2k-th, ...), forever.
    pub fn status_every(method: &str, path_prefix: &str, code: u16, k: u32) -> Fault {
        Fault::new(method, path_prefix, FaultAction::Status(code)).every(k)
    }

    /// Delay every matching request by `delay`.
    pub fn latency(method: &str, path_prefix: &str, delay: Duration) -> Fault {
        Fault::new(method, path_prefix, FaultAction::Latency(delay))
    }

    /// Handle every matching request at once but answer it `delay` later (a
    /// watch starts streaming that late).
    pub fn late_answer(method: &str, path_prefix: &str, delay: Duration) -> Fault {
        Fault::new(method, path_prefix, FaultAction::LateAnswer(delay))
    }

    /// Close the connection without an answer, `times` times.
    pub fn drop_connection(method: &str, path_prefix: &str, times: u32) -> Fault {
        Fault::new(method, path_prefix, FaultAction::Drop).times(times)
    }

    /// Reset the connection without an answer, `times` times.
    pub fn reset(method: &str, path_prefix: &str, times: u32) -> Fault {
        Fault::new(method, path_prefix, FaultAction::Reset).times(times)
    }

    /// Make `continue` tokens of lists under `path_prefix` expired (410), `times` times.
    pub fn expired_continue(path_prefix: &str, times: u32) -> Fault {
        Fault::new("GET", path_prefix, FaultAction::ExpireContinue).times(times)
    }

    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Only requests to exactly this path (e.g. a collection's lists and watches).
    pub fn exact(mut self) -> Fault {
        self.exact = true;
        self
    }

    /// Pass over the first `n` matching requests (then fire as set).
    pub fn after(mut self, n: u32) -> Fault {
        self.after = n;
        self
    }

    pub fn every(mut self, k: u32) -> Fault {
        self.every = k.max(1);
        self
    }

    /// Fire on a matching request with probability `per_mille`/1000 (instead of
    /// every k-th), from a generator seeded with `seed`.
    pub fn random(mut self, per_mille: u32, seed: u64) -> Fault {
        self.random = Some((per_mille.min(1000), seed));
        self
    }

    fn matches(&self, method: &str, path: &str, has_continue: bool) -> bool {
        (self.method.is_empty() || self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && if self.exact { path == self.path_prefix } else { path.starts_with(&self.path_prefix) }
            && (self.action != FaultAction::ExpireContinue || has_continue)
    }
}

/// What the faults say about one request: total added latency (before and
/// after handling it) and the first action that answers instead of the server.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    pub latency: Duration,
    pub late: Duration,
    pub action: Option<FaultAction>,
}

/// Apply `faults` to a request, counting it against each matching one.
pub fn evaluate(faults: &mut Vec<Fault>, method: &str, path: &str, has_continue: bool) -> Verdict {
    let mut v = Verdict::default();
    for f in faults.iter_mut() {
        if !f.matches(method, path, has_continue) || f.times == Some(0) {
            continue;
        }
        f.seen += 1;
        if f.seen <= f.after || (f.seen - f.after) % f.every != 0 {
            continue;
        }
        if let Some((per_mille, state)) = f.random.as_mut() {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            if (z ^ (z >> 31)) % 1000 >= u64::from(*per_mille) {
                continue;
            }
        }
        match &f.action {
            FaultAction::Latency(d) => v.latency += *d,
            FaultAction::LateAnswer(d) => v.late += *d,
            a if v.action.is_none() => v.action = Some(a.clone()),
            _ => continue,
        }
        if let Some(t) = f.times.as_mut() {
            *t -= 1;
        }
    }
    faults.retain(|f| f.times != Some(0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        let mut fs = vec![Fault::status("PUT", "/a", 409, 2), Fault::status_every("GET", "/b", 500, 3)];
        let codes: Vec<Option<FaultAction>> = (0..3).map(|_| evaluate(&mut fs, "PUT", "/a/x", false).action).collect();
        assert_eq!(codes, [Some(FaultAction::Status(409)), Some(FaultAction::Status(409)), None]);
        let hits: Vec<bool> = (0..6).map(|_| evaluate(&mut fs, "GET", "/b", false).action.is_some()).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
        assert_eq!(fs.len(), 1);
    }

    #[test]
    fn late_answers_add_up_apart_from_latency_and_leave_the_request_handled() {
        let mut fs = vec![
            Fault::late_answer("PUT", "/a", Duration::from_secs(2)).times(1),
            Fault::late_answer("*", "/", Duration::from_secs(1)),
            Fault::latency("*", "/", Duration::from_millis(10)),
        ];
        let v = evaluate(&mut fs, "PUT", "/a/x", false);
        assert_eq!(v, Verdict { latency: Duration::from_millis(10), late: Duration::from_secs(3), action: None });
        assert_eq!(evaluate(&mut fs, "PUT", "/a/x", false).late, Duration::from_secs(1));
    }

    #[test]
    fn random_faults_fire_at_their_rate_and_repeat_with_the_seed() {
        let fire = |seed| {
            let mut fs = vec![Fault::new("*", "/", FaultAction::Status(500)).random(100, seed)];
            (0..2000).map(|_| evaluate(&mut fs, "GET", "/x", false).action.is_some()).collect::<Vec<bool>>()
        };
        let hits = fire(1).iter().filter(|h| **h).count();
        assert!((120..=280).contains(&hits), "10% of 2000, got {hits}");
        assert_eq!(fire(1), fire(1));
        assert_ne!(fire(1), fire(2));
    }
}
