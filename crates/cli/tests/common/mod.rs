//! Helpers shared by the CLI tests that run the `synack` binary on the demo's captures.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;
use std::process::{Command, Output};

pub fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("the synack binary runs")
}

pub fn stdout_of(args: &[&str]) -> String {
    let out = synack(args);
    assert!(
        out.status.success(),
        "synack {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `synack demo --scenario SCENARIO --pcap DIR/SCENARIO.pcap`; returns the capture's path.
pub fn demo_capture(dir: &Path, scenario: &str) -> String {
    let path = dir.join(format!("{scenario}.pcap"));
    let path = path.to_str().expect("UTF-8 path").to_string();
    stdout_of(&["demo", "--scenario", scenario, "--pcap", &path]);
    path
}
