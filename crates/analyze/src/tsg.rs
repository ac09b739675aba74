//! The time-sequence graph of one direction of a connection, tcptrace / Stevens style: time
//! across, relative sequence number up; each data segment an I-beam from its first sequence
//! number to one past its last (red when it is a retransmission), the receiver's cumulative
//! ACK as a step line, the right edge of its advertised window (ACK + window, scaled) as
//! another, and its SACK blocks as short bars of their own colour.

use crate::conn::{Connection, Dir};
use crate::ladder::is_retransmission;
use crate::svg::Svg;
use crate::view::ConnectionView;

/// One data segment (or SYN / FIN: they take sequence space too).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct DataSegment {
    /// Seconds since the connection's first packet.
    pub time: f64,
    /// First sequence number, relative to the sender's ISN.
    pub start: i64,
    /// One past the last.
    pub end: i64,
    /// The analyzer found it a retransmission (plain, fast or spurious).
    pub retransmission: bool,
}

/// What one ACK from the receiver says.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct AckSample {
    /// Seconds since the connection's first packet.
    pub time: f64,
    /// Cumulative acknowledgment, relative to the data sender's ISN.
    pub ack: i64,
    /// Right edge of the window it offers: ack + window << scale.
    pub window_edge: i64,
}

/// One SACK block an ACK carried.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct SackSample {
    /// Seconds since the connection's first packet.
    pub time: f64,
    /// Left edge, relative.
    pub start: i64,
    /// Right edge, relative.
    pub end: i64,
}

/// The graph of one direction, as data.
#[derive(Clone, PartialEq, Debug)]
pub struct TimeSequence {
    /// Connection number in the capture.
    pub number: usize,
    /// The direction the data went.
    pub dir: Dir,
    /// Data sender's address.
    pub sender: String,
    /// Receiver's address.
    pub receiver: String,
    /// Segments that take sequence space, in capture order.
    pub segments: Vec<DataSegment>,
    /// The receiver's ACKs, in capture order.
    pub acks: Vec<AckSample>,
    /// SACK blocks, in capture order.
    pub sacks: Vec<SackSample>,
}

/// The direction that carried more payload bytes (the client's on a tie).
pub fn busier_direction(conn: &Connection) -> Dir {
    let bytes = |dir: Dir| -> u64 {
        conn.packets
            .iter()
            .filter(|p| p.dir == dir)
            .map(|p| u64::from(p.segment.payload_len))
            .sum()
    };
    if bytes(Dir::ToClient) > bytes(Dir::ToServer) {
        Dir::ToClient
    } else {
        Dir::ToServer
    }
}

/// Turns 32-bit sequence numbers into a 64-bit line that does not jump at the wrap (RFC 9293
/// §3.4: sequence space is modulo 2^32; nearby numbers are compared by their difference).
struct Unwrap {
    last_raw: u32,
    last: i64,
}

impl Unwrap {
    fn new(base: u32) -> Unwrap {
        Unwrap {
            last_raw: base,
            last: 0,
        }
    }

    fn at(&mut self, raw: u32) -> i64 {
        let value = self.last + i64::from(raw.wrapping_sub(self.last_raw) as i32);
        self.last_raw = raw;
        self.last = value;
        value
    }
}

/// RFC 7323 §2.2-2.3: the shift the ACK sender's windows carry, when both SYNs offered
/// scaling (capped at 14); 0 otherwise, or when the handshake was not captured.
fn receiver_shift(conn: &Connection, receiver_dir: Dir) -> u8 {
    let offer = |dir: Dir| {
        conn.packets
            .iter()
            .find(|p| p.dir == dir && p.segment.flags.syn())
            .and_then(|p| p.segment.options.window_scale)
    };
    match (offer(receiver_dir), offer(receiver_dir.reverse())) {
        (Some(shift), Some(_)) => shift.min(14),
        _ => 0,
    }
}

