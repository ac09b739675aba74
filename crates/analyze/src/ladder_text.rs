//! The ladder diagram as fixed-width text for a terminal, at most [`WIDTH`] columns: a time
//! and frame column, the client's timeline with its states on the left, the server's with
//! its states on the right, and one arrow per segment between them.

use std::fmt::Write as _;

use crate::conn::Dir;
use crate::ladder::{Ladder, Numbering, Row};

/// The widest line this renderer writes, unless long (IPv6) addresses stretch the header or
/// a state name is longer than its column (none of RFC 9293's are).
pub const WIDTH: usize = 100;
/// Columns between the two timelines.
const ARROW: usize = 50;
/// Width of the time column (seconds since the first packet, microseconds).
const TIME: usize = 10;
/// Width of the frame-number column.
const FRAME: usize = 6;
/// Width of the client's state column.
const STATE: usize = 13;

/// Draws the ladder.
pub fn render(ladder: &Ladder) -> String {
    let mut out = String::new();
    let numbers = match ladder.numbering {
        Numbering::Relative => "seq/ack relative to each side's ISN",
        Numbering::Absolute => "seq/ack absolute",
    };
    let [client, server] = &ladder.endpoints;
    let _ = writeln!(
        out,
        "# connection {}: client {client} (left), server {server} (right)",
        ladder.number
    );
    let _ = writeln!(out, "# {numbers}; time in seconds since the first packet");
    line(&mut out, "time", "frame", "client", &blank(), "server");
    let [c0, s0] = ladder.initial_states;
    line(&mut out, "", "", c0, &blank(), s0);
    for row in &ladder.rows {
        draw_row(&mut out, row);
    }
    let _ = writeln!(
        out,
        "# --> segment  ==> retransmission  ~~> out of order  ##> RST  ..X not captured \
         (inferred from a gap)"
    );
    out
}

fn blank() -> String {
    " ".repeat(ARROW)
}

fn line(out: &mut String, time: &str, frame: &str, left: &str, arrow: &str, right: &str) {
    let text = format!("{time:>TIME$} {frame:>FRAME$} {left:>STATE$} |{arrow}| {right}");
    let _ = writeln!(out, "{}", text.trim_end());
}

fn draw_row(out: &mut String, row: &Row) {
    let time = format!("{:.6}", row.time.as_secs_f64());
    let frame = row.frame.map_or("-".to_string(), |f| f.to_string());
    let [left, right] = &row.states;
    let first = |states: &[&'static str]| states.first().copied().unwrap_or("");
    line(out, &time, &frame, first(left), &arrow(row), first(right));
    // A segment that moves a side through two states (a FIN answered in one go) lists the
    // later ones under it.
    for k in 1..left.len().max(right.len()) {
        let at = |states: &[&'static str]| states.get(k).copied().unwrap_or("");
        line(out, "", "", at(left), &blank(), at(right));
    }
}

/// The arrow between the timelines, [`ARROW`] columns wide, with its label inside.
fn arrow(row: &Row) -> String {
    let marks = row.marks;
    let shaft = if marks.not_captured {
        '.'
    } else if marks.rst {
        '#'
    } else if marks.retransmission {
        '='
    } else if marks.out_of_order {
        '~'
    } else {
        '-'
    };
    // A segment not captured stops two thirds of the way, at an X: where it went is unknown.
    let length = if marks.not_captured {
        ARROW * 2 / 3
    } else {
        ARROW
    };
    let room = length.saturating_sub(6);
    let label = fit(&row.label, room);
    let fill = length.saturating_sub(label.chars().count() + 5);
    let body = format!(
        "{s}{s} {label} {}",
        shaft.to_string().repeat(fill),
        s = shaft
    );
    let head = if marks.not_captured { 'X' } else { '>' };
    let pad = " ".repeat(ARROW.saturating_sub(length));
    match row.dir {
        Dir::ToServer => format!("{body}{head}{pad}"),
        Dir::ToClient => {
            let head = if marks.not_captured { 'X' } else { '<' };
            // Mirrored: the head on the left, the label still read left to right.
            let fill_first = format!(
                "{head}{} {label} {s}{s}",
                shaft.to_string().repeat(fill),
                s = shaft
            );
            format!("{pad}{fill_first}")
        }
    }
}

/// `text` cut to `room` characters, with `~` where it was cut.
fn fit(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('~');
    cut
}
