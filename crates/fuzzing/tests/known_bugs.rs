//! Inputs that break an invariant because of a bug in the core, kept until the core is fixed.
//! Each test replays its file from fuzz/known_bugs/<target>/; once it passes, move the file to
//! fuzz/regressions/<target>/ (which the stable runner replays on every run) and drop the test.

use std::path::PathBuf;

fn input(target: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/known_bugs")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
#[ignore = "core bug: data in flight after the peer's FIN (CLOSE-WAIT/LAST-ACK/CLOSING) with no timer armed; see fuzz/README.md"]
fn two_stacks_stall_after_peer_fin() {
    synack_fuzzing::two_stacks(&input("two_stacks", "stall-after-peer-fin"));
}
