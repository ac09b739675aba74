//! The control socket: a running stack shows its sockets and counters to `synack ss` and
//! `synack netstat -s` over a Unix stream socket. Off by default; [`Net::serve_control`] turns
//! it on.
//!
//! The protocol is one request per line (`sockets` or `stats`), answered with one JSON document
//! per line. The socket file is made mode 0600 and every client's user id is checked
//! (SO_PEERCRED): only the stack's own user (and root) get an answer.

use crate::runtime::{DeviceStats, Net, Shared};
use crate::sys;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;
use synack_core::{State, TcpInfo};

/// How long a client may take to send its request line before the server moves on.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line read (the requests are single words).
const MAX_REQUEST: u64 = 256;

/// One socket as `ss` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketRow {
    /// State as `ss` names it (`ESTAB`, `LISTEN`, `SYN-SENT`, ...).
    pub state: String,
    /// Listener: connections waiting in the accept queue. Connection: bytes not yet read.
    pub recv_q: u64,
    /// Listener: half-open connections. Connection: bytes queued and not yet acknowledged.
    pub send_q: u64,
    /// Local address.
    pub local: SocketAddr,
    /// Peer address (None for a listener).
    pub peer: Option<SocketAddr>,
    /// TCP_INFO-like fields (connections only).
    pub info: Option<InfoRow>,
}

/// The TCP_INFO-like fields of one connection. Times are in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InfoRow {
    /// Smoothed RTT, if measured.
    pub rtt_us: Option<u64>,
    /// RTT variation.
    pub rttvar_us: u64,
    /// Smallest RTT seen.
    pub min_rtt_us: Option<u64>,
    /// Retransmission timeout, with backoff.
    pub rto_us: u64,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes (None before the first loss).
    pub ssthresh: Option<u32>,
    /// Congestion controller.
    pub congestion: String,
    /// Bytes in flight.
    pub bytes_in_flight: u32,
    /// Peer's receive window, bytes.
    pub snd_wnd: u32,
    /// Window we advertise, bytes.
    pub rcv_wnd: u32,
    /// Payload per segment we send.
    pub snd_mss: u32,
    /// MSS we advertised.
    pub rcv_mss: u32,
    /// Window scale shifts (applied to the peer's windows, applied to ours).
    pub wscale: Option<(u8, u8)>,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// In fast recovery.
    pub in_recovery: bool,
    /// Memory held, bytes.
    pub memory: u64,
    /// Segments received.
    pub segs_in: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Fast retransmits.
    pub fast_retransmits: u64,
    /// Retransmission timer expirations.
    pub timeouts: u64,
    /// Duplicate ACKs received.
    pub dup_acks_in: u64,
    /// Challenge ACKs sent.
    pub challenge_acks: u64,
}

impl InfoRow {
    fn from_info(i: &TcpInfo) -> InfoRow {
        let c = &i.counters;
        InfoRow {
            rtt_us: i.srtt.map(|d| d.as_micros() as u64),
            rttvar_us: i.rttvar.as_micros() as u64,
            min_rtt_us: i.min_rtt.map(|d| d.as_micros() as u64),
            rto_us: i.rto.as_micros() as u64,
            cwnd: i.cwnd,
            ssthresh: (i.ssthresh != u32::MAX).then_some(i.ssthresh),
            congestion: i.congestion.to_string(),
            bytes_in_flight: i.bytes_in_flight,
            snd_wnd: i.snd_wnd,
            rcv_wnd: i.rcv_wnd,
            snd_mss: i.snd_mss,
            rcv_mss: i.rcv_mss,
            wscale: i.wscale,
            timestamps: i.timestamps,
            sack: i.sack,
            in_recovery: i.in_recovery,
            memory: i.memory as u64,
            segs_in: c.segs_in,
            segs_out: c.segs_out,
            bytes_sent: c.bytes_sent,
            bytes_acked: c.bytes_acked,
            bytes_received: c.bytes_received,
            retransmits: c.retransmits,
            fast_retransmits: c.fast_retransmits,
            timeouts: c.timeouts,
            dup_acks_in: c.dup_acks_in,
            challenge_acks: c.challenge_acks,
        }
    }
}

/// The answer to `sockets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sockets {
    /// The process serving the socket.
    pub pid: u32,
    /// Listeners first, then connections.
    pub sockets: Vec<SocketRow>,
}

