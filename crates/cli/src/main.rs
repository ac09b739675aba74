//! `synack`: a userspace TCP/IP stack, and tools that show TCP at work.
#![forbid(unsafe_code)]

mod analyze;
mod control_target;
mod demo;
mod diagram;
mod graph;
mod nc;
mod netargs;
mod netstat;
mod ss;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "synack",
    version,
    about = "A userspace TCP/IP stack, and tools that show TCP at work"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a TCP conversation on the built-in simulated network and print every segment as
    /// tcpdump -n -S would, with each state transition under the segment that caused it.
    Demo(demo::DemoArgs),
    /// netcat on synack over a TUN device: connect to HOST PORT (or listen with -l PORT), copy
    /// stdin to the connection and the connection to stdout
    Nc(nc::NcArgs),
    /// Show a running stack's sockets as `ss -tni` does (the stack needs a control socket:
    /// `synack nc --control`)
    Ss(ss::SsArgs),
    /// Show a running stack's counters as `netstat -s` does (the stack needs a control socket:
    /// `synack nc --control`)
    Netstat(netstat::NetstatArgs),
    /// Read a pcap or pcapng capture and tell, per TCP connection, what happened: endpoints,
    /// options, RTT, states each side went through, how it ended, and Wireshark-style findings
    Analyze(analyze::AnalyzeArgs),
    /// Draw a connection of a capture as a ladder (sequence) diagram: text in the terminal, or
    /// SVG with -o. Takes the first connection unless --conn says which
    Diagram(diagram::DiagramArgs),
    /// Draw a time-sequence graph (tcptrace style: data, ACK and window lines, SACK blocks,
    /// retransmissions in red) of one direction of a connection as SVG
    Graph(graph::GraphArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result =
        match cli.command {
            Command::Demo(args) => {
                demo::run(&args, &mut std::io::stdout().lock()).map_err(|e| e.to_string())
            }
            Command::Nc(args) => nc::run(&args).map_err(|e| format!("nc: {e}")),
            Command::Ss(args) => ss::run(&args).map_err(|e| format!("ss: {e}")),
            Command::Netstat(args) => netstat::run(&args).map_err(|e| format!("netstat: {e}")),
            Command::Analyze(args) => analyze::run(&args, &mut std::io::stdout().lock())
                .map_err(|e| format!("analyze: {e}")),
            Command::Diagram(args) => diagram::run(&args, &mut std::io::stdout().lock())
                .map_err(|e| format!("diagram: {e}")),
            Command::Graph(args) => {
                graph::run(&args, &mut std::io::stdout().lock()).map_err(|e| format!("graph: {e}"))
            }
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::FAILURE
        }
    }
}
