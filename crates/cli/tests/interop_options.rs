//! TCP options synack negotiates with the Linux kernel, as the kernel reports them
//! (`ss -tanio` in the namespace) and as synack's trace shows them on the SYNs.

use std::time::Duration;
use synack_tests::netns::{
    packet_source, parse_trace, KernelPeer, Netns, NsChild, SsSocket, SsState, StdinFrom, TcpInfo,
    KERNEL_V4, KERNEL_V6, SYNACK_V4, SYNACK_V6,
};
use synack_tests::synack_nc;

const T: Duration = Duration::from_secs(30);
/// Bytes of the timestamp option (with its two NOPs) in every segment once negotiated.
const TIMESTAMP_OPTION: u32 = 12;

/// The number after `name ` in a tcpdump options list (`mss 1460`, `wscale 7`).
fn option(line: &str, name: &str) -> Option<u32> {
    let options = line.split_once("options [")?.1.split(']').next()?;
    options
        .split(',')
        .find_map(|o| o.trim().strip_prefix(name)?.trim().parse().ok())
}

/// The trace's SYN (or SYN-ACK) line sent from `source` (`ADDR.PORT` or `ADDR.`).
fn syn_from(trace_text: &str, source_prefix: &str) -> String {
    let trace = parse_trace(trace_text);
    trace
        .packets
        .iter()
        .find(|p| {
            packet_source(p).is_some_and(|s| s.starts_with(source_prefix)) && p.contains("Flags [S")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no SYN from {source_prefix} in the trace:\n{trace_text}"))
}

/// Checks what the kernel reports against the SYNs: both sides offered SACK, timestamps and
/// window scaling, the kernel sends with synack's MSS, and each side's scale is the other's.
fn check(info: &TcpInfo, sock: &SsSocket, synack_syn: &str, kernel_syn: &str, expect_mss: u32) {
    // synack's MSS option follows the TUN device's MTU 1500: 1460 for IPv4, 1440 for IPv6.
    assert_eq!(option(synack_syn, "mss"), Some(expect_mss), "{synack_syn}");
    assert!(synack_syn.contains("sackOK"), "{synack_syn}");
    assert!(synack_syn.contains("TS val"), "{synack_syn}");
    assert!(info.sack, "kernel did not agree on SACK: {sock}");
    assert!(info.ts, "kernel did not agree on timestamps: {sock}");
    // Linux's `mss:` is the MSS it sends with: synack's option less the timestamp option
    // that every segment now carries (RFC 6691 §2: the sender takes its options out of the
    // MSS; the MSS option itself counts only the fixed headers).
    assert_eq!(
        info.mss,
        Some(expect_mss - TIMESTAMP_OPTION),
        "kernel's sending MSS: {sock}"
    );
    let synack_scale = option(synack_syn, "wscale").expect("synack offers window scaling");
    let kernel_scale = option(kernel_syn, "wscale").expect("the kernel offers window scaling");
    // ss prints wscale:<the peer's shift, used on windows we receive>,<our shift>.
    assert_eq!(
        info.wscale,
        Some((synack_scale as u8, kernel_scale as u8)),
        "{sock}"
    );
    assert!(synack_scale > 0, "synack's buffers need window scaling");
}

fn established(ns: &Netns, local: u16, peer: u16) -> (SsSocket, TcpInfo) {
    let sock = ns.wait_for_socket("ESTAB", T, |s| {
        s.is_between(local, peer) && s.state == SsState::Established
    });
    let info = sock.info.clone().expect("ss -i info line");
    (sock, info)
}

fn stop(child: NsChild) -> String {
    child.kill().stderr
}

fn synack_server(synack_addr: &str, kernel_addr: &str, mss: u32, test: &str) {
    let ns = Netns::with_tun(test);
    let server = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .listen(&ns, 9200);
    let peer = KernelPeer::connect(&ns, synack_addr, 9200).expect("connect to synack");
    let (sock, info) = established(&ns, peer.local_port, 9200);
    server.wait_stderr("SYN_RCVD -> ESTABLISHED", T);
    let trace = stop(server);
    let synack_syn = syn_from(&trace, &format!("{synack_addr}.9200"));
    let kernel_syn = syn_from(&trace, &format!("{kernel_addr}."));
    check(&info, &sock, &synack_syn, &kernel_syn, mss);
}

#[test]
fn kernel_client_sees_synack_options_v4() {
    synack_server(SYNACK_V4, KERNEL_V4, 1460, "options-server-v4");
}

#[test]
fn kernel_client_sees_synack_options_v6() {
    synack_server(SYNACK_V6, KERNEL_V6, 1440, "options-server-v6");
}

#[test]
fn kernel_server_sees_synack_options_v4() {
    let ns = Netns::with_tun("options-client-v4");
    let mut peer = KernelPeer::listen(&ns, KERNEL_V4, 9201);
    let client = synack_nc!()
        .trace()
        .stdin(StdinFrom::Piped)
        .connect(&ns, KERNEL_V4, 9201);
    let port = peer.accept();
    let (sock, info) = established(&ns, 9201, port);
    client.wait_stderr("connected to", T);
    let trace = stop(client);
    let synack_syn = syn_from(&trace, &format!("{SYNACK_V4}.{port}"));
    let kernel_syn = syn_from(&trace, &format!("{KERNEL_V4}.9201"));
    check(&info, &sock, &synack_syn, &kernel_syn, 1460);
}
