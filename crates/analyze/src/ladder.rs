//! The ladder (sequence) diagram of one connection, as pure data: one row per segment (and
//! one per segment the analyzer infers was not captured), each with its label, its marks and
//! the state changes it caused on either side. [`crate::ladder_text`] and
//! [`crate::ladder_svg`] draw it.

use std::time::Duration;

use crate::conn::{Connection, Dir};
use crate::expert::{Finding, Kind};
use crate::infer::Side;
use crate::segment::Segment;
use crate::view::ConnectionView;

/// How sequence and acknowledgment numbers are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Numbering {
    /// Relative to each side's initial sequence number, as Wireshark shows them (SYN seq 0,
    /// the first data byte 1).
    #[default]
    Relative,
    /// As on the wire.
    Absolute,
}

/// What is special about a row.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Marks {
    /// A retransmission (plain, fast or spurious).
    pub retransmission: bool,
    /// A segment the capture does not hold, inferred from a gap in sequence space.
    pub not_captured: bool,
    /// Sent below the highest sequence number, soon after it.
    pub out_of_order: bool,
    /// Carries RST.
    pub rst: bool,
}

/// One arrow of the ladder.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Row {
    /// Since the connection's first packet (for a segment not captured: the time of the frame
    /// that revealed the gap).
    pub time: Duration,
    /// Frame number; `None` for a segment that was not captured.
    pub frame: Option<u64>,
    /// Which way it went.
    pub dir: Dir,
    /// Flags, numbers, window (when it differs from the sender's previous one), length, SACK
    /// blocks and findings, e.g. `SYN, ACK seq 0 ack 1 win 65535 len 0`.
    pub label: String,
    /// Retransmission, not captured, out of order, RST.
    pub marks: Marks,
    /// States each side entered at this row, in order: [client, server] (`ss` names).
    pub states: [Vec<&'static str>; 2],
}

/// A connection's ladder.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ladder {
    /// Connection number in the capture.
    pub number: usize,
    /// The endpoints' addresses: [client, server].
    pub endpoints: [String; 2],
    /// Each side's state before the first row: [client, server].
    pub initial_states: [&'static str; 2],
    /// How the numbers in the labels are written.
    pub numbering: Numbering,
    /// The arrows, in capture order.
    pub rows: Vec<Row>,
}

