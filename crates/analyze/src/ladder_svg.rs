//! The ladder diagram as SVG: two vertical timelines, an arrow per segment with its label,
//! each side's states beside its timeline, retransmissions in red, RSTs bold, out-of-order
//! segments orange and segments that were not captured stopping half way at an ✕.
//!
//! Rows are spaced evenly, not by time (the time is written on the left): a capture taken at
//! one point cannot tell how long each segment was in flight, because the one-way delay is
//! unknown, so every arrow gets the same small slant rather than a made-up flight time.

use crate::conn::Dir;
use crate::ladder::{Ladder, Numbering, Row};
use crate::svg::Svg;

const WIDTH: f64 = 1000.0;
const CLIENT_X: f64 = 300.0;
const SERVER_X: f64 = 800.0;
const TOP: f64 = 90.0;
const ROW: f64 = 34.0;
/// How far an arrow drops between the timelines (see the module comment).
const SLANT: f64 = 12.0;

/// Colours, as CSS names or hex.
const NORMAL: &str = "#1f4e9c";
const RETRANSMISSION: &str = "#d00000";
const OUT_OF_ORDER: &str = "#e08000";
const NOT_CAPTURED: &str = "#808080";
const RST: &str = "black";

/// Draws the ladder.
pub fn render(ladder: &Ladder) -> String {
    let extra_lines: usize = ladder
        .rows
        .iter()
        .map(|r| {
            r.states
                .iter()
                .map(Vec::len)
                .max()
                .unwrap_or(0)
                .saturating_sub(1)
        })
        .sum();
    let rows = ladder.rows.len() + extra_lines;
    let height = TOP + ROW * (rows as f64 + 1.0) + 40.0;
    let mut svg = Svg::new(WIDTH, height);
    svg.comment(
        "Ladder diagram written by synack. Rows are evenly spaced and every arrow has the \
         same slant: a single capture does not show one-way delays.",
    );
    let numbers = match ladder.numbering {
        Numbering::Relative => "seq/ack relative to each side's ISN",
        Numbering::Absolute => "seq/ack absolute",
    };
    svg.text(
        (10.0, 20.0),
        "start",
        r#"font-size="14" font-weight="bold""#,
        &format!("connection {} ({numbers})", ladder.number),
    );
    let [client, server] = &ladder.endpoints;
    let [c0, s0] = ladder.initial_states;
    svg.text((CLIENT_X, 45.0), "middle", "", &format!("client {client}"));
    svg.text((SERVER_X, 45.0), "middle", "", &format!("server {server}"));
    svg.text((10.0, 70.0), "start", r##"fill="#555""##, "time s / frame");
    svg.text((CLIENT_X - 8.0, 70.0), "end", r#"font-weight="bold""#, c0);
    svg.text((SERVER_X + 8.0, 70.0), "start", r#"font-weight="bold""#, s0);
    let bottom = height - 30.0;
    for x in [CLIENT_X, SERVER_X] {
        svg.line((x, 55.0), (x, bottom), r#"stroke="black" stroke-width="2""#);
    }
    let mut y = TOP;
    for row in &ladder.rows {
        y = draw_row(&mut svg, row, y);
    }
    svg.text(
        (10.0, height - 10.0),
        "start",
        r##"fill="#555""##,
        "blue: segment  red: retransmission  orange: out of order  bold: RST  \
         grey, stopping at ✕: not captured (inferred from a gap)",
    );
    svg.finish()
}

/// Draws one row at `y`; returns where the next one goes.
fn draw_row(svg: &mut Svg, row: &Row, y: f64) -> f64 {
    let marks = row.marks;
    let (class, colour) = if marks.not_captured {
        ("not-captured", NOT_CAPTURED)
    } else if marks.rst {
        ("rst", RST)
    } else if marks.retransmission {
        ("retransmission", RETRANSMISSION)
    } else if marks.out_of_order {
        ("out-of-order", OUT_OF_ORDER)
    } else {
        ("segment", NORMAL)
    };
    let width = if marks.rst { 3.0 } else { 1.5 };
    let dash = if marks.not_captured {
        r#" stroke-dasharray="6,4""#
    } else {
        ""
    };
    let style = format!(r#"stroke="{colour}" stroke-width="{width}"{dash}"#);
    svg.raw(&format!(r#"<g class="{class}">"#));
    let frame = row.frame.map_or("-".to_string(), |f| f.to_string());
    svg.text(
        (10.0, y + 4.0),
        "start",
        r##"fill="#555""##,
        &format!("{:.6}  {frame:>5}", row.time.as_secs_f64()),
    );
    let (x1, x2) = match row.dir {
        Dir::ToServer => (CLIENT_X, SERVER_X),
        Dir::ToClient => (SERVER_X, CLIENT_X),
    };
    let start = (x1, y);
    let full_end = (x2, y + SLANT);
    if marks.not_captured {
        let mid = ((x1 + x2) / 2.0, y + SLANT / 2.0);
        svg.line(start, mid, &style);
        cross(svg, mid, RETRANSMISSION);
    } else {
        svg.line(start, full_end, &style);
        head(svg, start, full_end, colour);
    }
    let weight = if marks.rst {
        r#" font-weight="bold""#
    } else {
        ""
    };
    svg.text(
        ((CLIENT_X + SERVER_X) / 2.0, y - 3.0),
        "middle",
        &format!(r#"fill="{colour}"{weight}"#),
        &row.label,
    );
    let [left, right] = &row.states;
    let mut next = y;
    for (k, state) in left.iter().enumerate() {
        let at = y + SLANT / 2.0 + 4.0 + ROW * k as f64;
        svg.text((CLIENT_X - 8.0, at), "end", r#"font-weight="bold""#, state);
        next = next.max(y + ROW * k as f64);
    }
    for (k, state) in right.iter().enumerate() {
        let at = y + SLANT / 2.0 + 4.0 + ROW * k as f64;
        svg.text(
            (SERVER_X + 8.0, at),
            "start",
            r#"font-weight="bold""#,
            state,
        );
        next = next.max(y + ROW * k as f64);
    }
    svg.raw("</g>");
    next + ROW
}

/// A filled arrowhead at `to`, pointing away from `from`.
fn head(svg: &mut Svg, from: (f64, f64), to: (f64, f64), colour: &str) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / length, dy / length);
    let (back, side) = (10.0, 4.0);
    let a = (to.0 - ux * back - uy * side, to.1 - uy * back + ux * side);
    let b = (to.0 - ux * back + uy * side, to.1 - uy * back - ux * side);
    svg.raw(&format!(
        r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
        to.0, to.1, a.0, a.1, b.0, b.1
    ));
}

/// An ✕ where a segment that was not captured is drawn to stop.
fn cross(svg: &mut Svg, (x, y): (f64, f64), colour: &str) {
    let r = 6.0;
    let style = format!(r#"stroke="{colour}" stroke-width="2.5""#);
    svg.line((x - r, y - r), (x + r, y + r), &style);
    svg.line((x - r, y + r), (x + r, y - r), &style);
}