/// The answer to `stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// The process serving the socket.
    pub pid: u32,
    /// Every counter of [`synack_core::Stats::entries`], in its order.
    pub stack: Vec<(String, u64)>,
    /// The device side's counters.
    pub device: DeviceCounters,
}

/// [`DeviceStats`], serializable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCounters {
    /// Packets read from the device.
    pub rx_packets: u64,
    /// Packets written to the device.
    pub tx_packets: u64,
    /// Packets the device refused.
    pub tx_dropped: u64,
    /// Read or write errors.
    pub errors: u64,
}

impl From<DeviceStats> for DeviceCounters {
    fn from(d: DeviceStats) -> Self {
        DeviceCounters {
            rx_packets: d.rx_packets,
            tx_packets: d.tx_packets,
            tx_dropped: d.tx_dropped,
            errors: d.errors,
        }
    }
}

/// The name `ss` gives a state (iproute2's `sstate_name`).
pub fn ss_state_name(state: State) -> &'static str {
    match state {
        State::Closed => "UNCONN",
        State::Listen => "LISTEN",
        State::SynSent => "SYN-SENT",
        State::SynRcvd => "SYN-RECV",
        State::Established => "ESTAB",
        State::FinWait1 => "FIN-WAIT-1",
        State::FinWait2 => "FIN-WAIT-2",
        State::CloseWait => "CLOSE-WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST-ACK",
        State::TimeWait => "TIME-WAIT",
    }
}

/// Where control sockets go when no path is given: `$XDG_RUNTIME_DIR/synack`, else
/// `/run/synack` for root, else `/tmp/synack-UID`. One socket per process, named `PID.sock`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Path::new(&d).join("synack");
    }
    match own_uid() {
        Ok(0) => PathBuf::from("/run/synack"),
        Ok(uid) => PathBuf::from(format!("/tmp/synack-{uid}")),
        Err(_) => PathBuf::from("/tmp/synack"),
    }
}

/// This process's control socket in [`default_dir`].
pub fn default_path() -> PathBuf {
    default_dir().join(format!("{}.sock", std::process::id()))
}

/// The effective user id, read from /proc without a system call of our own.
fn own_uid() -> io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// A running control socket. Dropping it stops the thread and removes the socket file.
#[derive(Debug)]
pub struct ControlHandle {
    path: PathBuf,
    /// (device, inode) of the file we created: only that file is removed on drop.
    identity: (u64, u64),
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlHandle {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept; the thread sees the flag and ends.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.identity {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Net {
    /// Serves this stack's sockets and counters on a Unix socket at `path` (mode 0600; only
    /// this user and root are answered). Refuses to replace anything at `path` except a stale
    /// socket that nobody listens on. The parent directory of a path in [`default_dir`] is
    /// created (mode 0700) if missing.
    pub fn serve_control(&self, path: impl AsRef<Path>) -> io::Result<ControlHandle> {
        let path = path.as_ref().to_path_buf();
        if path.parent() == Some(default_dir().as_path()) {
            create_private_dir(&default_dir())?;
        }
        clear_stale(&path)?;
        let listener = bind_private(&path)?;
        let m = std::fs::symlink_metadata(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(&self.shared);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("synack-control".into())
                .spawn(move || serve(&listener, &weak, &stop))?
        };
        Ok(ControlHandle {
            path,
            identity: (m.dev(), m.ino()),
            stop,
            thread: Some(thread),
        })
    }

    /// The rows `synack ss` shows: listeners, then connections.
    pub fn socket_rows(&self) -> Vec<SocketRow> {
        socket_rows(&self.shared)
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Removes `path` if it is a socket nobody listens on; errors if anything else is there.
fn clear_stale(path: &Path) -> io::Result<()> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !m.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket: not replacing it",
                path.display()
            ),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{} is a live socket (another process serves it)",
                path.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// Binds at a temporary name beside `path`, makes it 0600, then renames it into place: the
/// socket is never reachable under `path` with looser permissions. (The short window at the
/// temporary name is covered by the peer-credential check on every client.)
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(listener)
}

/// The control thread: one client at a time, each with a deadline.
fn serve(listener: &UnixListener, shared: &Weak<Shared>, stop: &AtomicBool) {
    let uid = own_uid().ok();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let allowed = match (sys::peer_uid(&conn), uid) {
            (Ok(peer), Some(me)) => peer == me || peer == 0,
            _ => false,
        };
        if !allowed {
            continue;
        }
        let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
        let _ = conn.set_write_timeout(Some(CLIENT_TIMEOUT));
        let _ = answer(conn, shared);
    }
}

/// Answers every request line of one client until it closes.
fn answer(conn: UnixStream, shared: &Weak<Shared>) -> io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if (&mut reader).take(MAX_REQUEST).read_line(&mut line)? == 0 {
            return Ok(());
        }
        let reply = match shared.upgrade() {
            None => error_json("the stack has stopped"),
            Some(shared) => match line.trim() {
                "sockets" => to_json(&Sockets {
                    pid: std::process::id(),
                    sockets: socket_rows(&shared),
                }),
                "stats" => to_json(&counters(&shared)),
                other => error_json(&format!(
                    "unknown request {other:?}: ask for `sockets` or `stats`"
                )),
            },
        };
        out.write_all(reply.as_bytes())?;
        out.write_all(b"\n")?;
    }
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| error_json(&e.to_string()))
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

