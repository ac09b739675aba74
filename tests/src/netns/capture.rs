//! Captures of Linux-to-Linux traffic for checking `synack analyze`: tcpdump on a device in a
//! namespace, the pcap's frame count at checkpoints (to line `ss` up with frames), tshark's
//! expert flags for the same file, and a lossy kernel-to-kernel link between two namespaces.

use super::child::{NsChild, StdinFrom, StdoutTo};
use super::guard::{require_program, Netns};
use super::ss::SsState;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long tcpdump may take to start listening or to exit.
const TCPDUMP_TIMEOUT: Duration = Duration::from_secs(20);

/// tshark's TCP expert flags (`tcp.analysis.flags` children, and the RST expert info), as
/// listed by `tshark -G fields` (4.0).
pub const TSHARK_FLAG_FIELDS: [&str; 19] = [
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.reused_ports",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.window_update",
    "tcp.analysis.window_full",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.tfo_syn",
    "tcp.analysis.tfo_ack",
    "tcp.analysis.tfo_ignored",
    "tcp.connection.rst",
];

/// The flags tshark has and the analyzer does not name (TCP Fast Open, port reuse); the table
/// shows them, the comparison leaves them out.
pub const TSHARK_ONLY_FIELDS: [&str; 4] = [
    "tcp.analysis.reused_ports",
    "tcp.analysis.tfo_syn",
    "tcp.analysis.tfo_ack",
    "tcp.analysis.tfo_ignored",
];

/// A running `tcpdump -w` in a namespace.
pub struct Tcpdump {
    child: NsChild,
    path: PathBuf,
}

impl Tcpdump {
    /// Starts `tcpdump -i DEV -w PATH -U -s 262144 tcp` in `ns` and waits until it listens.
    /// `-U` and `--immediate-mode` write every packet as it comes (not a buffer timeout later), so [`Tcpdump::frames`] can count them mid-run.
    pub fn start(ns: &Netns, dev: &str, path: &Path) -> Tcpdump {
        require_program("tcpdump");
        let path_text = path.to_str().expect("capture path is UTF-8");
        let child = ns.spawn(
            &[
                "tcpdump",
                "-i",
                dev,
                "-w",
                path_text,
                "-U",
                "--immediate-mode",
                // 64 MB of kernel buffer: a burst must not outrun tcpdump on a busy machine.
                "-B",
                "65536",
                "-s",
                "262144",
                "-n",
                "tcp",
            ],
            StdinFrom::Null,
            StdoutTo::Collect,
        );
        child.wait_stderr("listening on", TCPDUMP_TIMEOUT);
        Tcpdump {
            child,
            path: path.to_path_buf(),
        }
    }

    /// The capture file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        pcap_frame_count(&self.path)
    }

    /// Waits until no frame has been written for `quiet` (the connection is idle and tcpdump
    /// has caught up), and returns the frame count then. Panics after 10 s of traffic.
    pub fn settle(&self, quiet: Duration) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = self.frames();
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(10));
            let now = self.frames();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "capture {} kept growing for 10 s",
                self.path.display()
            );
        }
    }

    /// Stops tcpdump (SIGINT, so it flushes and closes the file) and returns the file.
    pub fn stop(self) -> PathBuf {
        assert!(
            self.child.signal("INT"),
            "tcpdump exited before it was stopped: {}",
            self.child.stderr_text()
        );
        let finished = self.child.wait(TCPDUMP_TIMEOUT);
        assert!(
            finished.stderr.contains("packets captured"),
            "tcpdump did not finish cleanly: {}",
            finished.stderr
        );
        // A tap that lost packets would make the analyzer (rightly) see gaps that the kernels
        // never had: the comparisons with ss need every packet.
        assert!(
            finished
                .stderr
                .lines()
                .any(|l| l.trim() == "0 packets dropped by kernel"),
            "tcpdump lost packets: {}",
            finished.stderr
        );
        self.path
    }
}

