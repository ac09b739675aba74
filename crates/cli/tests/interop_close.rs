//! How connections between synack and the Linux kernel end: who sends FIN first, half-closes
//! with data still flowing the other way, SIGTERM (RST), and connecting to a closed port. The
//! kernel's side is watched with `ss -tan` in the namespace, synack's with the state lines of
//! `--trace`.

use std::time::{Duration, Instant};
use synack_tests::netns::{
    file_with, packet_source, parse_trace, KernelPeer, Netns, SsSocket, SsState, StdinFrom, Trace,
    KERNEL_V4, KERNEL_V6, SYNACK_V4, SYNACK_V6,
};
use synack_tests::synack_nc;

const T: Duration = Duration::from_secs(30);

/// Matches the kernel socket from `local` to `peer` port in `state`.
fn kernel_socket(local: u16, peer: u16, state: SsState) -> impl Fn(&SsSocket) -> bool {
    move |s| s.is_between(local, peer) && s.state == state
}

/// Waits until the kernel has no socket between the two ports any more.
fn wait_gone(ns: &Netns, local: u16, peer: u16) {
    let deadline = Instant::now() + T;
    loop {
        let left: Vec<_> = ns
            .ss_tan()
            .into_iter()
            .filter(|s| s.is_between(local, peer))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kernel socket {local} -> {peer} did not go away: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that synack's connection at `port` ended with `tail` (its last transitions).
fn assert_path_ends(trace: &Trace, port: u16, tail: &[&str], stderr: &str) {
    let path = trace.state_path(port);
    assert!(
        path.ends_with(&tail.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        "synack's states at port {port} were {path:?}, expected to end with {tail:?}; trace:\n{stderr}"
    );
}

/// Index of the first trace packet sent from `source` (`ADDR.PORT`) whose line contains `what`.
fn first_packet(trace: &Trace, source: &str, what: &str) -> Option<usize> {
    trace
        .packets
        .iter()
        .position(|p| packet_source(p) == Some(source) && p.contains(what))
}

/// Index of the last trace packet from `source` that carries data.
fn last_data_packet(trace: &Trace, source: &str) -> Option<usize> {
    trace
        .packets
        .iter()
        .rposition(|p| packet_source(p) == Some(source) && !p.ends_with("length 0"))
}

/// tcpdump's spelling of an address and port (`10.7.0.2.5000`).
fn dotted(addr: &str, port: u16) -> String {
    format!("{addr}.{port}")
}

/// synack sends FIN first: the kernel socket goes CLOSE-WAIT, then LAST-ACK after it closes;
/// synack goes FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT.
fn synack_closes_first(kernel: &str, test: &str) {
    let ns = Netns::with_tun(test);
    let mut peer = KernelPeer::listen(&ns, kernel, 9100);
    let mut client = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .connect(&ns, kernel, 9100);
    let port = peer.accept();
    client.write_stdin(b"last words\n").expect("synack's stdin");
    assert_eq!(peer.recv_exact(11), Ok(b"last words\n".to_vec()));
    ns.wait_for_socket("ESTAB", T, kernel_socket(9100, port, SsState::Established));

    client.close_stdin(); // synack sends its FIN
    ns.wait_for_socket(
        "CLOSE-WAIT",
        T,
        kernel_socket(9100, port, SsState::CloseWait),
    );
    assert_eq!(peer.recv_to_eof(), Ok(Vec::new()));
    client.wait_stderr("FIN_WAIT_1 -> FIN_WAIT_2", T);

    // Freeze synack so that its ACK of the kernel's FIN waits in the TUN queue: LAST-ACK then
    // lasts long enough for ss to see it.
    assert!(client.freeze());
    peer.close();
    let last_ack =
        ns.try_wait_for_socket("LAST-ACK", T, kernel_socket(9100, port, SsState::LastAck));
    assert!(client.thaw());
    let last_ack = last_ack.unwrap_or_else(|e| {
        std::thread::sleep(Duration::from_millis(500));
        panic!("{e}\nsynack's trace:\n{}", client.stderr_text())
    });
    wait_gone(&ns, 9100, port);

    let done = client.wait(T);
    done.assert_clean_exit("synack nc");
    let trace = parse_trace(&done.stderr);
    assert_path_ends(
        &trace,
        port,
        &["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
        &done.stderr,
    );
    assert_eq!(last_ack.local.port, Some(9100));
}

/// The kernel sends FIN first: synack goes CLOSE_WAIT -> LAST_ACK -> CLOSED, and the kernel
/// socket is left holding TIME-WAIT. Like OpenBSD nc, synack nc closes its own direction when
/// its stdin ends (the peer's FIN ends only the peer's direction), so the test ends stdin once
/// synack is in CLOSE_WAIT, and the kernel meanwhile waits in FIN-WAIT-2.
fn kernel_closes_first(synack_addr: &str, test: &str) {
    let ns = Netns::with_tun(test);
    let mut server = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .listen(&ns, 9101);
    let mut peer = KernelPeer::connect(&ns, synack_addr, 9101).expect("connect to synack");
    let kp = peer.local_port;
    ns.wait_for_socket("ESTAB", T, kernel_socket(kp, 9101, SsState::Established));
    peer.send(b"goodbye\n");
    peer.close();
    server.wait_stderr("ESTABLISHED -> CLOSE_WAIT", T);
    ns.wait_for_socket("FIN-WAIT-2", T, kernel_socket(kp, 9101, SsState::FinWait2));
    server.close_stdin();
    let tw = ns.wait_for_socket("TIME-WAIT", T, kernel_socket(kp, 9101, SsState::TimeWait));
    assert_eq!(tw.peer.addr, Some(synack_addr.parse().unwrap()), "{tw}");
    let done = server.wait(T);
    done.assert_clean_exit("synack nc -l");
    assert_eq!(done.stdout_text(), "goodbye\n");
    let trace = parse_trace(&done.stderr);
    assert_path_ends(
        &trace,
        9101,
        &["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        &done.stderr,
    );
    // Still there: TIME-WAIT lasts 60 s on Linux.
    assert!(ns
        .ss_tan()
        .iter()
        .any(kernel_socket(kp, 9101, SsState::TimeWait)));
}

#[test]
fn synack_closes_first_v4() {
    synack_closes_first(KERNEL_V4, "close-synack-first-v4");
}

#[test]
fn synack_closes_first_v6() {
    synack_closes_first(KERNEL_V6, "close-synack-first-v6");
}

#[test]
fn kernel_closes_first_v4() {
    kernel_closes_first(SYNACK_V4, "close-kernel-first-v4");
}

#[test]
fn kernel_closes_first_v6() {
    kernel_closes_first(SYNACK_V6, "close-kernel-first-v6");
}

/// synack half-closes (stdin ends) and still receives: the kernel answers after synack's FIN.
#[test]
fn synack_half_closes_and_still_receives() {
    let ns = Netns::with_tun("close-half-synack");
    let mut peer = KernelPeer::listen(&ns, KERNEL_V4, 9102);
    let request = file_with(b"question\n");
    let client = synack_nc!()
        .trace()
        .stdin(StdinFrom::File(request.path().to_path_buf()))
        .connect(&ns, KERNEL_V4, 9102);
    let port = peer.accept();
    assert_eq!(peer.recv_to_eof(), Ok(b"question\n".to_vec()));
    ns.wait_for_socket(
        "CLOSE-WAIT",
        T,
        kernel_socket(9102, port, SsState::CloseWait),
    );
    // An answer of many segments, all sent after synack's FIN.
    let answer = synack_tests::pattern(200_000, 11);
    peer.send(&answer);
    peer.close();
    let done = client.wait(T);
    done.assert_clean_exit("synack nc");
    assert!(done.stdout == answer, "synack's stdout is not the answer");
    let trace = parse_trace(&done.stderr);
    let fin = first_packet(&trace, &dotted(SYNACK_V4, port), "Flags [F")
        .unwrap_or_else(|| panic!("synack sent no FIN:\n{}", done.stderr));
    let data = last_data_packet(&trace, &dotted(KERNEL_V4, 9102)).expect("kernel data");
    assert!(
        fin < data,
        "no kernel data after synack's FIN:\n{}",
        done.stderr
    );
    assert_path_ends(&trace, port, &["FIN_WAIT_2", "TIME_WAIT"], &done.stderr);
}

/// The kernel half-closes after sending 1 MiB without reading; `--echo` keeps sending the
/// echo after the kernel's FIN (the kernel's small initial receive buffer holds back most of
/// it until the kernel reads), then closes.
#[test]
fn kernel_half_closes_and_synack_echo_still_sends() {
    let ns = Netns::with_tun("close-half-kernel-echo");
    let server = synack_nc!().trace().arg("--echo").listen(&ns, 9103);
    let mut peer = KernelPeer::connect(&ns, SYNACK_V4, 9103).expect("connect to synack");
    let kp = peer.local_port;
    let data = synack_tests::pattern(1 << 20, 12);
    peer.send(&data);
    peer.shut_wr();
    // synack acknowledged the kernel's FIN while the echo is still on its way.
    ns.wait_for_socket("FIN-WAIT-2", T, kernel_socket(kp, 9103, SsState::FinWait2));
    let echoed = peer.recv_exact(data.len()).expect("the whole echo");
    assert!(echoed == data, "the echo differs from what was sent");
    assert_eq!(peer.recv_to_eof(), Ok(Vec::new()));
    let done = server.wait(T);
    done.assert_clean_exit("synack nc -l --echo");
    let trace = parse_trace(&done.stderr);
    let fin = first_packet(&trace, &dotted(KERNEL_V4, kp), "Flags [F")
        .unwrap_or_else(|| panic!("no kernel FIN in the trace:\n{}", done.stderr));
    let data_after = last_data_packet(&trace, &dotted(SYNACK_V4, 9103)).expect("echo data");
    assert!(fin < data_after, "no echo data after the kernel's FIN");
    assert_path_ends(
        &trace,
        9103,
        &["CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        &done.stderr,
    );
}

/// synack as client, the kernel half-closes first: synack keeps sending what its stdin still
/// has (as OpenBSD nc does in connect mode), then closes.
#[test]
fn kernel_half_closes_and_synack_client_still_sends() {
    let ns = Netns::with_tun("close-half-kernel-nc");
    let mut peer = KernelPeer::listen(&ns, KERNEL_V4, 9104);
    let mut client = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .connect(&ns, KERNEL_V4, 9104);
    let port = peer.accept();
    peer.send(b"no more from me\n");
    peer.shut_wr();
    client.wait_stderr("ESTABLISHED -> CLOSE_WAIT", T);
    let late = b"still talking after your FIN\n";
    let wrote = client.write_stdin(late);
    client.close_stdin();
    let got = peer.recv_to_eof();
    let done = client.wait(T);
    assert!(
        wrote.is_ok(),
        "synack stopped reading stdin: {wrote:?}\n{}",
        done.stderr
    );
    assert_eq!(
        got,
        Ok(late.to_vec()),
        "kernel did not get synack's data sent after the kernel's FIN; synack's trace:\n{}",
        done.stderr
    );
    done.assert_clean_exit("synack nc");
    assert_eq!(done.stdout_text(), "no more from me\n");
    let trace = parse_trace(&done.stderr);
    assert_path_ends(
        &trace,
        port,
        &["CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        &done.stderr,
    );
}

/// SIGTERM while connected: synack resets the connection, the kernel's recv fails with
/// ECONNRESET.
#[test]
fn sigterm_resets_the_kernel_peer() {
    let ns = Netns::with_tun("close-sigterm");
    let mut peer = KernelPeer::listen(&ns, KERNEL_V4, 9105);
    let client = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .connect(&ns, KERNEL_V4, 9105);
    let port = peer.accept();
    ns.wait_for_socket("ESTAB", T, kernel_socket(9105, port, SsState::Established));
    assert!(client.signal("TERM"));
    let got = peer.recv_to_eof();
    assert!(
        got.as_ref().is_err_and(|e| e.contains("ECONNRESET")),
        "kernel recv after SIGTERM to synack: {got:?}"
    );
    let done = client.wait(T);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    let trace = parse_trace(&done.stderr);
    assert!(
        first_packet(&trace, &dotted(SYNACK_V4, port), "Flags [R").is_some(),
        "synack's trace shows no RST:\n{}",
        done.stderr
    );
    wait_gone(&ns, 9105, port);
}

fn refused(kernel: &str, test: &str) {
    let ns = Netns::with_tun(test);
    let done = synack_nc!().connect(&ns, kernel, 9).wait(T);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("Connection refused"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

#[test]
fn connect_to_a_closed_kernel_port_is_refused_v4() {
    refused(KERNEL_V4, "close-refused-v4");
}

#[test]
fn connect_to_a_closed_kernel_port_is_refused_v6() {
    refused(KERNEL_V6, "close-refused-v6");
}

/// The kernel resets the connection (close with SO_LINGER 0): synack exits 1 and says so.
#[test]
fn kernel_reset_ends_synack_with_connection_reset() {
    let ns = Netns::with_tun("close-kernel-rst");
    let mut peer = KernelPeer::listen(&ns, KERNEL_V4, 9106);
    let client = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .connect(&ns, KERNEL_V4, 9106);
    let port = peer.accept();
    ns.wait_for_socket("ESTAB", T, kernel_socket(9106, port, SsState::Established));
    peer.abort();
    let done = client.wait(T);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("Connection reset"), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    let trace = parse_trace(&done.stderr);
    assert!(
        first_packet(&trace, &dotted(KERNEL_V4, 9106), "Flags [R").is_some(),
        "no RST from the kernel in the trace:\n{}",
        done.stderr
    );
}

/// Nobody answers 10.7.0.3 (the kernel does not forward): `-w 1` gives up with "timed out".
#[test]
fn connect_with_no_answer_times_out() {
    let ns = Netns::with_tun("close-timeout");
    let started = Instant::now();
    let done = synack_nc!()
        .trace()
        .arg("-w")
        .arg("1")
        .connect(&ns, "10.7.0.3", 9107)
        .wait(T);
    let took = started.elapsed();
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("timed out"), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "-w 1 took {took:?}"
    );
    let syns = parse_trace(&done.stderr)
        .packets
        .iter()
        .filter(|p| p.starts_with("IP 10.7.0.2.") && p.contains("> 10.7.0.3.9107: Flags [S]"))
        .count();
    assert!(syns >= 1, "no SYN in the trace:\n{}", done.stderr);
}
