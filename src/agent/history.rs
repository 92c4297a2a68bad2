//! The node's recent confirmed reboots, for the reboot-loop guard's count in
//! time (`--reboot-loop-window`): the in-a-row count misses a sentinel that
//! reappears only after the first check following each boot (a boot-time job
//! asking again), which reboots a node every few seconds. Kept on the Node,
//! where it survives both reboots and restarts of kured, as the annotation
//! `kured-rs.dev/reboots`: a JSON list of RFC 3339 times, oldest first, at
//! most [`KEPT`] of them. Written in the PATCH that takes kured's marks off
//! after a reboot, read from the Node the check gets anyway. Removing the
//! annotation (`kubectl annotate node N kured-rs.dev/reboots-`) lifts a stop.
//! Pure: the caller reads and writes it.

use std::collections::BTreeMap;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const ANNOTATION: &str = "kured-rs.dev/reboots";
/// The most reboots kept: more than any limit worth setting needs.
pub const KEPT: usize = 20;

/// The reboot times recorded on the node. An unreadable value counts as none
/// (it is ours to overwrite, and a guard must not crash on it).
pub fn recorded(annotations: &BTreeMap<String, String>) -> Vec<OffsetDateTime> {
    let Some(raw) = annotations.get(ANNOTATION) else { return vec![] };
    let Ok(items) = serde_json::from_str::<Vec<String>>(raw) else { return vec![] };
    let mut times: Vec<OffsetDateTime> = items.iter().filter_map(|s| OffsetDateTime::parse(s, &Rfc3339).ok()).collect();
    times.sort();
    times
}

/// The value after a reboot confirmed at `now`: the ones within `window`
/// (all when there is none) and this one, at most [`KEPT`].
pub fn with_reboot(annotations: &BTreeMap<String, String>, now: OffsetDateTime, window: Option<Duration>) -> String {
    let mut times: Vec<OffsetDateTime> =
        recorded(annotations).into_iter().filter(|t| window.is_none_or(|w| now - *t < w)).collect();
    times.push(now);
    let skip = times.len().saturating_sub(KEPT);
    let items: Vec<String> =
        times[skip..].iter().filter_map(|t| t.replace_nanosecond(0).unwrap_or(*t).format(&Rfc3339).ok()).collect();
    serde_json::to_string(&items).unwrap_or_default()
}

/// When the guard stops reboots: `limit` reboots within `window` before
/// `now`. Some(until) = stopped until then (when the oldest counted leaves
/// the window); None = go on.
pub fn stopped_until(
    times: &[OffsetDateTime],
    now: OffsetDateTime,
    window: Option<Duration>,
    limit: u32,
) -> Option<OffsetDateTime> {
    let window = window?;
    if limit == 0 {
        return None;
    }
    let within: Vec<OffsetDateTime> = times.iter().copied().filter(|t| *t <= now && now - *t < window).collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if within.len() < limit {
        return None;
    }
    // It resumes once fewer than `limit` are left in the window.
    Some(within[within.len() - limit] + window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-03 10:00 UTC);
    const H6: Option<Duration> = Some(Duration::from_secs(6 * 3600));

    fn at(s: i64) -> OffsetDateTime {
        T0 + time::Duration::seconds(s)
    }

    fn annotated(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(ANNOTATION.to_string(), value.to_string())])
    }

    #[test]
    fn records_round_trip_oldest_first_and_bounded() {
        let mut a = BTreeMap::new();
        for s in [0, 10, 20] {
            a = annotated(&with_reboot(&a, at(s), H6));
        }
        assert_eq!(a[ANNOTATION], r#"["2026-12-03T10:00:00Z","2026-12-03T10:00:10Z","2026-12-03T10:00:20Z"]"#);
        assert_eq!(recorded(&a), [at(0), at(10), at(20)]);
        for s in 0..30 {
            a = annotated(&with_reboot(&a, at(100 + s), H6));
        }
        assert_eq!(recorded(&a).len(), KEPT);
        assert_eq!(recorded(&a).last(), Some(&at(129)));
        // reboots older than the window are dropped when the next is recorded
        let later = with_reboot(&a, at(7 * 3600), H6);
        assert_eq!(recorded(&annotated(&later)), [at(7 * 3600)]);
    }

    #[test]
    fn unreadable_values_count_as_none() {
        for bad in ["", "x", "{}", "[1,2]", r#"["yesterday"]"#] {
            assert_eq!(recorded(&annotated(bad)), Vec::<OffsetDateTime>::new(), "{bad}");
        }
        assert_eq!(
            recorded(&annotated(r#"["2026-12-03T10:00:20Z","2026-12-03T10:00:00Z"]"#)),
            [at(0), at(20)],
            "sorted"
        );
    }

    #[track_caller]
    fn stops(times: &[i64], now: i64, window: Option<Duration>, limit: u32, want: Option<i64>) {
        let times: Vec<OffsetDateTime> = times.iter().map(|s| at(*s)).collect();
        assert_eq!(stopped_until(&times, at(now), window, limit), want.map(at), "{times:?} at {now}");
    }

    #[test]
    fn the_guard_counts_reboots_within_the_window() {
        let h6 = 6 * 3600;
        // the issue's loop: a reboot every ~8 s, the sentinel back 3 s after each start
        stops(&[0, 8, 16], 24, H6, 3, Some(h6));
        stops(&[0, 8], 16, H6, 3, None);
        stops(&[0, 8, 16, 24], 30, H6, 3, Some(8 + h6));
        // reboots spread wider than the window never stop it
        stops(&[0, h6, 2 * h6], 2 * h6 + 1, H6, 3, None);
        // it resumes once the oldest counted leaves the window
        stops(&[0, 8, 16], h6 - 1, H6, 3, Some(h6));
        stops(&[0, 8, 16], h6, H6, 3, None);
        // off: no window, or no limit
        stops(&[0, 8, 16], 24, None, 3, None);
        stops(&[0, 8, 16], 24, H6, 0, None);
        // a limit of one: any reboot in the window stops the next
        stops(&[0], 10, H6, 1, Some(h6));
    }
}
