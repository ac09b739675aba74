//! The `tun --quick` benchmark end to end: synack against the kernel over a TUN device both ways,
//! and kernel against kernel over veth, each transfer verified by count and checksum. No timed
//! assertions: the figures depend on the machine.
//!
//! Needs root (network namespaces, a TUN device, a veth pair) and fails, not skips, without it.

use synack_bench::tun::netns::{ip, require_root};
use synack_bench::tun::{run, Transfer, TunOptions};

/// Payload per full segment at MTU 1500: 1500 - 20 (IPv4) - 20 (TCP), RFC 9293 §3.7.1.
const MAX_PAYLOAD: u64 = 1460;

#[test]
fn quick_mode_verifies_every_transfer_and_leaves_no_namespace() {
    if let Err(e) = require_root() {
        panic!("this test runs the TUN benchmark and needs root: {e}");
    }
    let o = TunOptions::parse(&["--quick".to_string()]).expect("flags parse");
    assert_eq!(o.bytes, 16 << 20);
    let report = run(&o).expect("the namespaces, TUN device and veth pair were set up");
    let kinds: Vec<Transfer> = report.results.iter().map(|r| r.transfer).collect();
    assert_eq!(kinds, Transfer::ALL.to_vec());
    for r in &report.results {
        let what = r.transfer.label();
        assert_eq!(r.error, None, "{what}");
        assert_eq!(r.received, o.bytes, "{what}");
        assert_eq!(r.received_checksum, r.expected_checksum, "{what}");
        assert!(r.verified(), "{what}");
        assert!(!r.wall.is_zero(), "{what}");
        assert!(r.kernel_retransmits.is_some(), "{what}: RetransSegs read");
    }
    for r in report.results.iter().filter(|r| r.transfer.uses_tun()) {
        let what = r.transfer.label();
        let tun = r.tun.expect("TUN counters read");
        assert!(r.synack.is_some(), "{what}: synack's connection found");
        // The data really crossed the TUN device, in packets of at most one MTU (the kernel
        // cannot hand a TUN reader without a virtio-net header anything larger).
        let data_packets = if r.transfer == Transfer::SynackToKernel {
            tun.rx_packets
        } else {
            tun.tx_packets
        };
        assert!(
            data_packets >= o.bytes / MAX_PAYLOAD,
            "{what}: only {data_packets} packets crossed the device"
        );
    }
    assert!(report.veth_gbps().is_some());
    assert!(report.all_verified());

    let prefix = format!("synack-bench-{}-", std::process::id());
    let left = ip(&["netns", "list"]).expect("ip netns list");
    assert!(
        !left.lines().any(|l| l.starts_with(&prefix)),
        "namespaces left behind:\n{left}"
    );
}
