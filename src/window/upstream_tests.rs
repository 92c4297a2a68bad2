//! Window tests: upstream's timewindow cases (dates moved from 2019 to the
//! same weekdays of 2025, since history before 2020 is not embedded), time
//! formats, the inclusive end second, wrapping midnight, and DST nights.

use super::*;
use time::format_description::well_known::Rfc3339;

fn split(days: &str) -> Vec<String> {
    days.split(',').map(str::to_string).collect()
}

fn window(days: &str, start: &str, end: &str, zone: &str) -> Window {
    Window::parse(&split(days), start, end, zone).unwrap_or_else(|e| panic!("{days} {start}-{end} {zone}: {e}"))
}

/// Is the RFC 3339 instant `at` inside `w`?
#[track_caller]
fn check(w: &Window, at: &str, want: bool) {
    let now = time::OffsetDateTime::parse(at, &Rfc3339).unwrap_or_else(|e| panic!("{at}: {e}"));
    assert_eq!(w.contains(now), want, "({w}) contains {at}");
}

#[test]
fn upstream_cases() {
    let w = window("mon,tue,wed,thu,fri", "9am", "5pm", "America/Los_Angeles");
    check(&w, "2025-04-03T00:49:00-07:00", false);
    check(&w, "2025-04-04T08:59:00-07:00", false);
    check(&w, "2025-04-04T09:01:00-07:00", true);
    check(&w, "2025-03-30T10:00:00-07:00", false);
    check(&w, "2025-04-03T12:00:00-07:00", true);
    check(&w, "2025-04-03T11:59:00Z", false);

    let w = window("mon,we,fri", "10:01", "11:30am", "America/Los_Angeles");
    check(&w, "2025-04-04T10:30:00-07:00", true);
    check(&w, "2025-04-05T10:30:00-07:00", false);
    check(&w, "2025-04-06T10:30:00-07:00", false);
    check(&w, "2025-04-07T10:30:00-07:00", true);
    check(&w, "2025-04-08T10:30:00-07:00", false);
    check(&w, "2025-04-09T10:30:00-07:00", true);
    check(&w, "2025-04-10T10:30:00-07:00", false);

    let w = window("mo,tu,we,th,fr", "00:00", "23:59:59", "UTC");
    check(&w, "2025-04-17T00:00:00Z", true);
    check(&w, "2025-04-17T23:59:00Z", true);
    check(&w, "2025-04-17T23:59:59.999999999Z", true);
    check(&w, "2025-04-18T00:00:00+01:00", true); // Thursday 23:00 UTC
    check(&w, "2025-04-19T00:00:00Z", false);
}

#[track_caller]
fn days(input: &str, want: &str) {
    let got = Weekdays::parse(&split(input)).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(got.to_string(), want, "{input:?}");
}

#[test]
fn weekday_forms() {
    days("0,4", "Sun---------Thu------");
    days("su,mo,tu", "SunMonTue------------");
    days("sunday,tu,thu", "Sun---Tue---Thu------");
    days("THURSDAY", "------------Thu------");
    days("we,WED,WeDnEsDaY", "---------Wed---------");
    days("6,+1,-0", "SunMon------------Sat");
    days("", "---------------------");
    days(",,,", "---------------------");
    days("su,mo,tu,we,th,fr,sa", "SunMonTueWedThuFriSat");
}

#[track_caller]
fn bad(days: &str, start: &str, end: &str, zone: &str, message: &str) {
    match Window::parse(&split(days), start, end, zone) {
        Err(Error::Usage(m)) => assert!(m.contains(message), "{m:?} should contain {message:?}"),
        other => panic!("{days} {start}-{end} {zone}: expected a usage error, got {other:?}"),
    }
}

