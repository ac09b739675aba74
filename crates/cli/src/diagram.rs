//! `synack diagram CAPTURE`: the ladder (sequence) diagram of one connection, as text in the
//! terminal or as SVG with `-o`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use synack_analyze::ladder::{self, Numbering};
use synack_analyze::view::{connection_views, ConnectionView};
use synack_analyze::{ladder_svg, ladder_text};

/// Arguments of `synack diagram`.
#[derive(Args, Debug)]
pub struct DiagramArgs {
    /// The capture: pcap or pcapng (tcpdump -w, tshark -w, Wireshark, `synack demo --pcap`)
    capture: PathBuf,
    /// Which connection, numbered as in `synack analyze` (default: 1, the first one)
    #[arg(long, value_name = "N", default_value_t = 1)]
    conn: usize,
    /// Write the diagram as SVG to FILE instead of printing it as text
    #[arg(short = 'o', long = "output", value_name = "FILE.svg")]
    output: Option<PathBuf>,
    /// Show sequence and acknowledgment numbers as on the wire, not relative to each side's ISN
    #[arg(long)]
    absolute: bool,
}

/// Reads a capture and returns its connections, with errors that say what to do.
pub fn load(path: &Path) -> Result<Vec<ConnectionView>, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{shown}: no such file; give the path of a pcap or pcapng capture")
        }
        _ => format!("{shown}: cannot read it ({e})"),
    })?;
    let capture = synack_analyze::read_capture(&bytes).map_err(|e| format!("{shown}: {e}"))?;
    Ok(connection_views(&capture))
}

/// Connection `n` of `views`, or an error naming the valid numbers.
pub fn pick(views: &[ConnectionView], n: usize, path: &Path) -> Result<ConnectionView, String> {
    if views.is_empty() {
        return Err(format!("{}: no TCP connection in it", path.display()));
    }
    views
        .iter()
        .find(|v| v.conn.number == n)
        .cloned()
        .ok_or_else(|| {
            format!(
                "{} has {} connections; --conn takes a number from 1 to {}",
                path.display(),
                views.len(),
                views.len()
            )
        })
}

/// Writes `text` to `path`, or says why it could not.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write it ({e})", path.display()))
}

/// Runs the command, writing the text diagram (or a note about the SVG) to `out`.
pub fn run(args: &DiagramArgs, out: &mut impl Write) -> Result<(), String> {
    let views = load(&args.capture)?;
    let view = pick(&views, args.conn, &args.capture)?;
    let numbering = if args.absolute {
        Numbering::Absolute
    } else {
        Numbering::Relative
    };
    let ladder = ladder::build(&view, numbering);
    match &args.output {
        Some(path) => {
            write_file(path, &ladder_svg::render(&ladder))?;
            writeln!(
                out,
                "wrote the ladder of connection {} ({} rows) to {}",
                ladder.number,
                ladder.rows.len(),
                path.display()
            )
            .map_err(|e| e.to_string())
        }
        None => out
            .write_all(ladder_text::render(&ladder).as_bytes())
            .map_err(|e| e.to_string()),
    }
}
