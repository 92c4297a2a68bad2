//! Zone behaviour end to end: the embedded database against the system's
//! zone files, DST nights resolved like Go's `time.Date`, and `Local`.

use super::*;

/// Unix seconds of a UTC date and time.
fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
    days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60
}

fn zone(name: &str) -> Zone {
    Zone::load(name).unwrap_or_else(|| panic!("zone {name} not in the embedded database"))
}

/// `local` wall time in `name` resolves to `want_utc` (both "h:mm" on the given dates).
#[track_caller]
fn resolves(name: &str, local: (i64, u32, u32, i64, i64), want_utc: (i64, u32, u32, i64, i64)) {
    let z = zone(name);
    let (y, mo, d, h, mi) = local;
    let got = z.local_to_utc(utc(y, mo, d, h, mi));
    let (y, mo, d, h, mi) = want_utc;
    assert_eq!(got, utc(y, mo, d, h, mi), "{name} {local:?}");
}

#[test]
fn wall_times_resolve_like_go_time_date() {
    // ordinary times
    resolves("America/Los_Angeles", (2026, 7, 1, 3, 0), (2026, 7, 1, 10, 0));
    resolves("Europe/Berlin", (2026, 1, 15, 3, 0), (2026, 1, 15, 2, 0));
    // Go's guess (the wall time read as UTC) falls before the transition
    // west of UTC and after it east of UTC, so the two sides differ.
    // Spring forward, 02:30 does not exist: Los Angeles lands on 01:30 PST,
    // Berlin on 03:30 CEST.
    resolves("America/Los_Angeles", (2026, 3, 8, 2, 30), (2026, 3, 8, 9, 30));
    resolves("Europe/Berlin", (2026, 3, 29, 2, 30), (2026, 3, 29, 1, 30));
    // Fall back, the hour repeats: Los Angeles picks the first 01:30 (PDT),
    // Berlin the second 02:30 (CET).
    resolves("America/Los_Angeles", (2026, 11, 1, 1, 30), (2026, 11, 1, 8, 30));
    resolves("Europe/Berlin", (2026, 10, 25, 2, 30), (2026, 10, 25, 1, 30));
    // Go skips its correction when the guessed offset is zero: London's
    // repeated 01:30 comes out as the second (GMT) one
    resolves("Europe/London", (2026, 10, 25, 1, 30), (2026, 10, 25, 1, 30));
    resolves("Europe/London", (2026, 3, 29, 1, 30), (2026, 3, 29, 1, 30));
    // southern hemisphere and a half-hour zone
    resolves("Australia/Sydney", (2026, 1, 10, 12, 0), (2026, 1, 10, 1, 0));
    resolves("Asia/Kolkata", (2030, 5, 5, 5, 30), (2030, 5, 5, 0, 0));
}

#[test]
fn aliases_and_special_names() {
    assert_eq!(
        zone("US/Pacific").lookup(utc(2026, 7, 1, 0, 0)),
        zone("America/Los_Angeles").lookup(utc(2026, 7, 1, 0, 0))
    );
    assert_eq!(zone("Asia/Calcutta").lookup(utc(2026, 7, 1, 0, 0)).offset.utc_offset, 19800);
    assert_eq!(zone("US/Pacific").name(), "US/Pacific");
    assert_eq!(zone("").name(), "UTC");
    assert_eq!(zone("Etc/GMT+5").lookup(0).offset.utc_offset, -18000);
    for unknown in
        ["Mars/Olympus_Mons", "america/los_angeles", "UTC ", "../etc/passwd", "posix/UTC", "localtime", "@ GMT0 0"]
    {
        assert!(Zone::load(unknown).is_none(), "{unknown:?} should be unknown");
    }
}

