//! The namespace guard: creates a network namespace, runs programs in it, and deletes it (after
//! killing what it spawned) when dropped.

use super::child::{Finished, NsChild, StdinFrom, StdoutTo};
use super::ss::{parse_ss, SsSocket};
use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a command run to completion by [`Netns::exec`] may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Namespaces made by this process, for unique names across parallel test threads.
static NEXT_NAMESPACE: AtomicUsize = AtomicUsize::new(0);

/// A network namespace owned by one test; deleted on drop.
pub struct Netns {
    name: String,
    tuns: Mutex<Vec<String>>,
    children: Mutex<Vec<Arc<Mutex<Child>>>>,
}

/// Panics with a clear message if `program` cannot be run (interop tests never skip).
pub fn require_program(program: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "interop test needs `{program}`, which is not on PATH: install it (see .ci/run)"
    );
}

impl Netns {
    /// Creates `synack-<test>-<pid>-<n>` with its loopback up. Panics if that is impossible
    /// (the tests need root and iproute2).
    pub fn new(test: &str) -> Netns {
        require_program("ip");
        remove_stale_namespaces();
        let tag: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(32)
            .collect();
        let n = NEXT_NAMESPACE.fetch_add(1, Ordering::Relaxed);
        let name = format!("synack-{tag}-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run `ip netns add {name}`: {e}"));
        assert!(
            out.status.success(),
            "interop tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network \
             namespaces: `ip netns add {name}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let ns = Netns {
            name,
            tuns: Mutex::new(Vec::new()),
            children: Mutex::new(Vec::new()),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...`, panics if it fails, returns its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
        assert!(
            out.status.success(),
            "`ip -n {} {}` failed: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds a persistent TUN device `dev` with the kernel-side addresses 10.7.0.1/24 and
    /// fd00:7::1/64, and brings it and loopback up. synack opens the existing device, so the
    /// kernel side is configured before synack starts.
    pub fn add_tun(&self, dev: &str) {
        self.ip(&["tuntap", "add", "dev", dev, "mode", "tun"]);
        lock(&self.tuns).push(dev.to_string());
        self.ip(&["addr", "add", "10.7.0.1/24", "dev", dev]);
        // No duplicate address detection: the address is usable at once, and no DAD probes
        // show up in captures.
        self.ip(&["addr", "add", "fd00:7::1/64", "dev", dev, "nodad"]);
        self.ip(&["link", "set", dev, "up"]);
        self.ip(&["link", "set", "lo", "up"]);
    }

    /// A namespace with `tun0` configured by [`Netns::add_tun`].
    pub fn with_tun(test: &str) -> Netns {
        let ns = Netns::new(test);
        ns.add_tun(super::TUN);
        ns
    }

    /// `ip netns exec NAME program`: a command that runs inside the namespace. `ip netns exec`
    /// execs the program in place, so the spawned PID is the program's own.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Spawns `argv` inside the namespace. The child is killed when the returned handle or
    /// this guard is dropped, whichever comes first.
    pub fn spawn<S: AsRef<OsStr>>(
        &self,
        argv: &[S],
        stdin: StdinFrom,
        stdout: StdoutTo,
    ) -> NsChild {
        let (program, args) = argv.split_first().expect("spawn needs a program");
        if let Some(name) = program.as_ref().to_str() {
            if !name.contains('/') {
                require_program(name);
            }
        }
        let mut cmd = self.command(program);
        cmd.args(args);
        let describe = argv
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let child = NsChild::spawn(cmd, describe, stdin, stdout);
        lock(&self.children).push(child.shared());
        child
    }

    /// Runs `argv` inside the namespace to completion (stdin empty, stdout collected).
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Finished {
        self.spawn(argv, StdinFrom::Null, StdoutTo::Collect)
            .wait(EXEC_TIMEOUT)
    }

    /// `ss -Htan` in the namespace, parsed.
    pub fn ss_tan(&self) -> Vec<SsSocket> {
        self.ss(&["-Htan"])
    }

    /// `ss -Htanio` in the namespace, parsed with each socket's TCP info. (`-o` is there
    /// because iproute2 prints the `ts`, `sack` and `ecn` flags only with it.)
    pub fn ss_tani(&self) -> Vec<SsSocket> {
        self.ss(&["-Htanio"])
    }

    fn ss(&self, flags: &[&str]) -> Vec<SsSocket> {
        let mut argv = vec!["ss"];
        argv.extend_from_slice(flags);
        let out = self.exec(&argv);
        assert!(
            out.status.success(),
            "ss failed in {}: {}",
            self.name,
            out.stderr
        );
        parse_ss(&String::from_utf8_lossy(&out.stdout))
    }

    /// Polls `ss -tani` until a socket matches `pred`; panics with the last listing after
    /// `timeout`.
    pub fn wait_for_socket(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&SsSocket) -> bool,
    ) -> SsSocket {
        self.try_wait_for_socket(what, timeout, pred)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Netns::wait_for_socket`], but returns the failure message (with the last
    /// listing) so the caller can add its own evidence.
    pub fn try_wait_for_socket(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&SsSocket) -> bool,
    ) -> Result<SsSocket, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let sockets = self.ss_tani();
            if let Some(found) = sockets.iter().find(|s| pred(s)) {
                return Ok(found.clone());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no kernel socket in {} is {what} after {timeout:?}; ss -tan shows:\n{}",
                    self.name,
                    sockets
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a kernel socket listens on `port`.
    pub fn wait_listening(&self, port: u16, timeout: Duration) {
        self.wait_for_socket(&format!("listening on port {port}"), timeout, |s| {
            s.state == super::SsState::Listen && s.local.port == Some(port)
        });
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill what we spawned first: a namespace lives on while a process is inside it.
        for child in lock(&self.children).drain(..) {
            let mut child = lock(&child);
            // Child::kill does not signal a child that was already reaped, so this never hits
            // a recycled PID.
            let _ = child.kill();
            let _ = child.wait();
        }
        for dev in lock(&self.tuns).drain(..) {
            let _ = Command::new("ip")
                .args(["-n", &self.name, "link", "del", &dev])
                .stderr(Stdio::null())
                .status();
        }
        match Command::new("ip")
            .args(["netns", "del", &self.name])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: `ip netns del {}` failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("warning: cannot run `ip netns del {}`: {e}", self.name),
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test must still clean up).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deletes namespaces left behind by an interop test process that was killed before its guards
/// ran: names `synack-<test>-<pid>-<n>` whose creator PID is gone and that hold no process.
fn remove_stale_namespaces() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            if !name.starts_with("synack-") {
                continue;
            }
            let mut parts = name.rsplit('-');
            let (Some(n), Some(pid)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(_), Ok(pid)) = (n.parse::<u32>(), pid.parse::<u32>()) else {
                continue;
            };
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let busy = Command::new("ip")
                .args(["netns", "pids", name])
                .output()
                .map(|o| !o.stdout.is_empty() || !o.status.success());
            if busy.unwrap_or(true) {
                continue;
            }
            match Command::new("ip").args(["netns", "del", name]).status() {
                Ok(s) if s.success() => eprintln!("removed stale namespace {name}"),
                _ => {}
            }
        }
    });
}
