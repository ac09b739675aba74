//! `synack demo --pcap FILE`: the capture holds exactly the packets the trace prints as
//! arriving, in the same order and at the same virtual times, and both tcpdump and tshark read
//! it cleanly. Packets the trace marks as lost in transit are not in it.
//!
//! tcpdump and tshark must be installed (.ci/run installs them); a missing tool fails the test
//! with a message saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The one line tshark prints on stderr when run as root; anything else there is a warning.
const TSHARK_ROOT_NOTICE: &str =
    "Running as user \"root\" and group \"root\". This could be dangerous.";

const LOST_MARK: &str = "  [lost in transit: ";

/// What the demo printed: the packet lines (time and tcpdump line) of arrivals and losses,
/// and the footer's count of delivered and lost packets.
struct DemoRun {
    arrived: Vec<String>,
    lost: Vec<String>,
    footer_delivered: usize,
    footer_lost: usize,
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): this test needs it installed \
                 (apt-get install {program}; .ci/run installs it)"
            )
        })
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

fn succeeded(program: &str, args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "{program} {args:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A number from the footer, `... simulated link: N delivered, M lost`.
fn footer_count(footer: &str, word: &str) -> usize {
    let words: Vec<&str> = footer.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let at = words
        .iter()
        .rposition(|w| *w == word)
        .unwrap_or_else(|| panic!("no '{word}' in the footer: {footer}"));
    words[at - 1]
        .parse()
        .unwrap_or_else(|e| panic!("count before '{word}' in {footer}: {e}"))
}

/// Runs `synack demo --pcap PCAP`, with `--scenario` when given one.
fn run_demo(scenario: Option<&str>, pcap: &Path) -> DemoRun {
    let pcap_arg = pcap.to_str().expect("temporary path is UTF-8");
    let mut args = vec!["demo", "--pcap", pcap_arg];
    if let Some(name) = scenario {
        args.extend(["--scenario", name]);
    }
    let out = run(env!("CARGO_BIN_EXE_synack"), &args);
    succeeded("synack", &args, &out);
    assert!(out.stderr.is_empty(), "the demo wrote to stderr");
    let stdout = lines(&out.stdout);
    let footer = stdout.last().expect("the demo printed something").clone();
    assert!(footer.starts_with("# done at "), "footer: {footer}");
    // Packet lines start with the time and go on with the tcpdump line; comment lines
    // (`# ...`, `TIME # ...`) and indented transition and error lines are not packets.
    let packets = stdout
        .iter()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.split(' ').nth(1) != Some("#"));
    let (lost, arrived): (Vec<String>, Vec<String>) =
        packets.cloned().partition(|l| l.contains(LOST_MARK));
    DemoRun {
        arrived,
        lost,
        footer_delivered: footer_count(&footer, "delivered"),
        footer_lost: footer_count(&footer, "lost"),
    }
}

fn capture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn without_time(line: &str) -> &str {
    line.split_once(' ').map_or("", |(_, rest)| rest)
}

fn tcpdump(args: &[&str], pcap: &Path) -> Vec<String> {
    let mut all = args.to_vec();
    all.push(pcap.to_str().expect("temporary path is UTF-8"));
    let out = run("tcpdump", &all);
    succeeded("tcpdump", &all, &out);
    // tcpdump names the file it reads on stderr; anything else there is a warning.
    let want = format!(
        "reading from file {}, link-type RAW (Raw IP), snapshot length 262144",
        pcap.display()
    );
    assert_eq!(lines(&out.stderr), vec![want], "tcpdump's stderr");
    lines(&out.stdout)
}

fn tshark(pcap: &Path) -> Vec<String> {
    let args = ["-n", "-r", pcap.to_str().expect("temporary path is UTF-8")];
    let out = run("tshark", &args);
    succeeded("tshark", &args, &out);
    let warnings: Vec<String> = lines(&out.stderr)
        .into_iter()
        .filter(|l| l != TSHARK_ROOT_NOTICE)
        .collect();
    assert!(warnings.is_empty(), "tshark warned: {warnings:#?}");
    lines(&out.stdout)
}

/// Runs the demo with `--pcap` and checks the capture against its trace.
fn capture_matches_the_trace(scenario: Option<&str>) -> DemoRun {
    let pcap = capture_path(&format!("demo-{}.pcap", scenario.unwrap_or("default")));
    let demo = run_demo(scenario, &pcap);
    assert!(!demo.arrived.is_empty(), "the demo printed no packets");
    assert_eq!(
        demo.arrived.len(),
        demo.footer_delivered,
        "arrival lines vs the footer's delivered count"
    );
    assert_eq!(
        demo.lost.len(),
        demo.footer_lost,
        "loss lines vs the footer's lost count"
    );

    // As the brief's reader sees it: the default time of day stripped, the rest identical.
    let plain = tcpdump(&["-n", "-S", "-r"], &pcap);
    let plain: Vec<&str> = plain.iter().map(|l| without_time(l)).collect();
    let want: Vec<&str> = demo.arrived.iter().map(|l| without_time(l)).collect();
    assert_eq!(plain, want, "tcpdump -n -S -r vs the demo's packet lines");

    // With -tt tcpdump prints seconds since the epoch, which is the demo's virtual time: the
    // whole lines match, times included.
    let timed = tcpdump(&["-n", "-S", "-tt", "-r"], &pcap);
    assert_eq!(
        timed, demo.arrived,
        "tcpdump -tt vs the demo's packet lines"
    );

    let tshark_lines = tshark(&pcap);
    assert_eq!(
        tshark_lines.len(),
        demo.arrived.len(),
        "tshark lists one line per packet: {tshark_lines:#?}"
    );
    for line in &tshark_lines {
        assert!(
            !line.contains("Malformed"),
            "tshark found a malformed packet: {line}"
        );
    }
    demo
}

#[test]
fn default_scenario_capture_matches_the_trace() {
    let demo = capture_matches_the_trace(None);
    assert!(demo.lost.is_empty(), "the basic link loses nothing");
}

#[test]
fn lossy_capture_leaves_out_the_packets_lost_in_transit() {
    let demo = capture_matches_the_trace(Some("lossy"));
    // Otherwise the comparison above would not show that losses are left out.
    assert!(
        !demo.lost.is_empty(),
        "the lossy scenario lost nothing: the test no longer covers dropped packets"
    );
}

#[test]
fn an_unwritable_pcap_path_fails_before_the_demo_runs() {
    let bad = capture_path("no-such-directory/demo.pcap");
    let args = ["demo", "--pcap", bad.to_str().expect("UTF-8 path")];
    let out = run(env!("CARGO_BIN_EXE_synack"), &args);
    assert!(
        !out.status.success(),
        "the demo accepted an unwritable path"
    );
    assert!(out.stdout.is_empty(), "the demo printed a trace anyway");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--pcap") && stderr.contains("no-such-directory"),
        "the error names the flag and the path: {stderr}"
    );
}
