//! Where a process's TCP connections go: its socket inodes (from
//! `/proc/PID/fd`) matched against `/proc/PID/net/tcp{,6}`. The campaign looks
//! now and then and flags any connection of a kured to an address other than
//! the API server and the notification endpoint. A sampled check: a connection
//! opened and closed between two looks goes unseen.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Remote addresses of `pid`'s connected TCP sockets (listening ones left out).
pub fn remote_peers(pid: u32) -> Vec<SocketAddr> {
    let mut inodes = BTreeSet::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                if let Some(i) =
                    target.to_str().and_then(|t| t.strip_prefix("socket:[")).and_then(|t| t.strip_suffix(']'))
                {
                    inodes.insert(i.to_string());
                }
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        out.extend(parse_table(&text).into_iter().filter(|(inode, _)| inodes.contains(inode)).map(|(_, a)| a));
    }
    out
}

/// (inode, remote address) of every non-listening socket in a `/proc/net/tcp{,6}` table.
pub fn parse_table(text: &str) -> Vec<(String, SocketAddr)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (remote, state, inode) = (cols.get(2)?, cols.get(3)?, cols.get(9)?);
            if *state == "0A" {
                return None; // LISTEN
            }
            Some((inode.to_string(), parse_addr(remote)?))
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6), as the kernel prints them.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.swap_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, word) in bytes.chunks_mut(4).enumerate() {
                let w = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                word.copy_from_slice(&w.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0
   1: 0100007F:C350 0100007F:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1
   2: 0100007F:C351 08080808:0035 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1
";

    #[test]
    fn reads_the_kernel_table() {
        let got = parse_table(TABLE);
        assert_eq!(
            got,
            [
                ("222".to_string(), "127.0.0.1:8081".parse().unwrap()),
                ("333".to_string(), "8.8.8.8:53".parse().unwrap())
            ]
        );
        assert_eq!(parse_addr("00000000000000000000000001000000:0050"), Some("[::1]:80".parse().unwrap()));
    }

    #[test]
    fn sees_our_own_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let _c = std::net::TcpStream::connect(addr).unwrap();
        assert!(remote_peers(std::process::id()).contains(&addr));
    }
}