/// Counts the records of a classic pcap file (as tcpdump -w writes it); a record still being
/// written is not counted. 0 for a missing or headerless file.
pub fn pcap_frame_count(path: &Path) -> u64 {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let Some(magic) = bytes.get(0..4) else {
        return 0;
    };
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{} is not a classic pcap file", path.display()),
    };
    let mut at = 24usize;
    let mut count = 0;
    // Record header: ts_sec, ts_frac, incl_len, orig_len (4 bytes each).
    while let Some(header) = bytes.get(at..at + 16) {
        let len_bytes: [u8; 4] = header[8..12].try_into().expect("4 bytes");
        let incl = if little {
            u32::from_le_bytes(len_bytes)
        } else {
            u32::from_be_bytes(len_bytes)
        } as usize;
        if bytes.len() < at + 16 + incl {
            break;
        }
        at += 16 + incl;
        count += 1;
    }
    count
}

/// `(frame, field)` for every flag tshark sets in the capture, for `fields`.
pub fn tshark_flags(path: &Path, fields: &[&str]) -> BTreeSet<(u64, String)> {
    require_program("tshark");
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.number"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    assert!(
        out.status.success(),
        "tshark -r {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut flagged = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut cols = line.split('\t');
        let frame: u64 = cols
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("tshark printed no frame number: {line:?}"));
        for (field, value) in fields.iter().zip(cols) {
            if !value.is_empty() {
                flagged.insert((frame, field.to_string()));
            }
        }
    }
    flagged
}

/// One row of the agreement table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRow {
    /// The tshark field.
    pub field: String,
    /// Frames tshark flags.
    pub tshark: BTreeSet<u64>,
    /// Frames the analyzer flags.
    pub synack: BTreeSet<u64>,
    /// Whether the analyzer has this flag at all.
    pub compared: bool,
}

impl FlagRow {
    /// Same frames on both sides.
    pub fn agrees(&self) -> bool {
        self.tshark == self.synack
    }
}

/// Rows per flag type (every field that either side set), sorted by field.
pub fn flag_rows(
    synack: &BTreeSet<(u64, String)>,
    tshark: &BTreeSet<(u64, String)>,
) -> Vec<FlagRow> {
    let mut rows: BTreeMap<String, FlagRow> = BTreeMap::new();
    let mut row = |field: &str| {
        rows.entry(field.to_string())
            .or_insert_with(|| FlagRow {
                field: field.to_string(),
                tshark: BTreeSet::new(),
                synack: BTreeSet::new(),
                compared: !TSHARK_ONLY_FIELDS.contains(&field),
            })
            .field
            .clone()
    };
    let mut entries = Vec::new();
    for (frame, field) in tshark {
        entries.push((row(field), *frame, true));
    }
    for (frame, field) in synack {
        entries.push((row(field), *frame, false));
    }
    for (field, frame, from_tshark) in entries {
        if let Some(r) = rows.get_mut(&field) {
            if from_tshark {
                r.tshark.insert(frame);
            } else {
                r.synack.insert(frame);
            }
        }
    }
    rows.into_values().collect()
}

/// The table as text: flag, tshark count, synack count, agreed, and the frames that differ.
pub fn flag_table(title: &str, rows: &[FlagRow]) -> String {
    let mut out = format!("flag agreement, {title}:\n");
    let _ = writeln!(
        out,
        "  {:<40} {:>6} {:>6} {:>7}  differing frames (tshark only / synack only)",
        "flag", "tshark", "synack", "agreed"
    );
    for r in rows {
        let only_t: Vec<u64> = r.tshark.difference(&r.synack).copied().collect();
        let only_s: Vec<u64> = r.synack.difference(&r.tshark).copied().collect();
        let _ = writeln!(
            out,
            "  {:<40} {:>6} {:>6} {:>7}  {}",
            r.field,
            r.tshark.len(),
            r.synack.len(),
            if !r.compared {
                "n/a"
            } else if r.agrees() {
                "yes"
            } else {
                "NO"
            },
            if r.agrees() {
                String::new()
            } else {
                format!("{only_t:?} / {only_s:?}")
            }
        );
    }
    if rows.is_empty() {
        out.push_str("  (no flags from either side)\n");
    }
    out
}

