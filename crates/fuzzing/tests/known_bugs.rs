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
#[ignore = "core bug: FIN-WAIT-1 with 1 byte in flight into a 1-byte window and no timer armed; see fuzz/README.md"]
fn two_stacks_stall_with_no_timer() {
    synack_fuzzing::two_stacks(&input("two_stacks", "stall-no-timer"));
}

#[test]
#[ignore = "core bug: CLOSING with 2 bytes in flight and no timer armed; see fuzz/README.md"]
fn live_stack_no_timer_in_closing() {
    synack_fuzzing::live_stack(&input("live_stack", "no-timer-in-closing"));
}
