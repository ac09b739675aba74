//! `synack graph CAPTURE -o FILE.svg`: the time-sequence graph (tcptrace style) of one
//! direction of one connection.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use synack_analyze::conn::Dir;
use synack_analyze::tsg;

use crate::diagram::{load, pick, write_file};

/// Which direction's data to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

/// Arguments of `synack graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The capture: pcap or pcapng (tcpdump -w, tshark -w, Wireshark, `synack demo --pcap`)
    capture: PathBuf,
    /// Which connection, numbered as in `synack analyze` (default: 1, the first one)
    #[arg(long, value_name = "N", default_value_t = 1)]
    conn: usize,
    /// Where to write the SVG
    #[arg(short = 'o', long = "output", value_name = "FILE.svg")]
    output: PathBuf,
    /// Which direction's data to draw (default: the one that carried more bytes)
    #[arg(long, value_enum)]
    dir: Option<Direction>,
}

/// Runs the command; a one-line note goes to `out`.
pub fn run(args: &GraphArgs, out: &mut impl Write) -> Result<(), String> {
    let views = load(&args.capture)?;
    let view = pick(&views, args.conn, &args.capture)?;
    let dir = match args.dir {
        Some(Direction::C2s) => Dir::ToServer,
        Some(Direction::S2c) => Dir::ToClient,
        None => tsg::busier_direction(&view.conn),
    };
    let graph = tsg::build(&view, dir);
    write_file(&args.output, &tsg::render(&graph))?;
    let retransmissions = graph.segments.iter().filter(|s| s.retransmission).count();
    writeln!(
        out,
        "wrote the time-sequence graph of connection {} ({} -> {}: {} segments, {} retransmitted, {} ACKs) to {}",
        graph.number,
        graph.sender,
        graph.receiver,
        graph.segments.len(),
        retransmissions,
        graph.acks.len(),
        args.output.display()
    )
    .map_err(|e| e.to_string())
}