/// The analyzer's name (`State::name`) for a state `ss` showed.
pub fn analyzer_state_name(state: &SsState) -> &'static str {
    match state {
        SsState::Listen => "LISTEN",
        SsState::SynSent => "SYN_SENT",
        SsState::SynRecv => "SYN_RCVD",
        SsState::Established => "ESTABLISHED",
        SsState::FinWait1 => "FIN_WAIT_1",
        SsState::FinWait2 => "FIN_WAIT_2",
        SsState::CloseWait => "CLOSE_WAIT",
        SsState::LastAck => "LAST_ACK",
        SsState::Closing => "CLOSING",
        SsState::TimeWait => "TIME_WAIT",
        SsState::Closed => "CLOSED",
        SsState::Other(other) => panic!("ss showed a state the analyzer has no name for: {other}"),
    }
}

/// The kernel state of the connection `local_port` -> `peer_port` in `ns` as the analyzer
/// names it; `CLOSED` when `ss` no longer lists it.
pub fn ss_state_of(ns: &Netns, local_port: u16, peer_port: u16) -> &'static str {
    ns.ss_tan()
        .iter()
        .find(|s| s.is_between(local_port, peer_port))
        .map_or("CLOSED", |s| analyzer_state_name(&s.state))
}

/// Two namespaces whose kernels talk over two TUN devices joined by `lossy_relay.py`, which
/// drops data segments. Two namespaces because the kernels must be distinct hosts: within one
/// namespace traffic to a local address takes `lo` and no relay could sit in its path.
pub struct LossyLink {
    /// The relay; declared first so it is dropped (killed) before the namespaces.
    pub relay: NsChild,
    /// The sending side: `tun-a` with [`LossyLink::A_ADDR`]; the relay runs here.
    pub a: Netns,
    /// The receiving side: `tun-b` with [`LossyLink::B_ADDR`].
    pub b: Netns,
}

impl LossyLink {
    /// The address of namespace `a`.
    pub const A_ADDR: &'static str = "10.9.0.1";
    /// The address of namespace `b`.
    pub const B_ADDR: &'static str = "10.9.0.2";
    /// The TUN device in `a`.
    pub const A_DEV: &'static str = "tun-a";
    /// The TUN device in `b`.
    pub const B_DEV: &'static str = "tun-b";

    /// Sets up both namespaces and the relay: data segments are dropped with probability
    /// `drop_percent`% (seeded by `seed`), and always the `force_drop`-th one (0: never).
    pub fn new(test: &str, drop_percent: f64, seed: u64, force_drop: u32) -> LossyLink {
        require_program("python3");
        let a = Netns::new(&format!("{test}-a"));
        let b = Netns::new(&format!("{test}-b"));
        for (ns, dev, addr) in [
            (&a, Self::A_DEV, Self::A_ADDR),
            (&b, Self::B_DEV, Self::B_ADDR),
        ] {
            ns.ip(&["tuntap", "add", "dev", dev, "mode", "tun"]);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        let script = super::kernel_script("lossy_relay.py");
        let (drop, seed, force) = (
            drop_percent.to_string(),
            seed.to_string(),
            force_drop.to_string(),
        );
        let mut relay = a.spawn(
            &[
                "python3",
                script.to_str().expect("UTF-8 path"),
                Self::A_DEV,
                b.name(),
                Self::B_DEV,
                &drop,
                &seed,
                &force,
            ],
            StdinFrom::Null,
            StdoutTo::Lines,
        );
        let ready = relay.next_stdout_line(Duration::from_secs(20));
        assert_eq!(ready, "ready", "lossy relay did not start");
        LossyLink { relay, a, b }
    }

    /// How many data segments the relay dropped so far.
    pub fn drops(&self) -> usize {
        self.relay
            .stderr_text()
            .lines()
            .filter(|l| l.starts_with("drop "))
            .count()
    }
}
