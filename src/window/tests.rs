//! `--maintenance-window` specs: what parses (and how it reads back), what
//! is refused and why, several windows at once, crossing midnight, and the
//! next opening (also of upstream's window).

use super::*;
use time::format_description::well_known::Rfc3339;

fn t(at: &str) -> OffsetDateTime {
    OffsetDateTime::parse(at, &Rfc3339).unwrap_or_else(|e| panic!("{at}: {e}"))
}

fn windows(specs: &[&str]) -> Schedule {
    Schedule::Windows(specs.iter().map(|s| Recurring::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))).collect())
}

#[track_caller]
fn check(s: &Schedule, at: &str, want: bool) {
    assert_eq!(s.contains(t(at)), want, "({s}) contains {at}");
}

#[track_caller]
fn next(s: &Schedule, after: &str, want: Option<&str>) {
    assert_eq!(s.next_opening(t(after)), want.map(t), "({s}) next opening after {after}");
}

#[track_caller]
fn reads_back(spec: &str, want: &str) {
    let w = Recurring::parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    assert_eq!(w.to_string(), want, "{spec:?}");
}

#[test]
fn specs_read_back_with_their_zone() {
    reads_back("mon-fri 03:00-05:00 Europe/Berlin", "mon-fri 03:00-05:00 Europe/Berlin");
    reads_back("  sat   00:00-24:00 ", "sat 00:00-24:00 UTC");
    reads_back("2nd tue+1 3:00-5:00 America/New_York", "2nd tue+1 3:00-5:00 America/New_York");
    reads_back("mon, wed,fri 22:00-02:00 Local", "mon, wed,fri 22:00-02:00 Local");
}

#[track_caller]
fn days(spec: &str, rules: &[DayRule]) {
    let w = Recurring::parse(&format!("{spec} 03:00-04:00")).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    assert_eq!(w.days, rules, "{spec:?}");
}

#[test]
fn day_forms() {
    use DayRule::*;
    days("mon", &[Weekly(0b10)]);
    days("Sunday,SA", &[Weekly(1), Weekly(0b100_0000)]);
    days("mon-fri", &[Weekly(0b011_1110)]);
    days("fri-mon", &[Weekly(0b110_0011)]);
    days("tue-tue", &[Weekly(0b100)]);
    days("daily", &[Weekly(0x7f)]);
    days("2nd tue+1", &[Monthly { nth: Nth::Ordinal(2), weekday: 2, offset: 1 }]);
    days("last Sun", &[Monthly { nth: Nth::Last, weekday: 0, offset: 0 }]);
    days(
        "1st mon-1, 3rd thursday+6",
        &[
            Monthly { nth: Nth::Ordinal(1), weekday: 1, offset: -1 },
            Monthly { nth: Nth::Ordinal(3), weekday: 4, offset: 6 },
        ],
    );
    days("4th fr-6,sat", &[Monthly { nth: Nth::Ordinal(4), weekday: 5, offset: -6 }, Weekly(0b100_0000)]);
}

#[track_caller]
fn bad(spec: &str, message: &str) {
    match Recurring::parse(spec) {
        Err(m) => assert!(m.contains(message), "{spec:?}: {m:?} should contain {message:?}"),
        Ok(w) => panic!("{spec:?}: expected an error, got {w}"),
    }
}

#[test]
fn bad_specs_say_which_part_is_wrong() {
    bad("", "no time range");
    bad("mon-fri", "no time range");
    bad("03:00-05:00 UTC", "no days before the time range");
    bad("5th mon 03:00-05:00", "day \"5th\": most months have no fifth weekday");
    bad("0th mon 03:00-05:00", "day \"0th\": expected 1st, 2nd, 3rd, 4th or last");
    bad("2nd 03:00-05:00", "day \"2nd\": a monthly day needs its weekday");
    bad("last 03:00-05:00", "day \"last\": a monthly day needs its weekday");
    bad("2nd tue+7 03:00-05:00", "the shift \"+7\" must be +1 to +6");
    bad("2nd tue+0 03:00-05:00", "the shift \"+0\"");
    bad("2nd tue+01 03:00-05:00", "the shift \"+01\"");
    bad("2nd tue +1 03:00-05:00", "day \"2nd tue +1\": expected a weekday");
    bad("funday 03:00-05:00", "day \"funday\": expected a weekday");
    bad("mon-funday 03:00-05:00", "day \"funday\"");
    bad("mon,,fri 03:00-05:00", "an empty day in the list");
    bad("mon 03:00", "time range \"03:00\": expected <start>-<end>");
    bad("mon 3am-5am", "no time range");
    bad("mon 24:00-05:00", "time \"24:00\": expected a 24-hour time");
    bad("mon 03:00-24:01", "time \"24:01\"");
    bad("mon 03:60-05:00", "time \"03:60\"");
    bad("mon 03:00-5:0", "time \"5:0\"");
    bad("mon 003:00-05:00", "time \"003:00\"");
    bad("mon 03:00-05:00:61", "time \"05:00:61\"");
    bad("mon 03:00-05:00 Mars/Olympus_Mons", "time zone \"Mars/Olympus_Mons\": unknown");
    bad("mon 03:00-05:00 europe/berlin", "time zone \"europe/berlin\"");
    bad("mon 03:00-05:00 Europe/Berlin extra", "\"Europe/Berlin extra\" after the time range");
}