#[test]
fn bad_input_names_the_flag_and_value() {
    bad("15", "0:00", "1:00", "UTC", r#"--reboot-days value "15": day number out of range"#);
    bad("-8", "0:00", "1:00", "UTC", r#"--reboot-days value "-8""#);
    bad("8", "0:00", "1:00", "UTC", r#"--reboot-days value "8""#);
    bad("mon,tue,wed,fridayyyy", "0:00", "1:00", "UTC", r#"--reboot-days value "fridayyyy""#);
    bad(" mon", "0:00", "1:00", "UTC", r#"--reboot-days value " mon""#);
    bad("any", "0:00", "1:00", "UTC", r#"--reboot-days value "any""#);
    bad("mo", "0:00", "1:00", "Mars/Olympus_Mons", r#"--time-zone "Mars/Olympus_Mons": unknown time zone"#);
    bad("mo", "0:00", "1:00", "utc", r#"--time-zone "utc""#);
    bad("mo", "24:00", "1:00", "UTC", r#"--start-time "24:00""#);
    bad("mo", "0:00", "9AM", "UTC", r#"--end-time "9AM""#);
}

#[track_caller]
fn time_of_day(s: &str, want: Option<(u8, u8, u8, u32)>) {
    let got = TimeOfDay::parse("start-time", s).ok().map(|t| (t.hour, t.minute, t.second, t.nanosecond));
    assert_eq!(got, want, "{s:?}");
}

#[test]
fn time_formats() {
    time_of_day("15:04", Some((15, 4, 0, 0)));
    time_of_day("0:00", Some((0, 0, 0, 0)));
    time_of_day("09:30", Some((9, 30, 0, 0)));
    time_of_day("23:59:59", Some((23, 59, 59, 0)));
    time_of_day("23:59:59.5", Some((23, 59, 59, 500_000_000)));
    time_of_day("1:02:03,0000000019", Some((1, 2, 3, 1)));
    time_of_day("03:04pm", Some((15, 4, 0, 0)));
    time_of_day("12:30am", Some((0, 30, 0, 0)));
    // Go: 03:04pm wants a two-digit hour, so "5:30pm" is refused (below)
    time_of_day("12:30pm", Some((12, 30, 0, 0)));
    time_of_day("15", Some((15, 0, 0, 0)));
    time_of_day("7", Some((7, 0, 0, 0)));
    time_of_day("03pm", Some((15, 0, 0, 0)));
    time_of_day("12am", Some((0, 0, 0, 0)));
    time_of_day("3pm", Some((15, 0, 0, 0)));
    time_of_day("9am", Some((9, 0, 0, 0)));
    time_of_day("00pm", Some((12, 0, 0, 0)));
    for bad in [
        "",
        "24",
        "24:00",
        "12:60",
        "1:5",
        "13pm",
        "9AM",
        "9 am",
        " 9:00",
        "9:00 ",
        "9:00:00pm",
        "123",
        "9:00:5",
        "noon",
        "9.5",
        "5:30pm",
    ] {
        time_of_day(bad, None);
    }
}

#[test]
fn end_is_inclusive_to_the_end_of_its_second() {
    let w = window("we", "03:00", "05:00", "UTC");
    check(&w, "2026-01-07T02:59:59.999999999Z", false);
    check(&w, "2026-01-07T03:00:00Z", true);
    check(&w, "2026-01-07T05:00:00.999999999Z", true);
    check(&w, "2026-01-07T05:00:01Z", false);
    let w = window("we", "3", "3", "UTC");
    check(&w, "2026-01-07T03:00:00.5Z", true);
    check(&w, "2026-01-07T03:00:01Z", false);
}

#[test]
fn start_after_end_wraps_midnight_on_the_same_day() {
    let w = window("mo", "22:00", "02:00", "UTC");
    check(&w, "2026-01-05T21:59:59Z", false); // Monday
    check(&w, "2026-01-05T22:00:00Z", true);
    check(&w, "2026-01-05T23:59:59Z", true);
    check(&w, "2026-01-05T00:00:00Z", true);
    check(&w, "2026-01-05T02:00:00.9Z", true);
    check(&w, "2026-01-05T02:00:01Z", false);
    check(&w, "2026-01-05T12:00:00Z", false);
    check(&w, "2026-01-06T01:00:00Z", false); // Tuesday is not in the list
    check(&w, "2026-01-04T23:00:00Z", false); // nor Sunday
}

#[test]
fn dst_nights_in_los_angeles() {
    // 2026-03-08: 02:00 PST jumps to 03:00 PDT; 01:00-03:00 is one real hour
    let w = window("su", "01:00", "03:00", "America/Los_Angeles");
    check(&w, "2026-03-08T00:59:59-08:00", false);
    check(&w, "2026-03-08T01:00:00-08:00", true);
    check(&w, "2026-03-08T01:59:59-08:00", true);
    check(&w, "2026-03-08T03:00:00-07:00", true);
    check(&w, "2026-03-08T03:00:01-07:00", false);
    // 02:30-02:45 does not exist that night; Go resolves it to 01:30-01:45 PST
    let w = window("su", "02:30", "02:45", "America/Los_Angeles");
    check(&w, "2026-03-08T01:40:00-08:00", true);
    check(&w, "2026-03-08T03:40:00-07:00", false);
    // 2026-11-01: 02:00 PDT falls back to 01:00 PST; 01:00-03:00 is three real
    // hours, from the first 01:00 (PDT) to 03:00 PST
    let w = window("su", "01:00", "03:00", "America/Los_Angeles");
    check(&w, "2026-11-01T00:59:59-07:00", false);
    check(&w, "2026-11-01T01:30:00-07:00", true);
    check(&w, "2026-11-01T01:30:00-08:00", true);
    check(&w, "2026-11-01T02:59:59-08:00", true);
    check(&w, "2026-11-01T03:00:01-08:00", false);
}

#[test]
fn dst_nights_in_berlin() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST
    let w = window("su", "01:00", "03:00", "Europe/Berlin");
    check(&w, "2026-03-29T00:59:59+01:00", false);
    check(&w, "2026-03-29T01:00:00+01:00", true);
    check(&w, "2026-03-29T01:59:59+01:00", true);
    check(&w, "2026-03-29T03:00:00+02:00", true);
    check(&w, "2026-03-29T03:00:01+02:00", false);
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:xx happens twice
    check(&w, "2026-10-25T00:59:59+02:00", false);
    check(&w, "2026-10-25T01:00:00+02:00", true);
    check(&w, "2026-10-25T02:30:00+02:00", true);
    check(&w, "2026-10-25T02:30:00+01:00", true);
    check(&w, "2026-10-25T03:00:00.5+01:00", true);
    check(&w, "2026-10-25T03:00:01+01:00", false);
    // the weekday is Berlin's, not UTC's: Saturday 23:30 UTC is Sunday there
    let w = window("su", "00:00", "01:00", "Europe/Berlin");
    check(&w, "2026-07-04T22:30:00Z", true);
}

#[test]
fn utc_and_local() {
    let w = window("0,1,2,3,4,5,6", "0:00", "23:59:59", "UTC");
    check(&w, "2030-06-15T12:00:00+05:30", true);
    assert_eq!(w.to_string(), "SunMonTueWedThuFriSat between 00:00 and 23:59 UTC");
    let w = window("sa", "10:00", "11:00", "Local");
    assert_eq!(w.zone().name(), "Local");
    let local = Window::new(w.days, w.start, w.end, Zone::local());
    for at in ["2026-01-03T10:30:00Z", "2026-07-04T10:30:00+02:00", "2026-07-04T03:00:00-07:00"] {
        let now = time::OffsetDateTime::parse(at, &Rfc3339).unwrap();
        assert_eq!(w.contains(now), local.contains(now), "{at}");
    }
}

#[test]
fn display_matches_upstream() {
    let w = window("mon,tue,wed,thu,fri", "9am", "05:30pm", "America/Los_Angeles");
    assert_eq!(w.to_string(), "---MonTueWedThuFri--- between 09:00 and 17:30 America/Los_Angeles");
    let w = window("sat,sun", "22:15:30", "02", "US/Pacific");
    assert_eq!(w.to_string(), "Sun---------------Sat between 22:15 and 02:00 US/Pacific");
}

#[test]
fn windows_that_never_open_say_why() {
    let never = |days: &str, start: &str, end: &str| window(days, start, end, "UTC").never_opens();
    assert!(never("", "00:00", "23:59").is_some_and(|w| w.contains("--reboot-days is empty")));
    assert!(never(",", "00:00", "23:59").is_some());
    assert!(never("mon", "03:00", "03:00").is_some_and(|w| w.contains("--start-time equals --end-time (03:00:00)")));
    assert_eq!(never("mon", "03:00", "03:01"), None);
    assert_eq!(never("mon", "22:00", "02:00"), None);
    assert_eq!(never("mon,tue,wed,thu,fri,sat,sun", "0:00", "23:59:59"), None);
}
