//! Interop harness: the Linux kernel's TCP on one side, synack on the other, inside a network
//! namespace that the test creates and deletes.
//!
//! Network safety: every packet these helpers cause stays inside a namespace created by
//! [`Netns::new`]; nothing here touches the root namespace's interfaces or routes. The guard
//! kills the processes it spawned (by their PID, which stays reserved until they are reaped)
//! and deletes the namespace when dropped, also when the test panics.
//!
//! Setup failures (not root, no `ip`, a missing program) panic with a message saying what is
//! missing: interop tests fail loudly instead of skipping.

mod capture;
mod child;
mod clients;
mod data;
mod guard;
mod nc;
mod peer;
mod ss;
mod trace;

pub use capture::{
    analyzer_state_name, flag_rows, flag_table, pcap_frame_count, ss_state_of, tshark_flags,
    FlagRow, LossyLink, Tcpdump, TSHARK_FLAG_FIELDS, TSHARK_ONLY_FIELDS,
};
pub use child::{Finished, NsChild, StdinFrom, StdoutTo};
pub use clients::echo_clients;
pub use data::{file_with, random_file, sha256_hex, TestFile};
pub use guard::{require_program, Netns};
pub use nc::SynackNc;
pub use peer::KernelPeer;
pub use ss::{parse_ss, Endpoint, SsSocket, SsState, TcpInfo};
pub use trace::{
    first_difference, packet_source, parse_trace, strip_tcpdump_timestamp, tcpdump_packet_lines,
    StateChange, Trace,
};

use std::path::PathBuf;

/// The TUN device the tests give synack.
pub const TUN: &str = "tun0";
/// The kernel's IPv4 address on the TUN device.
pub const KERNEL_V4: &str = "10.7.0.1";
/// synack's IPv4 address.
pub const SYNACK_V4: &str = "10.7.0.2";
/// The kernel's IPv6 address on the TUN device.
pub const KERNEL_V6: &str = "fd00:7::1";
/// synack's IPv6 address.
pub const SYNACK_V6: &str = "fd00:7::2";

/// A Python helper from `tests/src/kernel/` (run with `python3` inside a namespace).
pub fn kernel_script(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("kernel")
        .join(name);
    assert!(
        path.is_file(),
        "kernel helper script {} is missing",
        path.display()
    );
    path
}

/// The path of the `synack` binary, for integration tests of the CLI package. A macro so that
/// `env!` is read in the test crate, where Cargo defines it.
#[macro_export]
macro_rules! synack_bin {
    () => {
        option_env!("CARGO_BIN_EXE_synack")
            .or(option_env!("CARGO_BIN_EXE_synack-cli"))
            .expect("Cargo did not name the synack binary (CARGO_BIN_EXE_synack)")
    };
}

/// A `synack nc` command builder for the binary under test (see [`synack_bin!`]).
#[macro_export]
macro_rules! synack_nc {
    () => {
        $crate::netns::SynackNc::new($crate::synack_bin!())
    };
}