#[test]
fn several_windows_each_in_its_zone() {
    // weekdays 03:00-05:00 in Berlin, and Saturday all day in New York
    let s = windows(&["mon-fri 03:00-05:00 Europe/Berlin", "sat 00:00-24:00 America/New_York"]);
    check(&s, "2026-12-07T03:00:00+01:00", true); // Monday
    check(&s, "2026-12-07T04:59:59.999999999+01:00", true);
    check(&s, "2026-12-07T05:00:00+01:00", false);
    check(&s, "2026-12-07T02:59:59+01:00", false);
    check(&s, "2026-12-06T03:30:00+01:00", true); // Sunday in Berlin, still Saturday in New York
    check(&s, "2026-12-06T12:00:00+01:00", false); // Sunday in both
    check(&s, "2026-12-12T00:00:00-05:00", true); // Saturday in New York
    check(&s, "2026-12-12T03:00:00+01:00", false); // Saturday 03:00 in Berlin is Friday 21:00 in New York
    check(&s, "2026-12-12T23:59:59-05:00", true);
    check(&s, "2026-12-13T00:00:00-05:00", false);
    next(&s, "2026-12-07T05:00:00+01:00", Some("2026-12-08T03:00:00+01:00"));
    next(&s, "2026-12-11T05:00:00+01:00", Some("2026-12-12T00:00:00-05:00"));
    next(&s, "2026-12-12T12:00:00-05:00", Some("2026-12-14T03:00:00+01:00"));
}

#[test]
fn an_end_before_the_start_closes_the_next_day() {
    // unlike upstream's --start-time/--end-time, which stay on the listed day
    let s = windows(&["fri 22:00-02:00 UTC"]);
    check(&s, "2026-12-04T21:59:59Z", false);
    check(&s, "2026-12-04T22:00:00Z", true);
    check(&s, "2026-12-05T01:59:59Z", true); // Saturday morning
    check(&s, "2026-12-05T02:00:00Z", false);
    check(&s, "2026-12-04T01:00:00Z", false); // Friday morning belongs to Thursday, not listed
    next(&s, "2026-12-04T23:00:00Z", Some("2026-12-11T22:00:00Z"));
}

#[test]
fn windows_that_touch_open_once() {
    let s = windows(&["sat 00:00-24:00 UTC", "sun 00:00-24:00 UTC", "mon 00:00-06:00 UTC"]);
    check(&s, "2026-12-06T00:00:00Z", true);
    next(&s, "2026-12-04T12:00:00Z", Some("2026-12-05T00:00:00Z"));
    next(&s, "2026-12-05T00:00:00Z", Some("2026-12-12T00:00:00Z"));
    next(&s, "2026-12-07T05:00:00Z", Some("2026-12-12T00:00:00Z"));
    // every day, all day: never closed, so never opens again
    next(&windows(&["daily 00:00-24:00 UTC"]), "2026-12-04T12:00:00Z", None);
    // every day 22:00 to 21:00 the next day: closed an hour a day
    next(&windows(&["daily 22:00-21:00 UTC"]), "2026-12-04T21:30:00Z", Some("2026-12-04T22:00:00Z"));
}

#[test]
fn the_wednesday_after_patch_tuesday() {
    let s = windows(&["2nd tue+1 03:00-05:00 Europe/Berlin"]);
    next(&s, "2026-12-01T00:00:00Z", Some("2026-12-09T03:00:00+01:00"));
    next(&s, "2026-12-09T03:00:00+01:00", Some("2027-01-13T03:00:00+01:00"));
    check(&s, "2026-12-09T04:00:00+01:00", true);
    check(&s, "2026-12-08T04:00:00+01:00", false);
    check(&s, "2026-12-16T04:00:00+01:00", false);
}

#[test]
fn upstream_window_next_opening() {
    let w = |days: &str, start: &str, end: &str| {
        let days: Vec<String> = days.split(',').map(str::to_string).collect();
        Schedule::Upstream(Window::parse(&days, start, end, "America/Los_Angeles").unwrap())
    };
    let s = w("mon,tue,wed,thu,fri", "9am", "5pm");
    next(&s, "2026-12-04T17:00:01-08:00", Some("2026-12-07T09:00:00-08:00")); // Friday evening -> Monday
    next(&s, "2026-12-07T10:00:00-08:00", Some("2026-12-08T09:00:00-08:00"));
    // wrapping midnight on the same day: Monday opens at 00:00 and at 22:00
    let s = w("mo", "22:00", "02:00");
    next(&s, "2026-12-06T12:00:00-08:00", Some("2026-12-07T00:00:00-08:00"));
    next(&s, "2026-12-07T01:00:00-08:00", Some("2026-12-07T22:00:00-08:00"));
    // the default, every day all day: never closed
    next(&w("su,mo,tu,we,th,fr,sa", "0:00", "23:59:59"), "2026-12-07T01:00:00-08:00", None);
    // an empty day list: never opens
    next(&w("", "0:00", "23:59:59"), "2026-12-07T01:00:00-08:00", None);
}

#[test]
fn windows_that_never_open_are_named() {
    let s = windows(&["mon 03:00-05:00 UTC", "2nd tue+1 03:00-03:00 Europe/Berlin"]);
    let warnings = s.never_opens();
    assert_eq!(
        warnings,
        ["--maintenance-window \"2nd tue+1 03:00-03:00 Europe/Berlin\" starts and ends at 03:00: it never opens"]
    );
    next(&windows(&["2nd tue+1 03:00-03:00 Europe/Berlin"]), "2026-12-01T00:00:00Z", None);
    assert!(windows(&["daily 00:00-24:00"]).never_opens().is_empty());
    let upstream = Schedule::Upstream(Window::parse(&[], "0:00", "1:00", "UTC").unwrap());
    assert!(upstream.never_opens()[0].contains("--reboot-days is empty"));
}

#[test]
fn several_windows_read_back_in_the_summary_form() {
    let s = windows(&["mon-fri 03:00-05:00 Europe/Berlin", "sat 00:00-24:00"]);
    assert_eq!(s.to_string(), "mon-fri 03:00-05:00 Europe/Berlin | sat 00:00-24:00 UTC");
}
