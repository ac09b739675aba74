//! `synack ss` against the kernel's own `ss`: a kernel client connected to `synack nc -l
//! --control`, seen from both ends. The namespace has `tun0` (kernel 10.7.0.1, synack 10.7.0.2);
//! see synack_tests::netns.

use std::time::{Duration, Instant};
use synack_tests::netns::{parse_ss, KernelPeer, Netns, SsSocket, SsState, KERNEL_V4, SYNACK_V4};
use synack_tests::{synack_bin, synack_nc};

const T: Duration = Duration::from_secs(20);

/// Runs `synack ARGS` (outside the namespace: the control socket is a file) and returns stdout.
fn synack(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(synack_bin!())
        .args(args)
        .output()
        .expect("run synack");
    assert!(
        out.status.success(),
        "synack {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ss_shows_the_connection_the_kernel_sees_from_the_other_end() {
    let ns = Netns::with_tun("ss_estab");
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("nc.sock");
    let _server = synack_nc!()
        .arg("--control")
        .arg(&control)
        .arg("--echo")
        .listen(&ns, 7);
    let peer = KernelPeer::connect(&ns, SYNACK_V4, 7).expect("kernel connects to synack");

    // synack's view, polled until the handshake has settled on its side.
    let deadline = Instant::now() + T;
    let ours: SsSocket = loop {
        let out = synack(&[
            "ss".as_ref(),
            "-tni".as_ref(),
            "--control".as_ref(),
            control.as_os_str(),
        ]);
        assert!(
            out.lines().next().is_some_and(
                |h| h.contains("Local Address:Port") && h.contains("Peer Address:Port")
            ),
            "no ss header: {out}"
        );
        let found = parse_ss(&out)
            .into_iter()
            .find(|s| s.peer.port == Some(peer.local_port));
        match found {
            Some(s) if s.state == SsState::Established => break s,
            _ if Instant::now() > deadline => panic!("synack ss never showed ESTAB:\n{out}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert_eq!(ours.local.text, format!("{SYNACK_V4}:7"), "{ours}");
    assert_eq!(
        ours.peer.text,
        format!("{KERNEL_V4}:{}", peer.local_port),
        "{ours}"
    );
    let info = ours.info.as_ref().expect("-i prints an info line");
    assert!(
        info.fields.contains_key("rtt") && info.fields.contains_key("rto"),
        "{ours}"
    );
    assert!(info.cwnd.is_some_and(|c| c > 0), "{ours}");

    // The kernel's view of the same connection: addresses swapped, same state.
    let kernel = ns.wait_for_socket("the client of synack", T, |s| {
        s.local.port == Some(peer.local_port) && s.peer.port == Some(7)
    });
    assert_eq!(kernel.state, SsState::Established, "{kernel}");
    assert_eq!(
        kernel.local.text, ours.peer.text,
        "kernel {kernel}\nsynack {ours}"
    );
    assert_eq!(
        kernel.peer.text, ours.local.text,
        "kernel {kernel}\nsynack {ours}"
    );
    // The window scale each side applies is the one the other announced.
    if let (Some((k_snd, k_rcv)), Some((s_snd, s_rcv))) =
        (kernel.info.as_ref().and_then(|i| i.wscale), info.wscale)
    {
        assert_eq!(
            (k_snd, k_rcv),
            (s_rcv, s_snd),
            "kernel {kernel}\nsynack {ours}"
        );
    }

    // -l shows the listener only; netstat -s counts the passive open.
    let listening = parse_ss(&synack(&[
        "ss".as_ref(),
        "-tl".as_ref(),
        "--control".as_ref(),
        control.as_os_str(),
    ]));
    // nc listens on IPv4 and IPv6.
    assert_eq!(listening.len(), 2, "{listening:?}");
    assert!(
        listening
            .iter()
            .all(|s| s.state == SsState::Listen && s.local.port == Some(7)),
        "{listening:?}"
    );
    let stats = synack(&[
        "netstat".as_ref(),
        "-s".as_ref(),
        "--control".as_ref(),
        control.as_os_str(),
    ]);
    assert!(
        stats.contains("Tcp:\n") && stats.contains("    PassiveOpens: 1\n"),
        "{stats}"
    );
}
