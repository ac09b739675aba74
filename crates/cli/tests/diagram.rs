//! `synack diagram` and `synack demo --diagram` on the demo's own captures: the text ladder of
//! the basic demo (handshake lines, states beside each timeline), one path for the demo and
//! for a capture file, and SVG that parses and renders with resvg.

mod common;
#[path = "../../analyze/tests/svg_check/mod.rs"]
mod svg_check;

use common::{demo_capture, stdout_of, synack};
use svg_check::render;

/// The text between the two timelines of a ladder line, trimmed of the arrow's shaft.
fn arrow_label(line: &str) -> Option<String> {
    let inner = line.split('|').nth(1)?;
    Some(
        inner
            .trim_matches(|c: char| matches!(c, '-' | '<' | '>' | ' ' | '='))
            .to_string(),
    )
}

/// The state written right of the server's timeline, or left of the client's.
fn right_state(line: &str) -> Option<&str> {
    line.rsplit('|')
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn left_state(line: &str) -> Option<&str> {
    let before = line.split('|').next()?;
    // State names start with a letter; the frame column is all digits.
    before
        .split_whitespace()
        .last()
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
}

#[test]
fn basic_demo_ladder_shows_the_handshake_and_the_states() {
    let text = stdout_of(&["demo", "--diagram"]);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('|'))
        .collect();
    let labels: Vec<String> = rows.iter().filter_map(|l| arrow_label(l)).collect();
    // Header, initial states, then the handshake (relative numbers, as Wireshark).
    assert_eq!(labels[2], "SYN seq 0 win 65535 len 0", "{text}");
    assert_eq!(labels[3], "SYN, ACK seq 0 ack 1 win 65535 len 0", "{text}");
    assert_eq!(labels[4], "ACK seq 1 ack 1 win 32768 len 0", "{text}");
    assert!(rows[2].contains("|-- SYN seq 0") && rows[2].ends_with(">| SYN_RCVD"));
    assert!(rows[3].contains("|<--") && rows[3].contains(" ESTABLISHED |"));
    let right: Vec<&str> = rows.iter().skip(1).filter_map(|l| right_state(l)).collect();
    assert_eq!(
        right,
        [
            "LISTEN",
            "SYN_RCVD",
            "ESTABLISHED",
            "CLOSE_WAIT",
            "LAST_ACK",
            "CLOSED"
        ],
        "{text}"
    );
    let left: Vec<&str> = rows.iter().skip(1).filter_map(|l| left_state(l)).collect();
    assert_eq!(
        left,
        [
            "CLOSED",
            "SYN_SENT",
            "ESTABLISHED",
            "FIN_WAIT_1",
            "FIN_WAIT_2",
            "TIME_WAIT"
        ],
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
}

#[test]
fn demo_diagram_is_the_diagram_of_its_capture() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for scenario in ["basic", "lossy", "simultaneous-close", "reset"] {
        let pcap = demo_capture(dir.path(), scenario);
        let from_file = stdout_of(&["diagram", &pcap]);
        let from_demo = stdout_of(&["demo", "--scenario", scenario, "--diagram"]);
        // The demo adds one line about the scenario above the same ladder.
        let (first, rest) = from_demo.split_once('\n').expect("more than one line");
        assert!(first.starts_with("# synack demo --scenario"), "{first}");
        assert_eq!(rest, from_file, "{scenario}");
    }
}

#[test]
fn lossy_ladder_marks_retransmissions_and_missing_segments() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = demo_capture(dir.path(), "lossy");
    let text = stdout_of(&["diagram", &pcap]);
    let resent = text.lines().filter(|l| l.contains("retx]")).count();
    let json = stdout_of(&["analyze", "--json", &pcap]);
    let kinds = json.matches("retransmission\"").count();
    assert!(resent > 0, "the lossy demo retransmits: {text}");
    assert_eq!(resent, kinds, "one marked arrow per retransmission finding");
    assert!(
        text.lines().filter(|l| l.contains("==")).count() >= resent,
        "{text}"
    );
}

#[test]
fn svg_ladders_parse_and_render() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (scenario, want_red) in [("basic", false), ("lossy", true)] {
        let pcap = demo_capture(dir.path(), scenario);
        let svg_path = dir.path().join(format!("{scenario}.svg"));
        let svg_path = svg_path.to_str().expect("UTF-8 path");
        let note = stdout_of(&["diagram", &pcap, "-o", svg_path]);
        assert!(note.contains(svg_path), "{note}");
        let svg = std::fs::read_to_string(svg_path).expect("the SVG was written");
        let (painted, red) = render(&svg);
        assert!(painted > 10_000, "{scenario}: only {painted} pixels drawn");
        assert_eq!(red > 0, want_red, "{scenario}: {red} red pixels");
    }
}

#[test]
fn absolute_numbers_and_bad_connection_numbers() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = demo_capture(dir.path(), "basic");
    let text = stdout_of(&["diagram", &pcap, "--absolute"]);
    // The demo's fixed ISNs.
    assert!(text.contains("SYN seq 3626544836 "), "{text}");
    assert!(
        text.contains("SYN, ACK seq 1739326486 ack 3626544837 "),
        "{text}"
    );
    let out = synack(&["diagram", &pcap, "--conn", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has 1 connections; --conn takes a number from 1 to 1"),
        "{err}"
    );
}
