//! Ready-made observers: a pcap recorder and a trace printer.

use crate::pcap::PcapWriter;
use crate::runtime::{Direction, Observer};
use crate::trace::{TimeStyle, Tracer};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use synack_core::{Event, Instant};

/// Records every packet, both ways, to a pcap file with wall-clock timestamps.
pub struct PcapTap<W: Write> {
    writer: PcapWriter<W>,
    /// The first write error; later packets are not attempted (a full disk should not slow the
    /// stack down).
    failed: Option<io::Error>,
}

impl PcapTap<BufWriter<File>> {
    /// A recorder writing to a new file at `path`.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(PcapTap {
            writer: PcapWriter::create(path)?,
            failed: None,
        })
    }
}

impl<W: Write> PcapTap<W> {
    /// The write error that stopped recording, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.failed.as_ref()
    }
}

impl<W: Write + Send> Observer for PcapTap<W> {
    fn packet(&mut self, _at: Instant, wall: SystemTime, _dir: Direction, packet: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        if let Err(e) = self.writer.write_packet(since_epoch, packet) {
            self.failed = Some(e);
        }
    }

    fn event(&mut self, _at: Instant, _wall: SystemTime, _event: &Event) {}

    fn flush(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.writer.flush() {
                self.failed = Some(e);
            }
        }
    }
}

/// Prints every packet as `tcpdump -n -S` prints it, with tcpdump's time-of-day stamp, and
/// every state transition under the packet that caused it.
pub struct TraceTap<W: Write> {
    tracer: Tracer<W>,
    /// Whether the tracer knows the wall-clock time of the stack's time zero yet.
    zero_known: bool,
}

impl TraceTap<io::Stderr> {
    /// A printer to standard error.
    pub fn stderr() -> Self {
        TraceTap::new(io::stderr())
    }
}

impl<W: Write> TraceTap<W> {
    /// A printer to `out`.
    pub fn new(out: W) -> Self {
        TraceTap {
            tracer: Tracer::new(out, TimeStyle::WallClock),
            zero_known: false,
        }
    }

    fn learn_zero(&mut self, at: Instant, wall: SystemTime) {
        if !self.zero_known {
            let since_zero = Duration::from_micros(at.total_micros());
            self.tracer
                .set_clock_zero(wall.checked_sub(since_zero).unwrap_or(wall));
            self.zero_known = true;
        }
    }
}

impl<W: Write + Send> Observer for TraceTap<W> {
    fn packet(&mut self, at: Instant, wall: SystemTime, _dir: Direction, packet: &[u8]) {
        self.learn_zero(at, wall);
        let _ = self.tracer.packet(at, packet);
    }

    fn event(&mut self, at: Instant, wall: SystemTime, event: &Event) {
        self.learn_zero(at, wall);
        let _ = self.tracer.event(event);
    }

    fn flush(&mut self) {
        let _ = self.tracer.flush();
    }
}
