//! `synack graph` on the demo's own captures: the SVG parses and renders with resvg, and the
//! red (retransmission) bars are exactly the analyzer's retransmission findings.

mod common;
#[path = "../../analyze/tests/svg_check/mod.rs"]
mod svg_check;

use common::{demo_capture, stdout_of, synack};
use std::path::Path;
use svg_check::render;

/// The SVG without its legend, whose red swatch would count as a red bar.
fn without_legend(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let legend = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("legend"))
        .expect("the graph has a legend");
    let range = legend.range();
    format!("{}{}", &svg[..range.start], &svg[range.end..])
}

fn count_class(svg: &str, class: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .count()
}

/// Retransmission findings (plain, fast, spurious) going `dir` ("to_server" / "to_client"),
/// from `synack analyze --json`.
fn retransmission_findings(pcap: &str, dir: &str) -> usize {
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["analyze", "--json", pcap])).expect("JSON");
    json["connections"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| {
            f["dir"] == dir
                && matches!(
                    f["kind"].as_str(),
                    Some("retransmission" | "fast_retransmission" | "spurious_retransmission")
                )
        })
        .count()
}

fn graph(pcap: &str, out: &Path, extra: &[&str]) -> String {
    let out = out.to_str().expect("UTF-8 path");
    let mut args = vec!["graph", pcap, "--conn", "1", "-o", out];
    args.extend_from_slice(extra);
    stdout_of(&args);
    std::fs::read_to_string(out).expect("the SVG was written")
}

#[test]
fn red_bars_are_the_retransmission_findings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = demo_capture(dir.path(), "lossy");
    for (flag, json_dir) in [
        (None, "to_server"),
        (Some("c2s"), "to_server"),
        (Some("s2c"), "to_client"),
    ] {
        let extra: Vec<&str> = flag.map(|f| vec!["--dir", f]).unwrap_or_default();
        let svg = graph(&pcap, &dir.path().join("g.svg"), &extra);
        let want = retransmission_findings(&pcap, json_dir);
        assert_eq!(count_class(&svg, "retransmission"), want, "{flag:?}");
        let (painted, red) = render(&svg);
        assert!(painted > 10_000, "only {painted} pixels drawn");
        assert_eq!(
            red > 0,
            want > 0,
            "{red} red pixels for {want} retransmissions"
        );
    }
    // The lossy demo does resend in the client's direction, so the test above saw red.
    assert!(retransmission_findings(&pcap, "to_server") > 0);
}

#[test]
fn basic_graph_has_data_ack_and_window_lines() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = demo_capture(dir.path(), "basic");
    let svg = graph(&pcap, &dir.path().join("b.svg"), &[]);
    // SYN, request, FIN from the client (the busier side on a tie: 6 bytes each way).
    assert_eq!(count_class(&svg, "data"), 3);
    assert_eq!(count_class(&svg, "retransmission"), 0);
    assert_eq!(count_class(&svg, "ack"), 1);
    assert_eq!(count_class(&svg, "window"), 1);
    assert_eq!(count_class(&svg, "legend"), 1);
    let (painted, with_legend) = render(&svg);
    assert!(painted > 10_000, "only {painted} pixels drawn");
    assert!(
        with_legend > 0,
        "the legend shows the retransmission colour"
    );
    assert_eq!(
        render(&without_legend(&svg)).1,
        0,
        "no red outside the legend"
    );
}

#[test]
fn graph_needs_an_output_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pcap = demo_capture(dir.path(), "basic");
    let out = synack(&["graph", &pcap]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output"));
}
