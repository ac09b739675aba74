//! Smoke test of the benchmark's `--quick` mode: every transfer and cycle must verify.
//!
//! Debug builds (as `cargo test` makes them) are ~20x slower than release, so here the quick
//! preset's transfers are cut to 8 MiB and its cycles to 200; `cargo run --release -p
//! synack-bench -- --quick` runs the full preset (64 MiB, 2000 cycles) in well under a second.

use synack_bench::report::{run, Options};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn quick_mode_verifies_every_run() {
    let mut o = Options::parse(&args(&["--quick", "--bench"])).expect("flags parse");
    assert_eq!(o.bytes, 64 << 20);
    assert_eq!(o.mtus, vec![1500, 65535]);
    if cfg!(debug_assertions) {
        o.bytes = 8 << 20;
        o.cycles = 200;
    }
    let report = run(&o);
    assert_eq!(report.bulk.len(), 4, "fifo and sim at two MTUs");
    for r in &report.bulk {
        let what = format!("{} mtu {}", r.params.driver.label(), r.params.mtu);
        assert_eq!(r.error, None, "{what}");
        assert_eq!(r.received, o.bytes, "{what}");
        assert_eq!(r.received_checksum, r.expected_checksum, "{what}");
        assert!(r.verified(), "{what}");
        assert!(
            r.closed_cleanly,
            "{what}: FIN exchange and TIME_WAIT expiry"
        );
        // MSS = MTU - 40 (IPv4 + TCP headers) - 12 (timestamp option), RFC 9293 §3.7.1 and
        // RFC 7323 §3.2.
        assert_eq!(r.snd_mss as usize, r.params.mtu - 52, "{what}");
        // Every byte went in some data segment of at most one MSS.
        assert!(r.client_packets >= o.bytes / u64::from(r.snd_mss), "{what}");
        // The link loses nothing, so nothing may be retransmitted (RFC 6298 §5: the RTO only
        // fires when an ACK is overdue; RFC 5681 §3.2: fast retransmit needs duplicate ACKs).
        assert_eq!(r.retransmits, 0, "{what}");
        // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: an ACK for at least every second full segment.
        assert!(r.server_packets * 2 + 4 >= r.client_packets, "{what}");
    }
    let c = report.cycles.as_ref().expect("cycles ran");
    assert_eq!(c.error, None);
    assert_eq!(c.completed, o.cycles);
    // Fewest segments a cycle can take: SYN, SYN-ACK, ACK carrying the request, response,
    // FIN, FIN, ACK (RFC 9293 §3.5, Figure 13).
    assert!(c.packets >= 7 * c.completed, "{} packets", c.packets);
    // TIME_WAIT lasts 2 x MSL (RFC 9293 §3.4.2), and every cycle waited it out.
    assert!(c.virtual_time >= o.msl * 2 * c.completed as u32);
    assert!(report.all_verified());
}

#[test]
fn bad_flags_are_refused() {
    assert!(Options::parse(&args(&["--frobnicate"])).is_err());
    assert!(Options::parse(&args(&["--mtu", "100"])).is_err());
    assert!(Options::parse(&args(&["--mib"])).is_err());
    let o = Options::parse(&args(&["--mib", "16", "--mtu", "9000", "--no-sim"])).unwrap();
    assert_eq!(
        (o.bytes, o.mtus.clone(), o.fifo, o.sim),
        (16 << 20, vec![9000], true, false)
    );
}
