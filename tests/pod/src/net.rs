//! The pod's network: a network namespace of its own (the pod sandbox), as a
//! pod without `hostNetwork` has, with loopback up and the `kubernetes`
//! Service's cluster IP on it; a connection to that IP and port is carried to
//! the API server on the test machine's loopback (what kube-proxy does for a
//! Service), and a port of the test machine's loopback is carried to a port of
//! the pod (what `kubectl port-forward` does), for the probes.
//!
//! The namespace is made by one thread (`unshare(CLONE_NEWNET)` is per
//! thread), which binds the Service's listener in it and returns to our own
//! namespace; the namespace lives as long as its file descriptor, which runc
//! joins through `/proc/<pid>/fd/<fd>`. Each forwarded connection is two
//! copying threads; they end when either side closes.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::mpsc;

pub struct Sandbox {
    ns: File,
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    ifr
}

/// In the calling thread's (new) namespace: loopback up, `ip`/32 on it.
fn configure_loopback(ip: Ipv4Addr) -> Result<(), String> {
    // SAFETY: plain socket and ioctl calls on a socket we own, with ifreq
    // values that live across each call.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(os_err("socket"));
        }
        let mut ifr = ifreq("lo");
        if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            libc::close(s);
            return Err(os_err("SIOCGIFFLAGS lo"));
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr) != 0 {
            libc::close(s);
            return Err(os_err("SIOCSIFFLAGS lo up"));
        }
        let set = |req: libc::c_ulong, addr: Ipv4Addr| {
            let mut r = ifreq("lo:svc");
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
                sin_zero: [0; 8],
            };
            std::ptr::copy_nonoverlapping(
                (&sin as *const libc::sockaddr_in).cast::<u8>(),
                &mut r.ifr_ifru as *mut _ as *mut u8,
                std::mem::size_of::<libc::sockaddr_in>(),
            );
            libc::ioctl(s, req, &r)
        };
        // 127.0.0.0/8 is on lo already
        if !ip.is_loopback() && set(libc::SIOCSIFADDR, ip) != 0 {
            libc::close(s);
            return Err(os_err(&format!("SIOCSIFADDR lo:svc {ip}")));
        }
        if !ip.is_loopback() && set(libc::SIOCSIFNETMASK, Ipv4Addr::BROADCAST) != 0 {
            libc::close(s);
            return Err(os_err("SIOCSIFNETMASK lo:svc"));
        }
        libc::close(s);
    }
    Ok(())
}

fn setns(ns: &File) -> Result<(), String> {
    // SAFETY: setns on a namespace fd we hold, for the calling thread only.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(os_err("setns(CLONE_NEWNET)"));
    }
    Ok(())
}

/// Copy both ways until either side closes.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else { return };
    let (mut a, mut b) = (a, b);
    std::thread::spawn(move || {
        let _ = io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(Shutdown::Write);
}

impl Sandbox {
    /// A new network namespace where `service` (the `kubernetes` Service's
    /// address) leads to `api` on our loopback.
    pub fn new(service: SocketAddr, api: SocketAddr) -> Result<Sandbox, String> {
        let SocketAddr::V4(svc) = service else { return Err("the Service address must be IPv4".into()) };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let made = (|| {
                let ours = File::open("/proc/thread-self/ns/net").map_err(|e| format!("open our netns: {e}"))?;
                // SAFETY: unshare of the network namespace affects this thread only.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(os_err("unshare(CLONE_NEWNET)"));
                }
                configure_loopback(*svc.ip())?;
                let listener = TcpListener::bind(svc).map_err(|e| format!("bind {svc} in the pod's namespace: {e}"))?;
                let pod = File::open("/proc/thread-self/ns/net").map_err(|e| format!("open the pod's netns: {e}"))?;
                setns(&ours)?;
                Ok((pod, listener))
            })();
            let _ = tx.send(made);
        });
        let (ns, listener) = rx.recv().map_err(|_| "the sandbox thread died".to_string())??;
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    if let Ok(up) = TcpStream::connect(api) {
                        splice(conn, up);
                    }
                });
            }
        });
        Ok(Sandbox { ns })
    }

    /// The path runc joins.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), self.ns.as_raw_fd()))
    }

    /// Carry 127.0.0.1:`host_port` (ours) to 127.0.0.1:`pod_port` in the pod.
    pub fn expose(&self, host_port: u16, pod_port: u16) -> Result<(), String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, host_port))
            .map_err(|e| format!("bind 127.0.0.1:{host_port}: {e}"))?;
        let ns = self.ns.try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let Ok(ns) = ns.try_clone() else { continue };
                std::thread::spawn(move || {
                    // this thread moves into the pod's namespace for good
                    if setns(&ns).is_ok() {
                        if let Ok(down) = TcpStream::connect((Ipv4Addr::LOCALHOST, pod_port)) {
                            splice(conn, down);
                        }
                    }
                });
            }
        });
        Ok(())
    }
}