/// Copies what the rows need under the lock; builds the rows after releasing it.
fn socket_rows(shared: &Shared) -> Vec<SocketRow> {
    let (listeners, infos): (Vec<_>, Vec<_>) = {
        let inner = shared.lock();
        (
            inner.stack.listeners().collect(),
            inner.stack.connections().map(|(_, t)| t.info()).collect(),
        )
    };
    let mut rows: Vec<SocketRow> = listeners
        .into_iter()
        .map(|(_, addr, accept_queue, half_open)| SocketRow {
            state: ss_state_name(State::Listen).to_string(),
            recv_q: accept_queue as u64,
            send_q: half_open as u64,
            local: addr,
            peer: None,
            info: None,
        })
        .collect();
    rows.extend(infos.iter().map(|i| SocketRow {
        state: ss_state_name(i.state).to_string(),
        recv_q: i.recv_queue as u64,
        send_q: i.send_queue as u64,
        local: i.local,
        peer: Some(i.remote),
        info: Some(InfoRow::from_info(i)),
    }));
    rows
}

fn counters(shared: &Shared) -> Counters {
    let (stats, device) = {
        let inner = shared.lock();
        (inner.stack.stats().clone(), inner.device_stats)
    };
    Counters {
        pid: std::process::id(),
        stack: stats
            .entries()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
        device: device.into(),
    }
}

/// A client of a control socket (what `synack ss` uses).
#[derive(Debug)]
pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl ControlClient {
    /// Connects to the control socket at `path`.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<ControlClient> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        Ok(ControlClient {
            writer: s.try_clone()?,
            reader: BufReader::new(s),
        })
    }

    /// Sends one request line and returns the JSON answer as text.
    pub fn request(&mut self, request: &str) -> io::Result<String> {
        self.writer.write_all(request.as_bytes())?;
        self.writer.write_all(b"\n")?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the control socket closed without answering (not our user's stack?)",
            ));
        }
        Ok(line)
    }

    /// The stack's sockets.
    pub fn sockets(&mut self) -> io::Result<Sockets> {
        parse(&self.request("sockets")?)
    }

    /// The stack's counters.
    pub fn counters(&mut self) -> io::Result<Counters> {
        parse(&self.request("stats")?)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> io::Result<T> {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(line) {
        if let Some(serde_json::Value::String(e)) = m.get("error") {
            return Err(io::Error::other(format!("the stack answered: {e}")));
        }
    }
    serde_json::from_str(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_named_as_ss_names_them() {
        assert_eq!(ss_state_name(State::Established), "ESTAB");
        assert_eq!(ss_state_name(State::SynRcvd), "SYN-RECV");
        assert_eq!(ss_state_name(State::TimeWait), "TIME-WAIT");
        assert_eq!(ss_state_name(State::FinWait1), "FIN-WAIT-1");
    }

    #[test]
    fn an_error_answer_becomes_an_error() {
        let e = parse::<Sockets>(&error_json("nope")).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn a_regular_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sock");
        std::fs::write(&p, b"keep me").unwrap();
        let e = clear_stale(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
    }

    #[test]
    fn a_stale_socket_is_removed_and_a_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sock");
        let live = UnixListener::bind(&p).unwrap();
        assert_eq!(
            clear_stale(&p).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        clear_stale(&p).unwrap();
        assert!(!p.exists());
    }
}
