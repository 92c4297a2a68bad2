//! Waiting for a child while collecting a bounded amount of its stdout and
//! stderr, with an optional deadline after which the child is killed: a hung
//! sentinel or reboot command must not block the daemon forever, and a chatty
//! one must not fill our memory.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How much of each stream we keep; the rest is read and dropped so the child
/// never blocks on a full pipe.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// How long to go on reading after the child exited: a background grandchild
/// may hold the pipes open forever.
const LINGER: Duration = Duration::from_millis(500);

/// How long one `poll` waits, bounding how late we notice an exit or deadline.
const TICK_MS: i32 = 50;

struct Stream<R> {
    pipe: Option<R>,
    kept: Vec<u8>,
    dropped: usize,
}

impl<R: Read + AsRawFd> Stream<R> {
    fn new(pipe: Option<R>) -> Self {
        Stream { pipe, kept: Vec::new(), dropped: 0 }
    }

    /// Read once (poll said the pipe is readable, so this does not block).
    fn read_some(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else { return };
        let mut buf = [0u8; 8192];
        match pipe.read(&mut buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                let keep = n.min(OUTPUT_LIMIT - self.kept.len());
                self.kept.extend_from_slice(&buf[..keep]);
                self.dropped += n - keep;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => self.pipe = None,
        }
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[{} more bytes not shown]", self.dropped));
        }
        text
    }
}

/// What the wait saw.
pub(super) struct Finished {
    pub status: ExitStatus,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Wait for `child` to exit (killing it at `timeout`), collecting its output.
pub(super) fn wait_capturing(child: &mut Child, timeout: Option<Duration>) -> io::Result<Finished> {
    let mut out = Stream::new(child.stdout.take());
    let mut err = Stream::new(child.stderr.take());
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if exited.is_none() {
            if let Some(status) = child.try_wait()? {
                exited = Some((status, now));
            } else if deadline.is_some_and(|d| now >= d) {
                // The whole group: `sh -c 'sleep 1000'` has a grandchild that
                // would hold the pipes and live on. Kill fails only if it all
                // exited already; wait reaps the leader either way.
                super::group::kill_group(child);
                exited = Some((child.wait()?, now));
                timed_out = true;
            }
        }
        let open = out.pipe.is_some() || err.pipe.is_some();
        match exited {
            Some((status, at)) if !open || now >= at + LINGER || timed_out => {
                return Ok(Finished { status, timed_out, stdout: out.text(), stderr: err.text() });
            }
            _ => {}
        }
        poll_and_read(&mut out, &mut err);
    }
}

/// Wait up to one tick for either pipe to become readable, then read it.
fn poll_and_read<A: Read + AsRawFd, B: Read + AsRawFd>(out: &mut Stream<A>, err: &mut Stream<B>) {
    let fd = |p: Option<i32>| libc::pollfd { fd: p.unwrap_or(-1), events: libc::POLLIN, revents: 0 };
    // A negative fd is ignored by poll, so closed pipes need no special case.
    let mut fds = [fd(out.pipe.as_ref().map(|p| p.as_raw_fd())), fd(err.pipe.as_ref().map(|p| p.as_raw_fd()))];
    // SAFETY: fds is a valid array of two pollfd for the duration of the call.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, TICK_MS) };
    if ready <= 0 {
        return; // timeout, or EINTR: the caller loops
    }
    if fds[0].revents != 0 {
        out.read_some();
    }
    if fds[1].revents != 0 {
        err.read_some();
    }
}
