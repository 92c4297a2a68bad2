//! The one stop flag: set by SIGTERM or SIGINT (a DaemonSet rollout, an
//! uninstall, Ctrl-C), checked by every sleep and wait of the loop. The signal
//! handler only does what is async-signal-safe: an atomic swap and a write(2)
//! to a self-pipe. Waiting is a poll(2) on that pipe with a timeout, so a
//! signal interrupts any wait at once. The byte is never read back: once set,
//! every later wait returns at once. A second signal exits at once (`_exit`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

struct Inner {
    flag: AtomicBool,
    read: OwnedFd,
    write: OwnedFd,
}

/// A cloneable handle on the stop flag.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stop({})", self.is_set())
    }
}

/// The flag the installed handler sets (leaked on purpose: it lives as long as
/// the process, and the handler may run at any moment).
static INSTALLED: AtomicPtr<Inner> = AtomicPtr::new(std::ptr::null_mut());

impl Stop {
    pub fn new() -> Result<Stop> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(Error::Startup(format!("cannot create the stop pipe: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Stop { inner: Arc::new(Inner { flag: AtomicBool::new(false), read, write }) })
    }

    pub fn is_set(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// Set the flag and wake every waiter (what the signal handler does).
    pub fn trigger(&self) {
        trigger(&self.inner);
    }

    /// Wait up to `d`; true if the flag is set (at once, or during the wait).
    pub fn wait(&self, d: Duration) -> bool {
        // (a wait past what Instant can hold is a wait "forever")
        let deadline = Instant::now().checked_add(d);
        loop {
            if self.is_set() {
                return true;
            }
            let left = deadline.map_or(Duration::from_secs(3600), |t| t.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return false;
            }
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            let mut fd = libc::pollfd { fd: self.inner.read.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd for the duration of the call. EINTR and
            // timeouts both loop back to the checks above.
            unsafe { libc::poll(&mut fd, 1, ms) };
        }
    }

    /// Route SIGTERM and SIGINT to this flag (once per process).
    pub fn install_signal_handlers(&self) -> Result<()> {
        let ptr = Arc::into_raw(self.inner.clone()) as *mut Inner;
        if INSTALLED.compare_exchange(std::ptr::null_mut(), ptr, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            // SAFETY: ptr came from Arc::into_raw just above and was not stored.
            drop(unsafe { Arc::from_raw(ptr) });
            return Err(Error::Startup("signal handlers are already installed".into()));
        }
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: a zeroed sigaction is valid; the handler is an extern "C"
            // fn that only does async-signal-safe work.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(Error::Startup(format!(
                        "cannot handle signal {signal}: {}",
                        std::io::Error::last_os_error()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Set the flag; wake waiters the first time. Returns whether it was already set.
fn trigger(inner: &Inner) -> bool {
    let was = inner.flag.swap(true, Ordering::SeqCst);
    if !was {
        let byte = 1u8;
        // SAFETY: write(2) of one byte from a valid buffer; async-signal-safe.
        unsafe { libc::write(inner.write.as_raw_fd(), (&byte as *const u8).cast(), 1) };
    }
    was
}

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno is thread-local; saved and restored around write(2).
    let errno = unsafe { *libc::__errno_location() };
    let ptr = INSTALLED.load(Ordering::SeqCst);
    if ptr.is_null() {
        return;
    }
    // SAFETY: the pointer was leaked from an Arc and is never freed.
    let inner = unsafe { &*ptr };
    if trigger(inner) {
        // The second signal: the operator wants out now, and no host command
        // (nor its process group) may outlive us. kill_running is
        // async-signal-safe (atomic loads and kill(2)).
        crate::hostcmd::kill_running();
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_times_out_unless_triggered() {
        let stop = Stop::new().unwrap();
        let t = Instant::now();
        assert!(!stop.wait(Duration::from_millis(30)));
        assert!(t.elapsed() >= Duration::from_millis(30));
        let other = stop.clone();
        let waiter = std::thread::spawn(move || {
            let t = Instant::now();
            (other.wait(Duration::from_secs(60)), t.elapsed())
        });
        stop.trigger();
        let (stopped, took) = waiter.join().unwrap();
        assert!(stopped && took < Duration::from_secs(30), "woken at once: {took:?}");
        // it stays set: later waits return at once
        assert!(stop.wait(Duration::from_secs(60)) && stop.is_set());
        stop.trigger();
        assert!(stop.is_set());
    }
}
