//! The two ends of a verified bulk transfer over any `Read`/`Write` stream (a kernel socket or a
//! synack one), and the threads that run them.
//!
//! The sender writes the benchmark's [`Pattern`] and shuts its side down; the receiver reads to
//! end of stream, counting bytes and keeping a running [`Checksum`], and notes when the end
//! arrived. Nothing is stored, so the transfer size is not bounded by memory.

use crate::checksum::Checksum;
use crate::pattern::{Pattern, MAX_SLICE};
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a read or write may make no progress before the transfer is declared stuck.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What a receiver read.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// Bytes read before end of stream.
    pub bytes: u64,
    /// Checksum of those bytes.
    pub checksum: u64,
    /// When end of stream was seen.
    pub eof_at: Instant,
}

/// Writes the first `total` bytes of `pattern` to `w`.
pub fn send_pattern(w: &mut impl Write, pattern: &Pattern, total: u64) -> io::Result<()> {
    let mut sent = 0u64;
    while sent < total {
        let want = (total - sent).min(MAX_SLICE as u64) as usize;
        let chunk = pattern.slice(sent, want);
        w.write_all(chunk)?;
        sent += chunk.len() as u64;
    }
    w.flush()
}

/// Reads `r` to end of stream, counting and checksumming what arrives.
pub fn receive_all(r: &mut impl Read) -> io::Result<Received> {
    let mut buf = vec![0u8; MAX_SLICE];
    let mut checksum = Checksum::new();
    loop {
        match r.read(&mut buf) {
            Ok(0) => {
                return Ok(Received {
                    bytes: checksum.len(),
                    checksum: checksum.value(),
                    eof_at: Instant::now(),
                })
            }
            Ok(n) => match buf.get(..n) {
                Some(data) => checksum.update(data),
                None => {
                    return Err(io::Error::other(
                        "read claimed more bytes than it was given",
                    ))
                }
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("read failed after {} bytes: {e}", checksum.len()),
                ))
            }
        }
    }
}

/// A job running on its own thread, whose result arrives on a channel so that waiting for it can
/// time out (a stuck transfer must not hang the benchmark).
pub struct Job<T> {
    what: String,
    rx: mpsc::Receiver<Result<T, String>>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `f` on a new thread, first moved into network namespace `netns` if given (sockets it
    /// opens then belong to that namespace).
    pub fn spawn(
        what: &str,
        netns: Option<&str>,
        f: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<Job<T>, String> {
        let (tx, rx) = mpsc::channel();
        let netns = netns.map(str::to_string);
        let label = what.to_string();
        std::thread::Builder::new()
            .name(what.chars().take(15).collect())
            .spawn(move || {
                let result = match &netns {
                    Some(ns) => synack::enter_netns(ns).map_err(|e| e.to_string()),
                    None => Ok(()),
                }
                .and_then(|()| f());
                // The waiter may have given up; nobody is left to tell.
                let _ = tx.send(result.map_err(|e| format!("{label}: {e}")));
            })
            .map_err(|e| format!("cannot start the {what} thread: {e}"))?;
        Ok(Job {
            what: what.to_string(),
            rx,
        })
    }

    /// Waits at most `timeout` for the result.
    pub fn wait(&self, timeout: Duration) -> Result<T, String> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "{}: no result after {:.0} s",
                self.what,
                timeout.as_secs_f64()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("{}: the thread panicked", self.what))
            }
        }
    }
}

/// A one-shot signal from the coordinating thread to a job: "start now" (so that the clock
/// starts at the same point for every transfer), or dropped unsent: "give up".
pub struct Go(mpsc::Sender<()>);

/// The job's end of a [`Go`].
pub struct WaitGo(mpsc::Receiver<()>);

/// A new start signal.
pub fn go_signal() -> (Go, WaitGo) {
    let (tx, rx) = mpsc::channel();
    (Go(tx), WaitGo(rx))
}

impl Go {
    /// Lets the job start.
    pub fn send(self) {
        let _ = self.0.send(());
    }
}

impl WaitGo {
    /// Blocks until told to start; an error if the coordinator gave up instead.
    pub fn wait(self) -> Result<(), String> {
        self.0
            .recv()
            .map_err(|_| "the benchmark gave up before the start".to_string())
    }
}

/// Accepts one connection on a non-blocking kernel listener, giving up after `timeout`
/// (`std::net::TcpListener::accept` alone would wait forever if the peer never connects).
pub fn accept_kernel(
    listener: &std::net::TcpListener,
    timeout: Duration,
) -> io::Result<std::net::TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no connection came",
                    ));
                }
                // Short naps: the wait is inside the measured time.
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes a call, as a socket does.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            let (head, rest) = self.data.split_at(n);
            buf[..n].copy_from_slice(head);
            self.data = rest;
            Ok(n)
        }
    }

    #[test]
    fn what_is_sent_is_what_is_checked() {
        let pattern = Pattern::new();
        let total = 3 * MAX_SLICE as u64 + 12_345;
        let mut wire = Vec::new();
        send_pattern(&mut wire, &pattern, total).unwrap();
        assert_eq!(wire.len() as u64, total);
        let got = receive_all(&mut Trickle {
            data: &wire,
            step: 1449,
        })
        .unwrap();
        assert_eq!(got.bytes, total);
        assert_eq!(got.checksum, pattern.checksum(total));
        // One byte changed or missing shows.
        wire[777_777] ^= 0x40;
        let bad = receive_all(&mut Trickle {
            data: &wire,
            step: 1000,
        })
        .unwrap();
        assert_ne!(bad.checksum, pattern.checksum(total));
        let short = receive_all(&mut Trickle {
            data: &wire[..wire.len() - 1],
            step: 1000,
        })
        .unwrap();
        assert_eq!(short.bytes, total - 1);
    }

    #[test]
    fn a_job_reports_its_result_or_times_out() {
        let job = Job::spawn("quick job", None, || Ok(7)).unwrap();
        assert_eq!(job.wait(Duration::from_secs(10)), Ok(7));
        let (go, wait_go) = go_signal();
        let stuck = Job::spawn("stuck job", None, move || wait_go.wait()).unwrap();
        assert!(stuck.wait(Duration::from_millis(20)).is_err());
        drop(go);
        let err = stuck.wait(Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("gave up"), "{err}");
    }
}
