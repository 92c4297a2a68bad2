#!/usr/bin/env python3
"""Generate src/tz/tzdata.txt, the zone database embedded in the kured binary.

Usage (from the repository root):

    python3 scripts/gen-tzdata.py [ZONEINFO_DIR] [OUTPUT]

ZONEINFO_DIR defaults to /usr/share/zoneinfo (Debian's tzdata package),
OUTPUT to src/tz/tzdata.txt. The output depends only on the input files, so
running it twice gives the same bytes; commit the result.

Why: kured runs in a FROM scratch image with no zone files, and the `time`
crate has no zone database, so `--time-zone America/Los_Angeles` needs data
compiled in. The maintenance window only ever asks about now and the future,
so history before 2020-01-01 is dropped: per zone we keep the offset in force
on 2020-01-01, the explicit transitions after it that the zone's POSIX TZ rule
(the TZif footer) does not already predict, and that rule. Zones with the
same resulting data share one entry, and links (US/Pacific, Asia/Calcutta)
are just more names for it.

Format (one item per line, '#' starts a comment line):
    @ <posix-rule or -> <offset>[d] [<unix-seconds>=<offset>[d]]...
        opens an entry: the rule used from the last listed transition on
        ('-' = none: the last offset stays), the offset in force before the
        first transition, then the transitions; offsets are seconds east of
        UTC, 'd' marks daylight saving time
    <Zone/Name>
        a zone (or link) name using the entry above it
"""

import os
import struct
import sys

CUTOFF = 1577836800  # 2020-01-01T00:00:00Z
HORIZON_YEAR = 2040  # rule transitions are compared up to here


def parse_tzif(data):
    """Return (transitions [(when, offset, isdst)], first type (offset, isdst), footer)."""
    if data[:4] != b"TZif":
        return None
    version = data[4]
    counts = struct.unpack(">6l", data[20:44])
    isut, isstd, leap, timecnt, typecnt, charcnt = counts
    size = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
    if version < ord("2"):
        raise SystemExit("TZif version 1 files are not supported")
    data = data[44 + size:]
    if data[:4] != b"TZif":
        raise SystemExit("bad TZif v2 header")
    isut, isstd, leap, timecnt, typecnt, charcnt = struct.unpack(">6l", data[20:44])
    pos = 44
    times = struct.unpack(">%dq" % timecnt, data[pos:pos + 8 * timecnt])
    pos += 8 * timecnt
    idxs = data[pos:pos + timecnt]
    pos += timecnt
    types = []
    for i in range(typecnt):
        off, dst, _abbr = struct.unpack(">lBB", data[pos + 6 * i:pos + 6 * i + 6])
        types.append((off, bool(dst)))
    pos += 6 * typecnt + charcnt + leap * 12 + isstd + isut
    footer = data[pos:].split(b"\n")[1].decode("ascii")
    tx = [(t, types[i][0], types[i][1]) for t, i in zip(times, idxs)]
    return tx, types[0], footer


# --- POSIX TZ rules (the same semantics as src/tz/posix.rs) ---------------

def _name(s):
    if s.startswith("<"):
        end = s.index(">")
        return s[1:end], s[end + 1:]
    n = 0
    while n < len(s) and s[n].isalpha():
        n += 1
    return s[:n], s[n:]


def _offset(s):
    """Parse [+-]hh[:mm[:ss]] -> (seconds, rest)."""
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    parts = []
    while True:
        n = 0
        while n < len(s) and s[n].isdigit():
            n += 1
        parts.append(int(s[:n]))
        s = s[n:]
        if s[:1] == ":" and len(parts) < 3:
            s = s[1:]
            continue
        break
    parts += [0] * (3 - len(parts))
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]), s


