//! A kernel socket driven step by step (`tests/src/kernel/peer.py`).

use super::child::{NsChild, StdinFrom, StdoutTo};
use super::guard::Netns;
use std::time::Duration;

/// How long one step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// A kernel TCP socket in a namespace that the test moves one call at a time.
pub struct KernelPeer {
    child: NsChild,
    /// The kernel socket's local port (for a listener: the listening port until `accept`).
    pub local_port: u16,
}

impl KernelPeer {
    /// A kernel listener on `host:port` (accept with [`KernelPeer::accept`]).
    pub fn listen(ns: &Netns, host: &str, port: u16) -> KernelPeer {
        let mut peer = KernelPeer::start(ns, "listen", host, port);
        let line = peer.child.next_stdout_line(STEP_TIMEOUT);
        peer.local_port = parse_port(&line, "listening");
        peer
    }

    /// A kernel socket connected to `host:port`; `Err` carries the error line (e.g.
    /// `error ECONNREFUSED ...`).
    pub fn connect(ns: &Netns, host: &str, port: u16) -> Result<KernelPeer, String> {
        let mut peer = KernelPeer::start(ns, "connect", host, port);
        let line = peer.child.next_stdout_line(STEP_TIMEOUT);
        if line.starts_with("error") {
            return Err(line);
        }
        peer.local_port = parse_port(&line, "connected");
        Ok(peer)
    }

    fn start(ns: &Netns, mode: &str, host: &str, port: u16) -> KernelPeer {
        let script = super::kernel_script("peer.py");
        let port = port.to_string();
        let argv = [
            "python3".as_ref(),
            script.as_os_str(),
            mode.as_ref(),
            host.as_ref(),
            port.as_ref(),
        ];
        KernelPeer {
            child: ns.spawn(&argv, StdinFrom::Piped, StdoutTo::Lines),
            local_port: 0,
        }
    }

    /// Sends one command and returns the answer line.
    pub fn command(&mut self, line: &str) -> String {
        self.child
            .write_stdin(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| {
                panic!(
                    "kernel peer is gone ({e}); stderr:\n{}",
                    self.child.stderr_text()
                )
            });
        self.child.next_stdout_line(STEP_TIMEOUT)
    }

    /// Accepts one connection; returns the peer's port.
    pub fn accept(&mut self) -> u16 {
        let line = self.command("accept");
        let port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .filter(|_| line.starts_with("accepted"));
        port.unwrap_or_else(|| panic!("kernel accept failed: {line}"))
    }

    /// `sendall(data)`.
    pub fn send(&mut self, data: &[u8]) {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        let line = self.command(&format!("send {hex}"));
        assert_eq!(line, "ok", "kernel send failed");
    }

    /// Reads exactly `n` bytes (fewer if the stream ends first: `Err` with what came).
    pub fn recv_exact(&mut self, n: usize) -> Result<Vec<u8>, Vec<u8>> {
        let line = self.command(&format!("recv_exact {n}"));
        match line.split_once(' ') {
            Some(("data", hex)) => Ok(unhex(hex)),
            Some(("eof", hex)) => Err(unhex(hex)),
            _ => panic!("kernel recv failed: {line}"),
        }
    }

    /// Reads until end of stream. `Err` carries the error line (e.g. `error ECONNRESET ...`).
    pub fn recv_to_eof(&mut self) -> Result<Vec<u8>, String> {
        let line = self.command("recv_eof");
        match line.split_once(' ') {
            Some(("eof", hex)) => Ok(unhex(hex)),
            _ if line == "eof" => Ok(Vec::new()),
            _ => Err(line),
        }
    }

    /// `shutdown(SHUT_WR)`: the kernel sends its FIN and can still read.
    pub fn shut_wr(&mut self) {
        let line = self.command("shut_wr");
        assert_eq!(line, "ok", "kernel shutdown failed");
    }

    /// `close()`.
    pub fn close(&mut self) {
        let line = self.command("close");
        assert_eq!(line, "ok", "kernel close failed");
    }

    /// `close()` with `SO_LINGER` 0: the kernel resets the connection (RST).
    pub fn abort(&mut self) {
        let line = self.command("abort");
        assert_eq!(line, "ok", "kernel abort failed");
    }
}

fn parse_port(line: &str, word: &str) -> u16 {
    line.strip_prefix(word)
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("kernel peer did not start: {line}"))
}

fn unhex(hex: &str) -> Vec<u8> {
    let hex = hex.trim();
    (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| panic!("kernel peer sent bad hex: {hex}"))
        })
        .collect()
}