#[test]
fn local_follows_tz_then_etc_localtime_then_utc() {
    let berlin = std::fs::read("/usr/share/zoneinfo/Europe/Berlin").ok();
    let read = |path: &str| (path == "/etc/localtime" || path == "/zones/Berlin").then(|| berlin.clone()).flatten();
    let summer = utc(2026, 7, 1, 0, 0);
    let offset = |tz: Option<&str>, read: &dyn Fn(&str) -> Option<Vec<u8>>| {
        let z = Zone::local_from(tz, read);
        assert_eq!(z.name(), "Local");
        z.lookup(summer).offset.utc_offset
    };
    let nothing = |_: &str| None;
    assert_eq!(offset(None, &nothing), 0);
    assert_eq!(offset(Some(""), &read), 0);
    assert_eq!(offset(Some("Asia/Tokyo"), &nothing), 32400);
    assert_eq!(offset(Some(":Asia/Tokyo"), &nothing), 32400);
    assert_eq!(offset(Some("No/Such_Zone"), &read), 0);
    assert_eq!(offset(None, &|_: &str| Some(b"garbage".to_vec())), 0);
    if berlin.is_none() {
        println!("note: /usr/share/zoneinfo absent, TZif parts of the Local test skipped");
        return;
    }
    assert_eq!(offset(None, &read), 7200);
    assert_eq!(offset(Some("/zones/Berlin"), &read), 7200);
}

/// The embedded database must give the same offset and DST flag as the
/// system's (fat, full-history) zone files every 13 hours, 2024-2035, and
/// at and just before every transition, where wall times around it must
/// also resolve alike.
#[test]
fn embedded_database_agrees_with_system_zoneinfo() {
    let dir = std::path::Path::new("/usr/share/zoneinfo");
    if !dir.join("UTC").exists() {
        println!("note: /usr/share/zoneinfo absent, database comparison skipped");
        return;
    }
    let (from, to) = (utc(2024, 1, 1, 0, 0), utc(2036, 1, 1, 0, 0));
    let mut checked = 0;
    for name in db::names() {
        let Ok(bytes) = std::fs::read(dir.join(name)) else { continue };
        let system = Zone::from_tzif(name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let embedded = zone(name);
        for t in (from..to).step_by(13 * 3600) {
            assert_eq!(embedded.lookup(t).offset, system.lookup(t).offset, "{name} at {t}");
        }
        let mut changes: Vec<i64> = system.transitions.iter().chain(&embedded.transitions).map(|c| c.0).collect();
        if let Some(rule) = &embedded.rule {
            changes.extend((2024..2036).flat_map(|y| rule.changes_in(y)).map(|c| c.0));
        }
        for at in changes.into_iter().filter(|t| (from..to).contains(t)) {
            for t in [at - 1, at] {
                assert_eq!(embedded.lookup(t).offset, system.lookup(t).offset, "{name} at {t}");
            }
            let local = at + i64::from(system.lookup(at - 1).offset.utc_offset);
            for wall in (local - 3 * 3600..local + 3 * 3600).step_by(900) {
                assert_eq!(embedded.local_to_utc(wall), system.local_to_utc(wall), "{name}: wall time {wall}");
            }
        }
        checked += 1;
    }
    assert!(checked > 500, "only {checked} zones compared");
}

/// `python3 scripts/gen-tzdata.py` on this machine's tzdata must reproduce
/// the committed file byte for byte, when the tzdata version is the one it
/// was generated from (a newer system tzdata is a reason to regenerate, not
/// a test failure).
#[test]
fn generated_file_is_reproducible() {
    let committed = include_str!("tzdata.txt");
    let system_version = std::fs::read_to_string("/usr/share/zoneinfo/tzdata.zi")
        .ok()
        .and_then(|zi| zi.lines().next().map(|l| l.trim_start_matches("# version ").to_string()));
    let Some(version) = system_version.filter(|v| committed.contains(&format!("from tzdata {v};"))) else {
        println!("note: system tzdata absent or of another version, reproducibility check skipped");
        return;
    };
    let out = std::env::temp_dir().join(format!("kured-tzdata-{}.txt", std::process::id()));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gen-tzdata.py");
    let status = std::process::Command::new("python3")
        .args([script, "/usr/share/zoneinfo", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .status();
    let Ok(status) = status else {
        println!("note: python3 absent, reproducibility check skipped");
        return;
    };
    assert!(status.success(), "gen-tzdata.py failed");
    let generated = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(generated == committed, "src/tz/tzdata.txt differs from what gen-tzdata.py makes from tzdata {version}");
}