def _date_rule(s):
    """Parse Jn, n or Mm.w.d [/time] -> (rule, rest)."""
    if s[0] == "J":
        n, s = _offset(s[1:])
        kind = ("J", n // 3600)
    elif s[0] == "M":
        body = s[1:].split(",")[0].split("/")[0]
        m, w, d = (int(x) for x in body.split("."))
        kind = ("M", m, w, d)
        s = s[1 + len(body):]
    else:
        n, s = _offset(s)
        kind = ("N", n // 3600)
    secs = 7200
    if s[:1] == "/":
        secs, s = _offset(s[1:])
    return (kind, secs), s


def parse_posix(s):
    """Return (std_off, dst_off or None, start, end) with offsets east of UTC."""
    _, s = _name(s)
    off, s = _offset(s)
    std = -off
    if not s:
        return std, None, None, None
    _, s = _name(s)
    dst = std + 3600
    if s and s[0] != ",":
        off, s = _offset(s)
        dst = -off
    if not s:
        s = ",M3.2.0,M11.1.0"
    start, s = _date_rule(s[1:])
    end, s = _date_rule(s[1:])
    return std, dst, start, end


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


MDAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def rule_day(year, kind):
    """Days since the epoch of the rule's date in `year`."""
    jan1 = days_from_civil(year, 1, 1)
    if kind[0] == "J":
        n = kind[1] - 1
        if is_leap(year) and kind[1] >= 60:
            n += 1
        return jan1 + n
    if kind[0] == "N":
        return jan1 + kind[1]
    _, m, w, d = kind
    first = days_from_civil(year, m, 1)
    wd = (first + 4) % 7
    day = first + (d - wd) % 7 + 7 * (w - 1)
    mlen = MDAYS[m - 1] + (1 if m == 2 and is_leap(year) else 0)
    while day >= first + mlen:
        day -= 7
    return day


def rule_transitions(rule, first_year, last_year):
    """[(when, offset, isdst)] of the rule, chronological."""
    std, dst, start, end = rule
    out = []
    if dst is None:
        return out
    for y in range(first_year, last_year + 1):
        a = (rule_day(y, start[0]) * 86400 + start[1] - std, dst, True)
        b = (rule_day(y, end[0]) * 86400 + end[1] - dst, std, False)
        out += sorted([a, b], key=lambda t: t[0])
    return out


def rule_state(rule, t):
    std, dst, _, _ = rule
    if dst is None:
        return (std, False)
    y = 1970 + t // 31556952
    state = None
    for when, off, isdst in rule_transitions(rule, y - 2, y + 2):
        if when <= t:
            state = (off, isdst)
    return state


def compact(tx, first, footer):
    """Return (initial (offset, isdst), kept transitions) for `CUTOFF` on."""
    initial = first
    for when, off, dst in tx:
        if when <= CUTOFF:
            initial = (off, dst)
    # drop transitions that change nothing we keep (only the abbreviation,
    # or the 2038 end-of-data marker of "fat" files)
    after, prev = [], initial
    for t in tx:
        if t[0] > CUTOFF and (t[1], t[2]) != prev:
            after.append(t)
            prev = (t[1], t[2])
    if not footer:
        return initial, after
    rule = parse_posix(footer)
    last = after[-1][0] if after else CUTOFF
    horizon = days_from_civil(HORIZON_YEAR, 1, 1) * 86400
    predicted = [t for t in rule_transitions(rule, 2019, HORIZON_YEAR)]

    def rule_holds_from(start, state):
        # the rule must give the same state at `start` and the same
        # transitions as the file from there on (past the file's last
        # transition, the rule is the truth by definition)
        if rule_state(rule, start) != state:
            return False
        truth = [t for t in after if t[0] > start]
        mine = [t for t in predicted if start < t[0] <= last]
        drop_same = []
        prev = state
        for t in mine:
            if (t[1], t[2]) != prev:
                drop_same.append(t)
            prev = (t[1], t[2])
        return drop_same == truth and horizon > last

    if rule_holds_from(CUTOFF, initial):
        return initial, []
    for k, (when, off, dst) in enumerate(after):
        if rule_holds_from(when, (off, dst)):
            return initial, after[:k + 1]
    return initial, after


def fmt_off(off, dst):
    return "%d%s" % (off, "d" if dst else "")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src", "tz", "tzdata.txt"))
    version = "unknown"
    try:
        with open(os.path.join(src, "tzdata.zi")) as f:
            version = f.readline().split()[-1]
    except OSError:
        pass
    bodies = {}
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        if rel.split(os.sep)[0] in ("posix", "right"):
            dirs[:] = []
            continue
        dirs.sort()
        for fn in sorted(files):
            name = os.path.normpath(os.path.join(rel, fn)).replace(os.sep, "/")
            if name in ("localtime",):
                continue
            with open(os.path.join(root, fn), "rb") as f:
                parsed = parse_tzif(f.read())
            if parsed is None:
                continue
            tx, first, footer = parsed
            initial, kept = compact(tx, first, footer)
            body = " ".join(["@", footer or "-", fmt_off(*initial)]
                            + ["%d=%s" % (w, fmt_off(o, d)) for w, o, d in kept])
            bodies.setdefault(body, []).append(name)
    lines = [
        "# kured-rs embedded zone database, generated by scripts/gen-tzdata.py",
        "# from tzdata %s; do not edit. History before 2020-01-01 is not kept." % version,
    ]
    for body, names in sorted(bodies.items(), key=lambda kv: min(kv[1])):
        lines.append(body)
        lines.extend(sorted(names))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d zones, %d entries, %d bytes" % (
        out, sum(len(n) for n in bodies.values()), len(bodies),
        os.path.getsize(out)))


if __name__ == "__main__":
    main()
