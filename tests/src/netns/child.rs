//! A process spawned inside a namespace: its stdin, its stdout (collected, hashed or read line by
//! line) and its stderr (kept as lines that a test can wait for).

use super::guard::lock;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the output readers may lag behind the process's exit.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a child's stdin comes from.
#[derive(Debug, Clone)]
pub enum StdinFrom {
    /// `/dev/null`: end of input at once.
    Null,
    /// A pipe the test writes with [`NsChild::write_stdin`] and closes with
    /// [`NsChild::close_stdin`].
    Piped,
    /// A file.
    File(PathBuf),
}

/// What happens to a child's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutTo {
    /// Kept whole (and hashed).
    Collect,
    /// Only counted and hashed (for transfers too big to keep).
    Hash,
    /// Kept as lines that [`NsChild::next_stdout_line`] hands out one by one.
    Lines,
}

/// Lines of text a reader thread appends to, with a condition variable to wait on.
#[derive(Default)]
struct LineLog {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    closed: bool,
}

impl LineLog {
    fn push(&self, line: String) {
        lock(&self.state).lines.push(line);
        self.changed.notify_all();
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.changed.notify_all();
    }

    /// Waits until a line at index `from` or later satisfies `pred`; returns its index and text.
    fn wait_line(
        &self,
        from: usize,
        deadline: Instant,
        pred: impl Fn(&str) -> bool,
    ) -> Option<(usize, String)> {
        let mut state = lock(&self.state);
        loop {
            if let Some((i, line)) = state
                .lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| pred(l))
            {
                return Some((i, line.clone()));
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wait_closed(&self, deadline: Instant) -> bool {
        let mut state = lock(&self.state);
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    fn text(&self) -> String {
        let state = lock(&self.state);
        let mut text = state.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }
}

/// What the stdout reader found.
struct StdoutSummary {
    bytes: Vec<u8>,
    len: u64,
    sha256: String,
}

/// A finished child: exit status and everything it printed.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// Stdout (empty unless [`StdoutTo::Collect`]).
    pub stdout: Vec<u8>,
    /// How many bytes came out on stdout.
    pub stdout_len: u64,
    /// SHA-256 of stdout, lowercase hex.
    pub stdout_sha256: String,
    /// Stderr, lossily decoded.
    pub stderr: String,
}

impl Finished {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Panics unless the program ended cleanly: status 0 and nothing that looks like a crash.
    /// `what` names it in the message.
    pub fn assert_clean_exit(&self, what: &str) {
        assert!(
            !self.stderr.contains("panicked"),
            "{what} panicked:\n{}",
            self.stderr
        );
        assert!(
            self.status.success(),
            "{what} exited with {}:\n{}",
            self.status,
            self.stderr
        );
    }
}

/// A running child process inside a namespace. Killed (by PID) when dropped.
pub struct NsChild {
    describe: String,
    pid: u32,
    child: Arc<Mutex<Child>>,
    stdin: Option<ChildStdin>,
    stderr: Arc<LineLog>,
    stdout_lines: Arc<LineLog>,
    stdout_done: mpsc::Receiver<StdoutSummary>,
    next_line: usize,
}

impl NsChild {
    /// Spawns `cmd` with the given stdio; `describe` names it in failure messages.
    pub(super) fn spawn(
        mut cmd: Command,
        describe: String,
        stdin: StdinFrom,
        stdout: StdoutTo,
    ) -> NsChild {
        match &stdin {
            StdinFrom::Null => cmd.stdin(Stdio::null()),
            StdinFrom::Piped => cmd.stdin(Stdio::piped()),
            StdinFrom::File(path) => cmd.stdin(
                File::open(path)
                    .unwrap_or_else(|e| panic!("cannot open {} for stdin: {e}", path.display())),
            ),
        };
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{describe}`: {e}"));
        let pid = child.id();
        let child_stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");

        let stderr = Arc::new(LineLog::default());
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            read_lines(err, &log);
            log.close();
        });

        let stdout_lines = Arc::new(LineLog::default());
        let (done_tx, stdout_done) = mpsc::channel();
        let log = Arc::clone(&stdout_lines);
        std::thread::spawn(move || {
            let summary = if stdout == StdoutTo::Lines {
                let summary = read_lines(out, &log);
                log.close();
                summary
            } else {
                read_all(out, stdout == StdoutTo::Collect)
            };
            let _ = done_tx.send(summary);
        });

        NsChild {
            describe,
            pid,
            child: Arc::new(Mutex::new(child)),
            stdin: child_stdin,
            stderr,
            stdout_lines,
            stdout_done,
            next_line: 0,
        }
    }

    /// The process handle shared with the namespace guard, which kills it if the test forgets.
    pub(super) fn shared(&self) -> Arc<Mutex<Child>> {
        Arc::clone(&self.child)
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes to the child's stdin (which must be [`StdinFrom::Piped`]).
    pub fn write_stdin(&mut self, data: &[u8]) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .expect("stdin is piped and not closed yet");
        stdin.write_all(data)?;
        stdin.flush()
    }

    /// Closes the child's stdin: it reads end of input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for a stderr line containing `needle`; panics (with all stderr so far) after
    /// `timeout` or if stderr ends without it.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> String {
        self.wait_stderr_from(0, needle, timeout).1
    }

    /// Like [`NsChild::wait_stderr`], but only looks at lines from index `from` on; returns the
    /// index of the line found too (to wait for the next one after it).
    pub fn wait_stderr_from(
        &self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> (usize, String) {
        self.stderr
            .wait_line(from, Instant::now() + timeout, |l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "`{}` printed no stderr line containing {needle:?} within {timeout:?} \
                     (running: {}); its stderr:\n{}",
                    self.describe,
                    self.is_running(),
                    self.stderr_text()
                )
            })
    }

    /// Everything on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// The next stdout line (with [`StdoutTo::Lines`]); panics after `timeout`.
    pub fn next_stdout_line(&mut self, timeout: Duration) -> String {
        let found = self
            .stdout_lines
            .wait_line(self.next_line, Instant::now() + timeout, |_| true);
        let Some((i, line)) = found else {
            panic!(
                "`{}` printed no stdout line within {timeout:?} (running: {}); stderr:\n{}",
                self.describe,
                self.is_running(),
                self.stderr_text()
            )
        };
        self.next_line = i + 1;
        line
    }

    /// The stdout lines so far (with [`StdoutTo::Lines`]).
    pub fn stdout_lines(&self) -> Vec<String> {
        lock(&self.stdout_lines.state).lines.clone()
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }

    /// Sends `signal` (a name such as `TERM`, `STOP`, `CONT`) with `kill(1)`. Returns false if the
    /// process had already exited. The PID cannot have been recycled: the child is not reaped
    /// while we hold its lock.
    pub fn signal(&self, signal: &str) -> bool {
        let mut child = lock(&self.child);
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(status.success(), "kill -s {signal} {} failed", self.pid);
        true
    }

    /// Freezes the process (SIGSTOP) and waits until every one of its threads is stopped.
    /// kill(2) returns before that: one thread takes the stop and then stops the others, so
    /// on a busy machine another thread can go on for milliseconds (and, say, answer a
    /// packet). Returns false if the process had already exited.
    pub fn freeze(&self) -> bool {
        if !self.signal("STOP") {
            return false;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.all_threads_stopped() {
            assert!(
                Instant::now() < deadline,
                "`{}` did not stop after SIGSTOP",
                self.describe
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Lets a frozen process go on (SIGCONT). Returns false if it had already exited.
    pub fn thaw(&self) -> bool {
        self.signal("CONT")
    }

    /// Whether every thread of the process is in the stopped state (`T` in /proc).
    fn all_threads_stopped(&self) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return false;
        };
        tasks.flatten().all(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                // The state follows the parenthesised command name, which may hold spaces.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.chars().next())
                    .is_some_and(|state| state == 'T')
            })
        })
    }

    /// Waits for the process to exit and collects its output; kills it and panics (with its
    /// stderr) if it runs longer than `timeout`.
    pub fn wait(self, timeout: Duration) -> Finished {
        match self.wait_or_kill(timeout) {
            (true, finished) => finished,
            (false, finished) => panic!(
                "`{}` did not exit within {timeout:?}; killed it. stderr:\n{}",
                self.describe, finished.stderr
            ),
        }
    }

    /// Kills the process (SIGKILL) if it still runs, and collects its output.
    pub fn kill(self) -> Finished {
        self.wait_or_kill(Duration::ZERO).1
    }

    /// Waits up to `timeout`; kills the process if still running then. Returns whether it
    /// exited by itself, and its output.
    fn wait_or_kill(&self, timeout: Duration) -> (bool, Finished) {
        let deadline = Instant::now() + timeout;
        let (exited, status) = loop {
            let mut child = lock(&self.child);
            if let Some(status) = child.try_wait().expect("try_wait on our own child") {
                break (true, status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                break (false, child.wait().expect("wait on our own child"));
            }
            drop(child);
            std::thread::sleep(Duration::from_millis(5));
        };
        let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
        let summary = self
            .stdout_done
            .recv_timeout(DRAIN_TIMEOUT)
            .unwrap_or_else(|_| {
                panic!(
                    "stdout of `{}` stayed open after it exited (a grandchild holds it?)",
                    self.describe
                )
            });
        self.stderr.wait_closed(drain_deadline);
        let stdout = if summary.bytes.is_empty() {
            // In Lines mode the text is in the line log.
            self.stdout_lines.text().into_bytes()
        } else {
            summary.bytes
        };
        (
            exited,
            Finished {
                status,
                stdout,
                stdout_len: summary.len,
                stdout_sha256: summary.sha256,
                stderr: self.stderr_text(),
            },
        )
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        let mut child = lock(&self.child);
        // Does not signal an already reaped child, so never a recycled PID.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Reads `from` line by line into `log`, hashing what it reads.
fn read_lines(from: impl Read, log: &LineLog) -> StdoutSummary {
    let mut reader = BufReader::new(from);
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                hasher.update(&line);
                len += n as u64;
                let text = String::from_utf8_lossy(&line);
                log.push(text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
    StdoutSummary {
        bytes: Vec::new(),
        len,
        sha256: hex(&hasher.finalize()),
    }
}

/// Reads `from` to the end, hashing it and keeping it if `keep`.
fn read_all(mut from: impl Read, keep: bool) -> StdoutSummary {
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                hasher.update(chunk);
                len += n as u64;
                if keep {
                    bytes.extend_from_slice(chunk);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    StdoutSummary {
        bytes,
        len,
        sha256: hex(&hasher.finalize()),
    }
}

/// Lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
