//! The kernel's ping (ICMP and ICMPv6 echo) answered by a running `synack nc`.

use synack_tests::netns::{
    parse_trace, require_program, Netns, StdinFrom, SynackNc, SYNACK_V4, SYNACK_V6,
};

fn ping(args: &[&str], addr: &str, test: &str, reply: &str) {
    require_program("ping");
    let ns = Netns::with_tun(test);
    let server = SynackNc::new(synack_tests::synack_bin!())
        .trace()
        .stdin(StdinFrom::Piped)
        .arg("-k")
        .listen(&ns, 7);
    let mut argv = vec!["ping"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["-c", "3", "-W", "2", addr]);
    let done = ns.exec(&argv);
    let out = done.stdout_text();
    assert!(done.status.success(), "ping failed:\n{out}{}", done.stderr);
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert!(server.is_running(), "{}", server.stderr_text());
    let trace = parse_trace(&server.kill().stderr);
    let replies = trace.packets.iter().filter(|p| p.contains(reply)).count();
    assert_eq!(replies, 3, "synack's trace: {:#?}", trace.packets);
}

#[test]
fn ping_v4_is_answered() {
    ping(&[], SYNACK_V4, "ping-v4", "ICMP echo reply");
}

#[test]
fn ping_v6_is_answered() {
    ping(&["-6"], SYNACK_V6, "ping-v6", "ICMP6, echo reply");
}
