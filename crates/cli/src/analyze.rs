//! `synack analyze CAPTURE`: what happened on each TCP connection of a pcap or pcapng file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

/// Arguments of `synack analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The capture: pcap or pcapng, as written by tcpdump -w, tshark -w, Wireshark or
    /// `synack demo --pcap`
    capture: PathBuf,
    /// Show connection N in detail (numbers as in the summary table)
    #[arg(long, value_name = "N")]
    conn: Option<usize>,
    /// Print the whole analysis as JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Runs the command, writing to `out`.
pub fn run(args: &AnalyzeArgs, out: &mut impl Write) -> Result<(), String> {
    let path = args.capture.display();
    let bytes = std::fs::read(&args.capture).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{path}: no such file; give the path of a pcap or pcapng capture")
        }
        _ => format!("{path}: cannot read it ({e})"),
    })?;
    let analysis = synack_analyze::analyze_bytes(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let text = if args.json {
        synack_analyze::report::json(&analysis) + "\n"
    } else if let Some(n) = args.conn {
        let conn = analysis
            .connections
            .iter()
            .find(|c| c.number == n)
            .ok_or_else(|| {
                format!(
                    "{path} has {} connections; --conn takes a number from 1 to {}",
                    analysis.connections.len(),
                    analysis.connections.len()
                )
            })?;
        synack_analyze::report::detail(conn)
    } else {
        synack_analyze::report::summary(&analysis)
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}
