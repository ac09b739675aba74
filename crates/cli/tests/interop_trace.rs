//! synack's `--trace` and `--pcap` against the real thing: tcpdump on the same TUN device sees
//! the packets synack says it sent and received, and tcpdump and tshark read synack's pcap
//! files cleanly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use synack_tests::netns::{
    first_difference, packet_source, parse_trace, require_program, tcpdump_packet_lines,
    KernelPeer, Netns, StdinFrom, StdoutTo, SYNACK_V4, TUN,
};
use synack_tests::synack_nc;

const T: Duration = Duration::from_secs(30);
/// A port no tcpdump dissector claims, so its lines stay plain TCP.
const PORT: u16 = 47001;

/// A short echo session through `synack nc -l --echo` on PORT: handshake, data segments each
/// way (one of several segments), the kernel's FIN, synack's FIN.
fn echo_session(ns: &Netns) {
    let mut peer = KernelPeer::connect(ns, SYNACK_V4, PORT).expect("connect to synack");
    for message in [
        &b"first"[..],
        b"second message",
        &synack_tests::pattern(4000, 3),
    ] {
        peer.send(message);
        assert_eq!(peer.recv_exact(message.len()).as_deref(), Ok(message));
    }
    peer.shut_wr();
    assert_eq!(peer.recv_to_eof(), Ok(Vec::new()));
}

/// The TCP lines of the session (tcpdump's line without timestamp).
fn session_lines(lines: &[String]) -> Vec<String> {
    let port = format!(".{PORT}");
    lines
        .iter()
        .filter(|l| l.contains(&port) && l.contains("Flags ["))
        .cloned()
        .collect()
}

/// Lines grouped by sender, each group in order.
fn by_direction(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let source = packet_source(line).unwrap_or("?").to_string();
        groups.entry(source).or_default().push(line.clone());
    }
    groups
}

#[test]
fn trace_lines_match_tcpdump_on_the_tun_device() {
    require_program("tcpdump");
    let ns = Netns::with_tun("trace-tcpdump");
    // Small frames (-s) in a big ring (-B, in KiB): with the default snapshot length of 256 KiB
    // the ring holds a handful of frames, and a burst overflows it on a busy machine.
    let tcpdump = ns.spawn(
        &[
            "tcpdump",
            "-n",
            "-S",
            "-l",
            "--immediate-mode",
            "-s",
            "256",
            "-B",
            "16384",
            "-i",
            TUN,
            "tcp",
        ],
        StdinFrom::Null,
        StdoutTo::Lines,
    );
    tcpdump.wait_stderr("listening on", T);
    let server = synack_nc!().trace().arg("--echo").listen(&ns, PORT);
    echo_session(&ns);
    let done = server.wait(T);
    assert!(done.status.success(), "synack failed:\n{}", done.stderr);
    let traced = session_lines(&parse_trace(&done.stderr).packets);
    assert!(
        traced.len() >= 12,
        "a session with a handshake, 3 exchanges and a close has at least 12 segments:\n{}",
        done.stderr
    );

    // tcpdump prints as packets arrive; wait until it has as many as synack traced (more
    // would be a difference too, found below), then stop it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tcpdump_session_lines(&tcpdump.stdout_lines()).len() < traced.len()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(tcpdump.signal("INT"));
    let dumped_text = tcpdump.wait(T);
    let dumped = tcpdump_session_lines(
        &dumped_text
            .stdout_text()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    );

    // tcpdump sees a packet when it crosses the device; synack's trace stamps it when synack
    // reads or writes it. Each direction is one FIFO queue, so per direction the order is the
    // same; but when both sides send at once, how the two directions interleave differs
    // between the two vantage points. So: per direction, in order.
    let (from_trace, from_tcpdump) = (by_direction(&traced), by_direction(&dumped));
    assert_eq!(
        from_trace.keys().collect::<Vec<_>>(),
        from_tcpdump.keys().collect::<Vec<_>>(),
        "senders differ"
    );
    for (source, lines) in &from_trace {
        if let Some(diff) = first_difference(lines, &from_tcpdump[source]) {
            panic!(
                "packets from {source}: synack's trace (left) and tcpdump (right) differ: \
                 {diff}\ntcpdump's stderr:\n{}",
                dumped_text.stderr
            );
        }
    }
}