/// RFC 9293 §3.4 sequence arithmetic: `a` is after `b`.
fn seq_gt(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// The number each direction's sequence numbers count from: the SYN's (its ISN), else the
/// first sequence number seen that way (Wireshark does the same for a capture that starts
/// mid-connection). `None` when nothing went that way.
fn bases(conn: &Connection) -> [Option<u32>; 2] {
    [Dir::ToServer, Dir::ToClient].map(|dir| {
        let sent = || conn.packets.iter().filter(move |p| p.dir == dir);
        sent()
            .find(|p| p.segment.flags.syn())
            .or_else(|| sent().next())
            .map(|p| p.segment.seq)
    })
}

/// Builds the ladder of one connection.
pub fn build(view: &ConnectionView, numbering: Numbering) -> Ladder {
    let conn = &view.conn;
    let base = match numbering {
        Numbering::Relative => bases(conn),
        Numbering::Absolute => [None, None],
    };
    // Writes a sequence number of direction `dir` (relative when its base is known).
    let number = |dir: Dir, n: u32| -> u32 {
        base.get(dir.index())
            .copied()
            .flatten()
            .map_or(n, |b| n.wrapping_sub(b))
    };
    let start = conn.packets.first().map_or(Duration::ZERO, |p| p.time);
    let mut rows = Vec::with_capacity(conn.packets.len());
    // Per direction, the highest sequence number sent so far plus its length: where a gap
    // that the analyzer reports as "previous segment not captured" begins.
    let mut next_seq: [Option<u32>; 2] = [None, None];
    // Per direction, the last window field written: a label repeats it only when it changed,
    // which keeps labels short enough for a terminal.
    let mut last_window: [Option<u16>; 2] = [None, None];
    for packet in &conn.packets {
        let seg = &packet.segment;
        let findings: Vec<Kind> = view
            .findings
            .iter()
            .filter(|f| f.frame == packet.frame)
            .map(|f: &Finding| f.kind)
            .collect();
        let time = packet.time.saturating_sub(start);
        let i = packet.dir.index();
        if findings.contains(&Kind::PreviousSegmentNotCaptured) {
            if let Some(gap_start) = next_seq.get(i).copied().flatten() {
                rows.push(Row {
                    time,
                    frame: None,
                    dir: packet.dir,
                    label: format!(
                        "seq {}:{} missing",
                        number(packet.dir, gap_start),
                        number(packet.dir, seg.seq)
                    ),
                    marks: Marks {
                        not_captured: true,
                        ..Marks::default()
                    },
                    states: [Vec::new(), Vec::new()],
                });
            }
        }
        let end = seg.seq.wrapping_add(seg.seq_len());
        if let Some(slot) = next_seq.get_mut(i) {
            if !slot.is_some_and(|n| !seq_gt(end, n)) {
                *slot = Some(end);
            }
        }
        let states = [Side::Client, Side::Server].map(|side| {
            view.inference
                .transitions
                .get(side_index(side))
                .map(|ts| {
                    ts.iter()
                        .filter(|t| t.frame == packet.frame)
                        .map(|t| t.to.name())
                        .collect()
                })
                .unwrap_or_default()
        });
        let window_changed = last_window.get(i).copied().flatten() != Some(seg.window);
        if let Some(w) = last_window.get_mut(i) {
            *w = Some(seg.window);
        }
        rows.push(Row {
            time,
            frame: Some(packet.frame),
            dir: packet.dir,
            label: label(seg, packet.dir, &number, &findings, window_changed),
            marks: Marks {
                retransmission: findings.iter().any(|k| is_retransmission(*k)),
                not_captured: false,
                out_of_order: findings.contains(&Kind::OutOfOrder),
                rst: seg.flags.rst(),
            },
            states,
        });
    }
    Ladder {
        number: conn.number,
        endpoints: [conn.client.to_string(), conn.server.to_string()],
        initial_states: [
            view.inference
                .initial
                .first()
                .map_or("CLOSED", |s| s.name()),
            view.inference.initial.get(1).map_or("CLOSED", |s| s.name()),
        ],
        numbering,
        rows,
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// Whether a finding says the segment was sent before (the kinds a tcptrace graph paints red).
pub fn is_retransmission(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Retransmission | Kind::FastRetransmission | Kind::SpuriousRetransmission
    )
}

/// Wireshark's names of the control bits that are set, e.g. `SYN, ACK`.
pub fn flag_names(seg: &Segment) -> String {
    let f = seg.flags;
    // Wireshark's order: SYN and FIN first, then RST, PSH, URG, ACK last.
    let names: Vec<&str> = [
        (f.syn(), "SYN"),
        (f.fin(), "FIN"),
        (f.rst(), "RST"),
        (f.psh(), "PSH"),
        (f.urg(), "URG"),
        (f.ack(), "ACK"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if names.is_empty() {
        return "<none>".into();
    }
    names.join(", ")
}

/// Short words for the findings worth seeing on an arrow.
fn finding_tag(kind: Kind) -> Option<String> {
    Some(match kind {
        Kind::Retransmission => "retx".into(),
        Kind::FastRetransmission => "fast retx".into(),
        Kind::SpuriousRetransmission => "spurious".into(),
        Kind::OutOfOrder => "ooo".into(),
        Kind::DuplicateAck { count } => format!("dup#{count}"),
        Kind::ZeroWindow => "zero window".into(),
        Kind::WindowFull => "window full".into(),
        Kind::ZeroWindowProbe => "zw probe".into(),
        Kind::KeepAlive => "keep-alive".into(),
        Kind::WindowUpdate => "win upd".into(),
        Kind::AckedUnseenSegment => "acks unseen".into(),
        Kind::ZeroWindowProbeAck
        | Kind::KeepAliveAck
        | Kind::PreviousSegmentNotCaptured
        | Kind::Rst => return None,
    })
}

fn label(
    seg: &Segment,
    dir: Dir,
    number: &impl Fn(Dir, u32) -> u32,
    findings: &[Kind],
    show_window: bool,
) -> String {
    let mut text = format!("{} seq {}", flag_names(seg), number(dir, seg.seq));
    if seg.flags.ack() {
        // The acknowledgment counts in the other direction's sequence space.
        text += &format!(" ack {}", number(dir.reverse(), seg.ack));
    }
    if show_window {
        text += &format!(" win {}", seg.window);
    }
    text += &format!(" len {}", seg.payload_len);
    for (left, right) in seg.options.sack_blocks.as_slice() {
        let (l, r) = (
            number(dir.reverse(), left.0),
            number(dir.reverse(), right.0),
        );
        text += &format!(" sack {l}-{r}");
    }
    let tags: Vec<String> = findings.iter().filter_map(|k| finding_tag(*k)).collect();
    if !tags.is_empty() {
        text += &format!(" [{}]", tags.join(", "));
    }
    text
}