/// Builds the graph of `dir` (the data sender's direction).
pub fn build(view: &ConnectionView, dir: Dir) -> TimeSequence {
    let conn = &view.conn;
    let sent = || conn.packets.iter().filter(move |p| p.dir == dir);
    let base = sent()
        .find(|p| p.segment.flags.syn())
        .or_else(|| sent().next())
        .map(|p| p.segment.seq)
        .or_else(|| {
            // Nothing went that way: count from what the receiver acknowledges.
            conn.packets
                .iter()
                .find(|p| p.dir != dir && p.segment.flags.ack())
                .map(|p| p.segment.ack)
        })
        .unwrap_or(0);
    let start = conn.packets.first().map_or(0.0, |p| p.time.as_secs_f64());
    let shift = receiver_shift(conn, dir.reverse());
    // One unwrapper follows the whole line, so data, ACKs and SACKs share its epoch.
    let mut unwrap = Unwrap::new(base);
    let mut graph = TimeSequence {
        number: conn.number,
        dir,
        sender: conn.sender(dir).to_string(),
        receiver: conn.sender(dir.reverse()).to_string(),
        segments: Vec::new(),
        acks: Vec::new(),
        sacks: Vec::new(),
    };
    for packet in &conn.packets {
        let seg = &packet.segment;
        let time = packet.time.as_secs_f64() - start;
        if packet.dir == dir {
            if seg.seq_len() == 0 {
                continue;
            }
            let from = unwrap.at(seg.seq);
            graph.segments.push(DataSegment {
                time,
                start: from,
                end: from + i64::from(seg.seq_len()),
                retransmission: view
                    .findings
                    .iter()
                    .any(|f| f.frame == packet.frame && is_retransmission(f.kind)),
            });
        } else if seg.flags.ack() {
            let ack = unwrap.at(seg.ack);
            // RFC 7323 §2.2: the window field of a SYN is never scaled.
            let shift = if seg.flags.syn() { 0 } else { shift };
            graph.acks.push(AckSample {
                time,
                ack,
                window_edge: ack + (i64::from(seg.window) << shift),
            });
            for (left, right) in seg.options.sack_blocks.as_slice() {
                let l = unwrap.at(left.0);
                let r = unwrap.at(right.0);
                graph.sacks.push(SackSample {
                    time,
                    start: l,
                    end: r,
                });
            }
            unwrap.at(seg.ack);
        }
    }
    graph
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 640.0;
const LEFT: f64 = 100.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// Colours.
const DATA: &str = "black";
const RETRANSMISSION: &str = "#d00000";
const ACK: &str = "#008000";
const WINDOW: &str = "#c0a000";
const SACK: &str = "#8000c0";

/// Maps data coordinates onto the plot area.
struct Scale {
    t0: f64,
    t1: f64,
    s0: f64,
    s1: f64,
}

impl Scale {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, s: i64) -> f64 {
        HEIGHT - BOTTOM - (s as f64 - self.s0) / (self.s1 - self.s0) * (HEIGHT - TOP - BOTTOM)
    }
}

/// About five round-numbered ticks (1, 2 or 5 times a power of ten apart) over `lo..hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}

