//! `synack analyze` on tcpdump captures of Linux talking to Linux in network namespaces: the
//! end reason and who closed first, each endpoint's inferred state at every point where the
//! test looked at the kernel with `ss` (lined up by the number of frames captured by then),
//! and the expert findings against tshark's `tcp.analysis.*` flags for the same file, per flag
//! type.
//!
//! Scenarios: a plain transfer closed by the client, one closed by the server, an abort (RST
//! via SO_LINGER 0), a refused connect, and a lossy transfer. The plain ones run over `lo` in
//! one namespace. The lossy one needs a path a relay can sit in, so it runs between two
//! namespaces joined by two TUN devices and `lossy_relay.py`, which drops about 2% of data
//! segments: this kernel has no netem, and neither `nft` nor `iptables` is installed.
//!
//! Needs root, tcpdump, tshark and python3; a missing one fails the test loudly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use synack_tests::netns::{
    flag_rows, flag_table, random_file, ss_state_of, tshark_flags, KernelPeer, LossyLink, Netns,
    StdinFrom, StdoutTo, Tcpdump, TSHARK_FLAG_FIELDS,
};

const T: Duration = Duration::from_secs(10);
/// How long a capture must stay still before its frame count is taken at a checkpoint.
const QUIET: Duration = Duration::from_millis(150);
const LO: &str = "127.0.0.1";

/// Where a test's captures go: a temporary directory, or `$SYNACK_KEEP_CAPTURES/<test>` (kept,
/// for looking at a failure with tshark).
fn capture_dir(test: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("SYNACK_KEEP_CAPTURES") {
        Some(root) => {
            let dir = PathBuf::from(root).join(test);
            std::fs::create_dir_all(&dir).expect("create the capture directory");
            (None, dir)
        }
        None => {
            let tmp = tempfile::tempdir().expect("temporary directory");
            let dir = tmp.path().to_path_buf();
            (Some(tmp), dir)
        }
    }
}

