//! The zone database compiled into the binary: `tzdata.txt`, generated from
//! the system's tzdata by `scripts/gen-tzdata.py` (its header describes the
//! format). About 19 KiB for all ~600 names, aliases included, because only
//! 2020 onwards is kept and zones with the same data share one entry.

use super::{Offset, PosixTz, Zone};

const DATA: &str = include_str!("tzdata.txt");

/// The zone called `name` (case-sensitive, as zone files are), if known.
pub fn lookup(name: &str) -> Option<Zone> {
    let mut entry = None;
    for line in DATA.lines() {
        if let Some(body) = line.strip_prefix("@ ") {
            entry = Some(body);
        } else if line == name && !line.starts_with('#') {
            // the generator writes well-formed entries; a bad one is a bug
            // there, so refuse the zone rather than guess
            return parse_entry(name, entry?).ok();
        }
    }
    None
}

/// Every zone name in the database.
#[cfg(test)]
pub fn names() -> impl Iterator<Item = &'static str> {
    DATA.lines().filter(|l| !l.starts_with('@') && !l.starts_with('#'))
}

/// `<rule|-> <offset>[d] [<unix>=<offset>[d]]...`
fn parse_entry(name: &str, body: &str) -> Result<Zone, String> {
    let mut fields = body.split(' ');
    let rule = match fields.next().ok_or("empty entry")? {
        "-" => None,
        r => Some(PosixTz::parse(r)?),
    };
    let initial = offset(fields.next().ok_or("no initial offset")?)?;
    let mut transitions = Vec::new();
    for f in fields {
        let (at, off) = f.split_once('=').ok_or_else(|| format!("bad transition {f:?}"))?;
        let at: i64 = at.parse().map_err(|_| format!("bad transition time {at:?}"))?;
        transitions.push((at, offset(off)?));
    }
    Ok(Zone { name: name.to_string(), initial, transitions, rule })
}

fn offset(s: &str) -> Result<Offset, String> {
    let (num, is_dst) = match s.strip_suffix('d') {
        Some(n) => (n, true),
        None => (s, false),
    };
    let utc_offset = num.parse().map_err(|_| format!("bad offset {s:?}"))?;
    Ok(Offset { utc_offset, is_dst })
}
