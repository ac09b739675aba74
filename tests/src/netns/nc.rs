//! Starting `synack nc` inside a namespace.

use super::child::{NsChild, StdinFrom, StdoutTo};
use super::guard::Netns;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// How long synack may take to open the device and listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A `synack nc` command line on the namespace's `tun0` with the addresses 10.7.0.2/24 and
/// fd00:7::2/64.
pub struct SynackNc {
    argv: Vec<OsString>,
    stdin: StdinFrom,
    stdout: StdoutTo,
}

impl SynackNc {
    /// `BIN nc --tun tun0 --ip 10.7.0.2/24 --ip fd00:7::2/64`, stdin empty, stdout collected.
    pub fn new(bin: impl AsRef<Path>) -> SynackNc {
        SynackNc::on_device(bin, super::TUN)
    }

    /// The same on another TUN device.
    pub fn on_device(bin: impl AsRef<Path>, dev: &str) -> SynackNc {
        let mut argv: Vec<OsString> = vec![bin.as_ref().into()];
        for a in [
            "nc",
            "--tun",
            dev,
            "--ip",
            "10.7.0.2/24",
            "--ip",
            "fd00:7::2/64",
        ] {
            argv.push(a.into());
        }
        SynackNc {
            argv,
            stdin: StdinFrom::Null,
            stdout: StdoutTo::Collect,
        }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> SynackNc {
        self.argv.push(arg.into());
        self
    }

    /// `--trace`: packets and state transitions on stderr.
    pub fn trace(self) -> SynackNc {
        self.arg("--trace")
    }

    /// `--pcap FILE`.
    pub fn pcap(self, file: &Path) -> SynackNc {
        self.arg("--pcap").arg(file)
    }

    /// Where stdin comes from.
    pub fn stdin(mut self, stdin: StdinFrom) -> SynackNc {
        self.stdin = stdin;
        self
    }

    /// What happens to stdout.
    pub fn stdout(mut self, stdout: StdoutTo) -> SynackNc {
        self.stdout = stdout;
        self
    }

    /// The command line so far (program first).
    pub fn argv(&self) -> &[OsString] {
        &self.argv
    }

    /// Runs `... -v HOST PORT` in `ns`.
    pub fn connect(self, ns: &Netns, host: &str, port: u16) -> NsChild {
        let nc = self.arg("-v").arg(host).arg(port.to_string());
        ns.spawn(&nc.argv, nc.stdin, nc.stdout)
    }

    /// Runs `... -l -v PORT` in `ns` and waits until synack says it listens.
    pub fn listen(self, ns: &Netns, port: u16) -> NsChild {
        let nc = self.arg("-l").arg("-v").arg(port.to_string());
        let child = ns.spawn(&nc.argv, nc.stdin, nc.stdout);
        child.wait_stderr(&format!("listening on {port}"), LISTEN_TIMEOUT);
        child
    }
}
