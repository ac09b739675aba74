//! `synack analyze` on the demo's own captures: the states it infers from the packets match,
//! transition for transition, the ones the demo printed from inside the core; every scenario
//! ends the way it should; the pcapng that editcap writes from the same capture gives the
//! same analysis; and on the lossy capture the findings agree with tshark's tcp.analysis flags.
//!
//! editcap and tshark must be installed (.ci/run installs them); a missing tool fails loudly.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (apt-get install tshark; .ci/run does)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn synack(args: &[&str]) -> String {
    String::from_utf8(run(env!("CARGO_BIN_EXE_synack"), args).stdout).expect("UTF-8 output")
}

/// The demo's transitions per endpoint, `(endpoint, from, to)`, in printed order. TIME_WAIT's
/// 2*MSL timer leaves no packet, so those are left out.
fn demo_transitions(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "->")?;
            if at < 2 || words.len() != at + 2 || words[at - 1] == "TIME_WAIT" {
                return None;
            }
            Some((
                words[at - 2].to_string(),
                words[at - 1].to_string(),
                words[at + 1].to_string(),
            ))
        })
        .collect()
}

fn analyzed_transitions(conn: &Value) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for side in ["client", "server"] {
        let e = &conn[side];
        let addr = e["addr"].as_str().expect("addr").to_string();
        for s in e["states"].as_array().expect("states") {
            all.push((
                addr.clone(),
                s["from"].as_str().expect("from").to_string(),
                s["to"].as_str().expect("to").to_string(),
            ));
        }
    }
    all
}

fn per_endpoint(v: &[(String, String, String)], addr: &str) -> Vec<(String, String)> {
    v.iter()
        .filter(|t| t.0 == addr)
        .map(|t| (t.1.clone(), t.2.clone()))
        .collect()
}

fn analyze_json(pcap: &Path) -> Value {
    let text = synack(&["analyze", pcap.to_str().expect("UTF-8 path"), "--json"]);
    serde_json::from_str(&text).expect("analyze --json prints JSON")
}

const SCENARIOS: [(&str, &str); 7] = [
    ("basic", "fin_fin"),
    ("simultaneous-open", "fin_fin"),
    ("simultaneous-close", "fin_fin"),
    ("half-close", "fin_fin"),
    ("refused", "refused"),
    ("reset", "reset"),
    ("lossy", "fin_fin"),
];

#[test]
fn states_match_the_demo_and_every_scenario_ends_right() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (scenario, end) in SCENARIOS {
        let pcap = dir.path().join(format!("{scenario}.pcap"));
        let printed = synack(&[
            "demo",
            "--scenario",
            scenario,
            "--pcap",
            pcap.to_str().expect("UTF-8 path"),
        ]);
        let analysis = analyze_json(&pcap);
        let conns = analysis["connections"].as_array().expect("connections");
        assert_eq!(conns.len(), 1, "{scenario}: one connection");
        let conn = &conns[0];
        assert_eq!(conn["end"]["kind"], end, "{scenario}: end reason");
        let want = demo_transitions(&printed);
        let got = analyzed_transitions(conn);
        assert!(!want.is_empty(), "{scenario}: the demo printed transitions");
        for side in ["client", "server"] {
            let addr = conn[side]["addr"].as_str().expect("addr");
            assert_eq!(
                per_endpoint(&got, addr),
                per_endpoint(&want, addr),
                "{scenario}: states of {addr}"
            );
        }
    }
}

#[test]
fn pcapng_from_editcap_reads_the_same() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = dir.path().join("lossy.pcap");
    let pcapng = dir.path().join("lossy.pcapng");
    synack(&[
        "demo",
        "--scenario",
        "lossy",
        "--pcap",
        pcap.to_str().expect("path"),
    ]);
    run(
        "editcap",
        &[
            "-F",
            "pcapng",
            pcap.to_str().expect("path"),
            pcapng.to_str().expect("path"),
        ],
    );
    let a = analyze_json(&pcap);
    let b = analyze_json(&pcapng);
    assert_eq!(b["format"], "pcapng");
    assert_eq!(
        a["connections"], b["connections"],
        "same analysis from pcap and pcapng"
    );
}

/// (frame, tshark field) pairs tshark flags, for the fields the analyzer names.
fn tshark_flags(pcap: &Path, fields: &BTreeSet<&str>) -> BTreeSet<(u64, String)> {
    let mut args = vec![
        "-r",
        pcap.to_str().expect("path"),
        "-T",
        "fields",
        "-e",
        "frame.number",
    ];
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = run("tshark", &args);
    let mut flagged = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: u64 = cols[0].parse().expect("frame number");
        for (field, value) in fields.iter().zip(&cols[1..]) {
            if !value.is_empty() {
                flagged.insert((frame, field.to_string()));
            }
        }
    }
    flagged
}

#[test]
fn lossy_findings_match_tshark() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = dir.path().join("lossy.pcap");
    synack(&[
        "demo",
        "--scenario",
        "lossy",
        "--pcap",
        pcap.to_str().expect("path"),
    ]);
    let analysis = analyze_json(&pcap);
    let fields: BTreeSet<&str> = [
        "tcp.analysis.retransmission",
        "tcp.analysis.fast_retransmission",
        "tcp.analysis.spurious_retransmission",
        "tcp.analysis.out_of_order",
        "tcp.analysis.duplicate_ack",
        "tcp.analysis.zero_window",
        "tcp.analysis.window_full",
        "tcp.analysis.zero_window_probe",
        "tcp.analysis.keep_alive",
        "tcp.analysis.lost_segment",
        "tcp.analysis.ack_lost_segment",
        "tcp.analysis.window_update",
    ]
    .into();
    let ours: BTreeSet<(u64, String)> = analysis["connections"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| {
            let kind = f["kind"].as_object().map_or_else(
                || f["kind"].as_str().expect("kind").to_string(),
                |o| o.keys().next().expect("kind").clone(),
            );
            let field = format!("tcp.analysis.{kind}")
                .replace("previous_segment_not_captured", "lost_segment")
                .replace("acked_unseen_segment", "ack_lost_segment");
            fields
                .contains(field.as_str())
                .then(|| (f["frame"].as_u64().expect("frame"), field))
        })
        .collect();
    let theirs = tshark_flags(&pcap, &fields);
    assert!(!theirs.is_empty(), "the lossy capture has findings");
    assert_eq!(ours, theirs, "findings (frame, field): synack vs tshark");
}
