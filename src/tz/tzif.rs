//! TZif files (RFC 8536), the compiled zone format in /usr/share/zoneinfo and
//! /etc/localtime. Read for `--time-zone Local` and, in tests, to check the
//! embedded database against the system's. The 64-bit data of version 2+
//! files is used, with the footer's POSIX rule for times after the last
//! transition; leap seconds and the standard/UT indicators do not matter
//! for wall-clock time and are skipped.

use super::{Offset, PosixTz, Zone};

const HEADER: usize = 44;

/// The six counts of a TZif header.
struct Counts {
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

impl Counts {
    fn read(b: &[u8]) -> Result<Counts, String> {
        if b.len() < HEADER || &b[..4] != b"TZif" {
            return Err("not a TZif file".to_string());
        }
        let n = |i: usize| u32::from_be_bytes([b[20 + 4 * i], b[21 + 4 * i], b[22 + 4 * i], b[23 + 4 * i]]) as usize;
        let c = Counts { isut: n(0), isstd: n(1), leap: n(2), time: n(3), types: n(4), chars: n(5) };
        if c.types == 0 || c.types > 256 || c.time > 1 << 20 || c.leap > 1 << 16 || c.chars > 1 << 16 {
            return Err("implausible TZif header counts".to_string());
        }
        Ok(c)
    }

    /// Bytes of the data block after the header, with `t` bytes per time.
    fn data_len(&self, t: usize) -> usize {
        self.time * (t + 1) + self.types * 6 + self.chars + self.leap * (t + 4) + self.isstd + self.isut
    }
}

/// Parse a TZif file into a zone (unnamed: the caller names it).
pub fn parse(b: &[u8]) -> Result<Zone, String> {
    let v1 = Counts::read(b)?;
    let version = b[4];
    let v1_end = HEADER + v1.data_len(4);
    if b.len() < v1_end {
        return Err("truncated TZif file".to_string());
    }
    if version == 0 {
        return zone(&b[HEADER..v1_end], &v1, 4, None);
    }
    let b2 = &b[v1_end..];
    let c = Counts::read(b2)?;
    let end = HEADER + c.data_len(8);
    if b2.len() < end {
        return Err("truncated TZif version 2 data".to_string());
    }
    // footer: "\n<rule>\n"; an unusable rule is ignored, as Go does, and the
    // last transition's offset then stays
    let footer = b2[end..].strip_prefix(b"\n").and_then(|f| {
        let f = &f[..f.iter().position(|&c| c == b'\n')?];
        PosixTz::parse(std::str::from_utf8(f).ok()?).ok()
    });
    zone(&b2[HEADER..end], &c, 8, footer)
}

/// Build the zone from one data block with `t`-byte times.
fn zone(d: &[u8], c: &Counts, t: usize, rule: Option<PosixTz>) -> Result<Zone, String> {
    let idx_at = c.time * t;
    let types_at = idx_at + c.time;
    let types: Vec<Offset> = (0..c.types)
        .map(|i| {
            let p = &d[types_at + 6 * i..];
            let utc_offset = i32::from_be_bytes([p[0], p[1], p[2], p[3]]);
            Offset { utc_offset, is_dst: p[4] != 0 }
        })
        .collect();
    if types.iter().any(|o| !(-25 * 3600..=26 * 3600).contains(&o.utc_offset)) {
        return Err("TZif offset out of range".to_string());
    }
    let mut transitions = Vec::with_capacity(c.time);
    for i in 0..c.time {
        let p = &d[i * t..];
        let at = if t == 8 {
            i64::from_be_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]])
        } else {
            i64::from(i32::from_be_bytes([p[0], p[1], p[2], p[3]]))
        };
        let ty = *types.get(usize::from(d[idx_at + i])).ok_or("TZif transition to an unknown type")?;
        if transitions.last().is_some_and(|&(prev, _)| prev >= at) {
            return Err("TZif transitions out of order".to_string());
        }
        transitions.push((at, ty));
    }
    // RFC 8536: type 0 holds before the first transition
    Ok(Zone { name: String::new(), initial: types[0], transitions, rule })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal version 2 file: one transition at `at` from type 0 to type 1.
    fn file(at: i64, footer: &str) -> Vec<u8> {
        let header = |time: u32, t: usize| {
            let mut h = b"TZif2".to_vec();
            h.extend([0; 15]);
            for n in [0u32, 0, 0, time, 2, 8] {
                h.extend(n.to_be_bytes());
            }
            let mut data = Vec::new();
            if time == 1 {
                data.extend(if t == 8 { at.to_be_bytes().to_vec() } else { (at as i32).to_be_bytes().to_vec() });
                data.push(1);
            }
            data.extend([0xff, 0xff, 0x8f, 0x80, 0, 0]); // -28800, std
            data.extend([0xff, 0xff, 0x9d, 0x90, 1, 4]); // -25200, dst
            data.extend(b"PST\0PDT\0");
            h.extend(data);
            h
        };
        let mut f = header(1, 4);
        f.extend(header(1, 8));
        f.extend(format!("\n{footer}\n").bytes());
        f
    }

    #[test]
    fn parses_a_version_2_file() {
        let z = parse(&file(1_000_000_000, "PST8PDT,M3.2.0,M11.1.0")).unwrap();
        assert_eq!(z.initial.utc_offset, -28800);
        assert_eq!(z.transitions, vec![(1_000_000_000, Offset { utc_offset: -25200, is_dst: true })]);
        assert_eq!(z.rule.as_ref().map(PosixTz::as_str), Some("PST8PDT,M3.2.0,M11.1.0"));
        assert!(parse(&file(5, "nonsense")).unwrap().rule.is_none());
    }

    #[test]
    fn rejects_broken_files() {
        let good = file(7, "");
        for n in 0..good.len() - 2 {
            assert!(parse(&good[..n]).is_err(), "truncated at {n}");
        }
        let mut bad_index = good.clone();
        let last_index = bad_index.len() - 2 - 8 - 12 - 1;
        bad_index[last_index] = 9;
        assert!(parse(&bad_index).is_err());
        assert!(parse(b"TZif2 but nothing else").is_err());
    }
}