fn tcpdump_session_lines(lines: &[String]) -> Vec<String> {
    session_lines(&tcpdump_packet_lines(&lines.join("\n")))
}

/// One echo session recorded by `synack nc --pcap --trace`.
struct Recorded {
    _dir: tempfile::TempDir,
    pcap: String,
    /// synack's trace: packet lines without timestamps.
    traced: Vec<String>,
    started: SystemTime,
}

fn record_session(ns: &Netns) -> Recorded {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = dir.path().join("session.pcap");
    let started = SystemTime::now();
    let server = synack_nc!()
        .trace()
        .pcap(&pcap)
        .arg("--echo")
        .listen(ns, PORT);
    echo_session(ns);
    let done = server.wait(T);
    assert!(done.status.success(), "synack failed:\n{}", done.stderr);
    Recorded {
        _dir: dir,
        pcap: pcap.to_str().expect("temporary path is UTF-8").to_string(),
        traced: parse_trace(&done.stderr).packets,
        started,
    }
}

/// `tcpdump -n -S -r FILE`: asserts status 0 and no warning; returns the packet lines.
fn tcpdump_read(ns: &Netns, pcap: &str) -> Vec<String> {
    let read = ns.exec(&["tcpdump", "-n", "-S", "-r", pcap]);
    assert!(read.status.success(), "tcpdump -r failed: {}", read.stderr);
    for line in read.stderr.lines() {
        // Its one usual line: "reading from file F, link-type RAW (Raw IP), snapshot length N".
        assert!(
            line.starts_with("reading from file") && line.contains("link-type RAW"),
            "tcpdump -r warned: {line}"
        );
    }
    tcpdump_packet_lines(&read.stdout_text())
}

#[test]
fn pcap_file_reads_cleanly_in_tcpdump_and_tshark() {
    require_program("tcpdump");
    require_program("tshark");
    let ns = Netns::with_tun("trace-pcap");
    let rec = record_session(&ns);

    // tcpdump reads it without complaint, and prints what synack's trace printed, in the same
    // order (both are synack's vantage point). Whether the file has every packet is
    // pcap_file_holds_every_packet_synack_traced's business; here, what is there is right.
    let dumped = tcpdump_read(&ns, &rec.pcap);
    assert!(
        dumped.len() >= 10,
        "too few packets in the pcap: {dumped:?}"
    );
    if let Some(diff) = first_difference(&dumped, &rec.traced[..dumped.len().min(rec.traced.len())])
    {
        panic!("tcpdump -r (left) and synack's trace (right) differ: {diff}");
    }

    // Real timestamps: the first packet is from this run.
    let epoch = ns.exec(&["tcpdump", "-n", "-tt", "-c", "1", "-r", &rec.pcap]);
    let first: f64 = epoch
        .stdout_text()
        .split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {:?}", epoch.stdout_text()));
    let since = rec
        .started
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (since - 1.0..since + 60.0).contains(&first),
        "first packet at {first}, test started at {since}"
    );

    // tshark: status 0; as root it says so on stderr, and nothing else is allowed there.
    let read = ns.exec(&["tshark", "-n", "-r", &rec.pcap]);
    assert!(read.status.success(), "tshark -r failed: {}", read.stderr);
    for line in read.stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert_eq!(
            line, "Running as user \"root\" and group \"root\". This could be dangerous.",
            "tshark -r warned"
        );
    }
    let shown = read.stdout_text();
    assert_eq!(
        shown.lines().count(),
        dumped.len(),
        "tshark shows every packet once:\n{shown}"
    );
    assert!(!shown.contains("Malformed"), "{shown}");
}

/// Every packet synack traced is in its pcap file when it exits, in order. Five sessions,
/// because a lost tail shows up only in some runs.
#[test]
fn pcap_file_holds_every_packet_synack_traced() {
    require_program("tcpdump");
    let ns = Netns::with_tun("trace-pcap-all");
    for round in 0..5 {
        let rec = record_session(&ns);
        if let Some(diff) = first_difference(&tcpdump_read(&ns, &rec.pcap), &rec.traced) {
            panic!("session {round}: tcpdump -r (left) and synack's trace (right) differ: {diff}");
        }
    }
}