/// Draws the graph.
pub fn render(graph: &TimeSequence) -> String {
    let times = graph
        .segments
        .iter()
        .map(|s| s.time)
        .chain(graph.acks.iter().map(|a| a.time));
    let (t0, t1) = times.fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let seqs = graph
        .segments
        .iter()
        .flat_map(|s| [s.start, s.end])
        .chain(graph.acks.iter().map(|a| a.ack))
        .chain(graph.sacks.iter().flat_map(|s| [s.start, s.end]));
    let (s0, s1) = seqs.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let (t0, t1) = if t0 <= t1 { (t0, t1) } else { (0.0, 0.0) };
    let (s0, s1) = if s0 <= s1 { (s0, s1) } else { (0, 0) };
    // The window line joins the range only while it stays near the data: a window far larger
    // than the transfer (a scaled one, say) would squash the data into a flat line, so it
    // is clipped at the top instead, as tcptrace's zoomed views do.
    let window_top = graph.acks.iter().map(|a| a.window_edge).max().unwrap_or(s1);
    let s1 = s1.max(window_top.min(s1 + (s1 - s0).max(1)));
    // A little room around the data, and a non-empty range even for a single point.
    let (tpad, spad) = (
        ((t1 - t0) * 0.03).max(1e-3),
        ((s1 - s0) as f64 * 0.03).max(1.0),
    );
    let scale = Scale {
        t0: t0 - tpad,
        t1: t1 + tpad,
        s0: s0 as f64 - spad,
        s1: s1 as f64 + spad,
    };
    let mut svg = Svg::new(WIDTH, HEIGHT);
    svg.comment("Time-sequence graph written by synack (tcptrace style).");
    svg.text(
        (LEFT, 25.0),
        "start",
        r#"font-size="14" font-weight="bold""#,
        &format!(
            "connection {}: {} -> {} (sequence numbers relative to the sender's ISN)",
            graph.number, graph.sender, graph.receiver
        ),
    );
    axes(&mut svg, &scale);
    svg.raw(&format!(
        r#"<clipPath id="plot"><rect x="{LEFT:.1}" y="{TOP:.1}" width="{:.1}" height="{:.1}"/></clipPath>"#,
        WIDTH - LEFT - RIGHT,
        HEIGHT - TOP - BOTTOM
    ));
    svg.raw(r#"<g clip-path="url(#plot)">"#);
    draw_window_and_acks(&mut svg, graph, &scale);
    for s in &graph.sacks {
        let x = scale.x(s.time) + 3.0;
        svg.raw(r#"<g class="sack">"#);
        svg.line(
            (x, scale.y(s.start)),
            (x, scale.y(s.end)),
            &format!(r#"stroke="{SACK}" stroke-width="2""#),
        );
        svg.raw("</g>");
    }
    for seg in &graph.segments {
        i_beam(&mut svg, seg, &scale);
    }
    svg.raw("</g>");
    legend(&mut svg);
    svg.finish()
}

fn axes(svg: &mut Svg, scale: &Scale) {
    let axis = r#"stroke="black" stroke-width="1""#;
    let grid = r##"stroke="#e0e0e0" stroke-width="1""##;
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let (y0, y1) = (HEIGHT - BOTTOM, TOP);
    svg.raw(r#"<g class="axes">"#);
    for t in ticks(scale.t0, scale.t1) {
        let x = scale.x(t);
        svg.line((x, y0), (x, y1), grid);
        svg.line((x, y0), (x, y0 + 5.0), axis);
        svg.text((x, y0 + 18.0), "middle", "", &format!("{t:.3}"));
    }
    for s in ticks(scale.s0, scale.s1) {
        let y = scale.y(s.round() as i64);
        svg.line((x0, y), (x1, y), grid);
        svg.line((x0 - 5.0, y), (x0, y), axis);
        svg.text(
            (x0 - 8.0, y + 4.0),
            "end",
            "",
            &format!("{}", s.round() as i64),
        );
    }
    svg.line((x0, y0), (x1, y0), axis);
    svg.line((x0, y0), (x0, y1), axis);
    svg.text(((x0 + x1) / 2.0, HEIGHT - 20.0), "middle", "", "time (s)");
    svg.text(
        (20.0, (y0 + y1) / 2.0),
        "middle",
        &format!(r#"transform="rotate(-90 20 {:.1})""#, (y0 + y1) / 2.0),
        "relative sequence number",
    );
    svg.raw("</g>");
}

/// The ACK and window lines as step functions: each value holds until the next ACK.
fn draw_window_and_acks(svg: &mut Svg, graph: &TimeSequence, scale: &Scale) {
    let steps = |value: &dyn Fn(&AckSample) -> i64| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for a in &graph.acks {
            let (x, y) = (scale.x(a.time), scale.y(value(a)));
            if let Some(&(_, last_y)) = points.last() {
                points.push((x, last_y));
            }
            points.push((x, y));
        }
        if let Some(&(_, y)) = points.last() {
            points.push((WIDTH - RIGHT, y));
        }
        points
    };
    svg.raw(r#"<g class="window">"#);
    svg.polyline(
        &steps(&|a| a.window_edge),
        &format!(r#"stroke="{WINDOW}" stroke-width="1.5""#),
    );
    svg.raw("</g>");
    svg.raw(r#"<g class="ack">"#);
    svg.polyline(
        &steps(&|a| a.ack),
        &format!(r#"stroke="{ACK}" stroke-width="1.5""#),
    );
    svg.raw("</g>");
}

/// tcptrace's I-beam: a vertical bar over the segment's sequence range, with serifs.
fn i_beam(svg: &mut Svg, seg: &DataSegment, scale: &Scale) {
    let (class, colour) = if seg.retransmission {
        ("retransmission", RETRANSMISSION)
    } else {
        ("data", DATA)
    };
    let style = format!(r#"stroke="{colour}" stroke-width="1.5""#);
    let x = scale.x(seg.time);
    let (top, bottom) = (scale.y(seg.end), scale.y(seg.start));
    svg.raw(&format!(r#"<g class="{class}">"#));
    svg.line((x, bottom), (x, top), &style);
    svg.line((x - 3.0, top), (x + 3.0, top), &style);
    svg.line((x - 3.0, bottom), (x + 3.0, bottom), &style);
    svg.raw("</g>");
}

fn legend(svg: &mut Svg) {
    let (x, mut y) = (LEFT + 15.0, TOP + 15.0);
    svg.raw(r#"<g class="legend">"#);
    svg.raw(&format!(
        r##"<rect x="{:.1}" y="{:.1}" width="230" height="92" fill="white" stroke="#888"/>"##,
        x - 8.0,
        y - 12.0
    ));
    for (colour, text) in [
        (DATA, "data segment"),
        (RETRANSMISSION, "retransmission"),
        (ACK, "cumulative ACK"),
        (WINDOW, "ACK + receive window"),
        (SACK, "SACK block"),
    ] {
        svg.line(
            (x, y - 4.0),
            (x + 24.0, y - 4.0),
            &format!(r#"stroke="{colour}" stroke-width="3""#),
        );
        svg.text((x + 32.0, y), "start", "", text);
        y += 17.0;
    }
    svg.raw("</g>");
}
