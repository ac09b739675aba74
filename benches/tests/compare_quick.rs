//! `compare --quick` (synack vs smoltcp) completes every scenario on both stacks with verified
//! bytes. Correctness only, never speed. Meant for release builds
//! (`cargo test --release -p synack-bench --test compare_quick`, under a minute).

use synack_bench::compare::{run, CompareOptions};

#[test]
fn quick_comparison_verifies_every_scenario_on_both_stacks() {
    let mut o = CompareOptions::parse(&["--quick".to_string()]).expect("flags parse");
    // RSS is measured in a child process running the benchmark binary.
    o.rss_exe = Some(env!("CARGO_BIN_EXE_synack-bench").into());
    let r = run(&o);
    assert!(r.failures.is_empty(), "failures: {:#?}", r.failures);
    assert_eq!(r.scenarios_run, ["bulk", "cycles", "lossy", "memory"]);
    // bulk: 2 MTUs x 2 buffers x 3 figures; cycles: 3 idle levels; lossy: 3 losses x 2 links x
    // 4 figures; memory: 3 figures.
    assert_eq!(r.rows.len(), 12 + 3 + 24 + 3);
    for row in &r.rows {
        assert!(
            row.synack >= 0.0 && row.smoltcp >= 0.0,
            "{}: {} / {}",
            row.label,
            row.synack,
            row.smoltcp
        );
    }
    // Both stacks hold memory for their idle connections, and smoltcp at least its buffers.
    let mem = r
        .rows
        .iter()
        .find(|x| x.label.starts_with("memory per idle"))
        .expect("memory row");
    assert!(mem.synack > 0.0);
    assert!(mem.smoltcp >= (2 * synack_bench::compare::SMALL_BUFFER) as f64);
}

#[test]
fn compare_flags_are_checked() {
    let args = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(CompareOptions::parse(&args(&["--only", "nonsense"])).is_err());
    assert!(CompareOptions::parse(&args(&["--frob"])).is_err());
    let o = CompareOptions::parse(&args(&["--quick", "--only", "bulk"])).unwrap();
    assert!(o.quick);
    assert_eq!(o.only, ["bulk"]);
}