/// What `ss` showed at one point of a run, and how many frames were captured by then.
#[derive(Debug)]
struct Checkpoint {
    label: &'static str,
    frames: u64,
    /// Client then server, in the analyzer's state names (`CLOSED` when ss lists nothing).
    states: [&'static str; 2],
}

/// Waits until ss shows `want` for (client, server), lets the capture settle, and records what
/// ss shows then (which must still be `want`: the connection is idle at a checkpoint).
fn checkpoint(
    label: &'static str,
    tcpdump: &Tcpdump,
    [client_ns, server_ns]: [&Netns; 2],
    [client_port, server_port]: [u16; 2],
    want: [&'static str; 2],
) -> Checkpoint {
    let observe = || {
        [
            ss_state_of(client_ns, client_port, server_port),
            ss_state_of(server_ns, server_port, client_port),
        ]
    };
    let deadline = Instant::now() + T;
    while observe() != want {
        assert!(
            Instant::now() < deadline,
            "{label}: ss shows (client, server) = {:?}, expected {want:?}",
            observe()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let frames = tcpdump.settle(QUIET);
    let states = observe();
    assert_eq!(
        states, want,
        "{label}: ss changed while the capture settled"
    );
    Checkpoint {
        label,
        frames,
        states,
    }
}

fn synack_analyze(pcap: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .arg("analyze")
        .arg(pcap)
        .arg("--json")
        .output()
        .expect("run synack analyze");
    assert!(
        out.status.success(),
        "synack analyze {} failed: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("analyze --json prints JSON")
}

/// The capture's one connection.
fn only_connection(analysis: &Value) -> &Value {
    let conns = analysis["connections"].as_array().expect("connections");
    assert_eq!(
        conns.len(),
        1,
        "one connection in the capture: {analysis:#}"
    );
    &conns[0]
}

/// The analyzer's state for an endpoint once it has seen `frames` frames.
fn state_at(endpoint: &Value, frames: u64) -> String {
    let mut state = endpoint["initial_state"]
        .as_str()
        .expect("initial_state")
        .to_string();
    for change in endpoint["states"].as_array().expect("states") {
        if change["frame"].as_u64().expect("frame") <= frames {
            state = change["to"].as_str().expect("to").to_string();
        }
    }
    state
}

/// The analyzer's states at every checkpoint equal what ss showed then.
fn assert_states_match_ss(scenario: &str, conn: &Value, checkpoints: &[Checkpoint]) {
    assert!(!checkpoints.is_empty(), "{scenario}: no checkpoints");
    for cp in checkpoints {
        for (i, side) in ["client", "server"].into_iter().enumerate() {
            // RFC 9293 §3.3.2 (Figure 5): the state a segment sequence leads to is fixed, so
            // the kernel's state after the frames seen so far is the analyzer's.
            assert_eq!(
                state_at(&conn[side], cp.frames),
                cp.states[i],
                "{scenario}, checkpoint {:?} after frame {}: {side} state (ss vs synack); \
                 {side} transitions: {:#}",
                cp.label,
                cp.frames,
                conn[side]["states"]
            );
        }
    }
    let last = checkpoints.last().expect("a checkpoint");
    for (i, side) in ["client", "server"].into_iter().enumerate() {
        assert_eq!(
            conn[side]["final_state"], last.states[i],
            "{scenario}: {side} final state vs ss at the end"
        );
    }
}

/// The analyzer's findings as (frame, tshark field).
fn synack_flags(conn: &Value) -> BTreeSet<(u64, String)> {
    conn["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| {
            // Unit variants serialize as a string, `duplicate_ack {count}` as an object.
            let kind = f["kind"].as_object().map_or_else(
                || f["kind"].as_str().expect("kind").to_string(),
                |o| o.keys().next().expect("kind").clone(),
            );
            let field = match kind.as_str() {
                "previous_segment_not_captured" => "tcp.analysis.lost_segment".to_string(),
                "acked_unseen_segment" => "tcp.analysis.ack_lost_segment".to_string(),
                "rst" => "tcp.connection.rst".to_string(),
                other => format!("tcp.analysis.{other}"),
            };
            let frame = f["frame"].as_u64().expect("frame");
            // Wireshark flags a fast retransmission as a retransmission too (its expert info
            // for the frame carries both messages); the analyzer names the finer one.
            let also = (kind == "fast_retransmission")
                .then(|| (frame, "tcp.analysis.retransmission".to_string()));
            std::iter::once((frame, field)).chain(also)
        })
        .collect()
}

/// Prints the per-flag table and asserts exact (frame, flag) agreement for every flag type the
/// analyzer has. Returns tshark's flags.
fn assert_flags_match_tshark(title: &str, pcap: &Path, conn: &Value) -> BTreeSet<(u64, String)> {
    let ours = synack_flags(conn);
    let theirs = tshark_flags(pcap, &TSHARK_FLAG_FIELDS);
    let rows = flag_rows(&ours, &theirs);
    let table = flag_table(title, &rows);
    println!("{table}");
    for r in &rows {
        assert!(
            TSHARK_FLAG_FIELDS.contains(&r.field.as_str()),
            "{title}: synack reports {}, which tshark does not have",
            r.field
        );
    }
    assert!(
        rows.iter().filter(|r| r.compared).all(|r| r.agrees()),
        "{title}: synack and tshark disagree:\n{table}"
    );
    theirs
}

fn end_of(conn: &Value) -> (String, Option<String>) {
    (
        conn["end"]["kind"].as_str().expect("end kind").to_string(),
        conn["end"]["by"].as_str().map(str::to_string),
    )
}

/// A kernel listener and a kernel client on `lo`, connected, with tcpdump on `lo`.
struct LoopbackPair {
    tcpdump: Tcpdump,
    server: KernelPeer,
    client: KernelPeer,
    ports: [u16; 2],
    ns: Netns,
}

impl LoopbackPair {
    fn new(test: &str, pcap: PathBuf) -> LoopbackPair {
        let ns = Netns::new(test);
        let tcpdump = Tcpdump::start(&ns, "lo", &pcap);
        let mut server = KernelPeer::listen(&ns, LO, 0);
        let server_port = server.local_port;
        let client = KernelPeer::connect(&ns, LO, server_port).expect("kernel connect");
        let client_port = server.accept();
        assert_eq!(client_port, client.local_port);
        LoopbackPair {
            tcpdump,
            server,
            client,
            ports: [client_port, server_port],
            ns,
        }
    }

    fn checkpoint(&self, label: &'static str, want: [&'static str; 2]) -> Checkpoint {
        checkpoint(label, &self.tcpdump, [&self.ns, &self.ns], self.ports, want)
    }

    /// Client sends `n` bytes, the server reads them all.
    fn transfer(&mut self, n: usize) {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
        self.client.send(&data);
        assert_eq!(self.server.recv_exact(n), Ok(data), "server got the bytes");
    }
}

/// Runs a loopback scenario's checks on the finished capture.
fn check_capture(scenario: &str, pcap: &Path, checkpoints: &[Checkpoint]) -> Value {
    let analysis = synack_analyze(pcap);
    let conn = only_connection(&analysis).clone();
    assert_states_match_ss(scenario, &conn, checkpoints);
    assert_flags_match_tshark(scenario, pcap, &conn);
    conn
}

#[test]
fn plain_transfer_client_closes_first() {
    let (_tmp, dir) = capture_dir("plain");
    let mut run = LoopbackPair::new("cap-plain", dir.join("plain.pcap"));
    let mut cps = vec![run.checkpoint("connected", ["ESTABLISHED", "ESTABLISHED"])];
    run.transfer(100_000);
    cps.push(run.checkpoint("transferred", ["ESTABLISHED", "ESTABLISHED"]));
    // RFC 9293 §3.6: the active closer waits in FIN-WAIT-2 once its FIN is acknowledged;
    // the other side is in CLOSE-WAIT until its application closes.
    run.client.close();
    cps.push(run.checkpoint("client closed", ["FIN_WAIT_2", "CLOSE_WAIT"]));
    // RFC 9293 §3.6: the server's FIN takes it through LAST-ACK to CLOSED; the client that
    // closed first waits in TIME-WAIT.
    run.server.close();
    cps.push(run.checkpoint("server closed", ["TIME_WAIT", "CLOSED"]));
    let pcap = run.tcpdump.stop();
    let conn = check_capture("plain transfer, client closes", &pcap, &cps);
    assert_eq!(end_of(&conn), ("fin_fin".into(), None), "end reason");
    assert_eq!(conn["closed_first"], "client", "who closed first");
    assert_eq!(conn["client"]["bytes"], 100_000, "client bytes");
}

#[test]
fn plain_transfer_server_closes_first() {
    let (_tmp, dir) = capture_dir("server-close");
    let mut run = LoopbackPair::new("cap-server-close", dir.join("server.pcap"));
    let mut cps = vec![run.checkpoint("connected", ["ESTABLISHED", "ESTABLISHED"])];
    run.transfer(100_000);
    cps.push(run.checkpoint("transferred", ["ESTABLISHED", "ESTABLISHED"]));
    // RFC 9293 §3.6: now the server is the active closer.
    run.server.close();
    cps.push(run.checkpoint("server closed", ["CLOSE_WAIT", "FIN_WAIT_2"]));
    run.client.close();
    cps.push(run.checkpoint("client closed", ["CLOSED", "TIME_WAIT"]));
    let pcap = run.tcpdump.stop();
    let conn = check_capture("plain transfer, server closes", &pcap, &cps);
    assert_eq!(end_of(&conn), ("fin_fin".into(), None), "end reason");
    assert_eq!(conn["closed_first"], "server", "who closed first");
}

#[test]
fn abort_sends_rst() {
    let (_tmp, dir) = capture_dir("rst");
    let mut run = LoopbackPair::new("cap-rst", dir.join("rst.pcap"));
    let mut cps = vec![run.checkpoint("connected", ["ESTABLISHED", "ESTABLISHED"])];
    run.transfer(10_000);
    // RFC 9293 §3.10.4 (ABORT): a RST goes out and the connection is deleted at once;
    // §3.10.7.4: the receiver of an in-window RST in ESTABLISHED goes to CLOSED.
    run.client.abort();
    cps.push(run.checkpoint("client aborted", ["CLOSED", "CLOSED"]));
    let pcap = run.tcpdump.stop();
    let conn = check_capture("abort (RST)", &pcap, &cps);
    assert_eq!(
        end_of(&conn),
        ("reset".into(), Some("client".into())),
        "end reason"
    );
    assert_eq!(conn["closed_first"], "client", "who closed first");
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let (_tmp, dir) = capture_dir("refused");
    let ns = Netns::new("cap-refused");
    let tcpdump = Tcpdump::start(&ns, "lo", &dir.join("refused.pcap"));
    // Nothing listens on port 9 in a fresh namespace.
    // RFC 9293 §3.10.7.1: a SYN to a CLOSED port is answered <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
    let err = match KernelPeer::connect(&ns, LO, 9) {
        Ok(_) => panic!("connect to a port nobody listens on succeeded"),
        Err(e) => e,
    };
    assert!(err.contains("ECONNREFUSED"), "connect error: {err}");
    let frames = tcpdump.settle(QUIET);
    let sockets = ns.ss_tan();
    assert!(sockets.is_empty(), "ss after the refusal: {sockets:?}");
    let pcap = tcpdump.stop();
    let cps = [Checkpoint {
        label: "refused",
        frames,
        states: ["CLOSED", "CLOSED"],
    }];
    let conn = check_capture("refused connect", &pcap, &cps);
    assert_eq!(end_of(&conn).0, "refused", "end reason");
    let client_states: Vec<&str> = conn["client"]["states"]
        .as_array()
        .expect("states")
        .iter()
        .map(|s| s["to"].as_str().expect("to"))
        .collect();
    assert_eq!(
        client_states,
        ["SYN_SENT", "CLOSED"],
        "client: SYN sent, then the RST closes it"
    );
}

/// A finished lossy transfer: the captures at the sender's device and at the receiver's, each
/// with what ss showed at the end.
struct LossyRun {
    _tmp: Option<tempfile::TempDir>,
    captures: Vec<(&'static str, PathBuf, Checkpoint)>,
}

/// 1 MB from a kernel client in one namespace to a kernel server in another, through the
/// dropping relay, captured on both TUN devices.
fn lossy_run(test: &str) -> LossyRun {
    const BYTES: u64 = 1_000_000;
    let (tmp, dir) = capture_dir(test);
    // About 2% of data segments dropped, and always the 10th, so a loss is certain.
    let link = LossyLink::new("cap-lossy", 2.0, 7, 10);
    let at_sender = Tcpdump::start(&link.a, LossyLink::A_DEV, &dir.join("sender.pcap"));
    let at_receiver = Tcpdump::start(&link.b, LossyLink::B_DEV, &dir.join("receiver.pcap"));
    let xfer = synack_tests::netns::kernel_script("xfer.py");
    let xfer = xfer.to_str().expect("UTF-8 path");
    let server = link.b.spawn(
        &["python3", xfer, "listen", LossyLink::B_ADDR, "0"],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    let line = server.wait_stderr("listening", T);
    let server_port: u16 = line
        .rsplit(' ')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("xfer.py listen said {line:?}"));
    let file = random_file(BYTES, 0x5eed);
    let client = link.a.spawn(
        &[
            "python3",
            xfer,
            "connect",
            LossyLink::B_ADDR,
            &server_port.to_string(),
            "--send",
            file.path().to_str().expect("UTF-8 path"),
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    let client_done = client.wait(Duration::from_secs(60));
    client_done.assert_clean_exit("xfer.py connect");
    let server_done = server.wait(T);
    server_done.assert_clean_exit("xfer.py listen");
    let report = String::from_utf8_lossy(&server_done.stdout).into_owned();
    assert!(
        report.contains(&format!("\"received\": {BYTES}")),
        "receiver report: {report}"
    );
    assert!(link.drops() > 0, "the relay dropped nothing");
    println!("relay dropped {} data segments", link.drops());

    // After the exchange: the client (which sent FIN first, after its data) in TIME-WAIT, the
    // server gone.
    let client_port = link
        .a
        .ss_tan()
        .iter()
        .find(|s| s.peer.port == Some(server_port))
        .and_then(|s| s.local.port)
        .expect("the client's socket is still listed (TIME-WAIT)");
    // RFC 9293 §3.6: the client sent its FIN first (after its data) and waits in TIME-WAIT;
    // the server's FIN took it through LAST-ACK to CLOSED.
    let checkpoints: Vec<Checkpoint> = [&at_sender, &at_receiver]
        .into_iter()
        .map(|tcpdump| {
            checkpoint(
                "done",
                tcpdump,
                [&link.a, &link.b],
                [client_port, server_port],
                ["TIME_WAIT", "CLOSED"],
            )
        })
        .collect();
    let sender_pcap = at_sender.stop();
    let receiver_pcap = at_receiver.stop();
    let captures = [
        "lossy transfer, sender side",
        "lossy transfer, receiver side",
    ]
    .into_iter()
    .zip([sender_pcap, receiver_pcap])
    .zip(checkpoints)
    .map(|((title, pcap), cp)| (title, pcap, cp))
    .collect();
    LossyRun {
        _tmp: tmp,
        captures,
    }
}

/// A re-sent segment shows in tshark as a retransmission of some kind, or (when it comes
/// soon after the highest one) as out of order.
fn resent(flags: &BTreeSet<(u64, String)>) -> usize {
    flags
        .iter()
        .filter(|(_, f)| f.contains("retransmission") || f.ends_with("out_of_order"))
        .count()
}

#[test]
fn lossy_transfer_states_match_ss() {
    let run = lossy_run("lossy-states");
    let mut retransmissions = 0;
    for (title, pcap, cp) in run.captures {
        let analysis = synack_analyze(&pcap);
        let conn = only_connection(&analysis);
        assert_eq!(end_of(conn), ("fin_fin".into(), None), "{title}: end");
        assert_eq!(conn["closed_first"], "client", "{title}: who closed first");
        assert_states_match_ss(title, conn, &[cp]);
        // The capture is not a clean one: tshark sees the re-sent segments in it.
        let theirs = tshark_flags(&pcap, &TSHARK_FLAG_FIELDS);
        assert!(resent(&theirs) > 0, "{title}: nothing re-sent: {theirs:?}");
        retransmissions += theirs
            .iter()
            .filter(|(_, f)| f.contains("retransmission"))
            .count();
    }
    assert!(retransmissions > 0, "no retransmission in either capture");
}

#[test]
#[ignore = "analyze: now and then one frame tshark calls a fast retransmission is out-of-order for synack (timing of the 20 ms window against the reordering threshold); run with --include-ignored"]
fn lossy_transfer_flags_match_tshark() {
    let run = lossy_run("lossy-flags");
    for (title, pcap, _) in run.captures {
        let analysis = synack_analyze(&pcap);
        let theirs = assert_flags_match_tshark(title, &pcap, only_connection(&analysis));
        // Not vacuous: the capture holds re-sent segments.
        assert!(resent(&theirs) > 0, "{title}: nothing re-sent: {theirs:?}");
    }
}
