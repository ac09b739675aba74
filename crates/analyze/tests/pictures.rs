//! The ladder diagram and the time-sequence graph on hand-made captures: the model's rows,
//! labels, marks and states; the text's width; SVG that parses as XML and draws something
//! when rendered with resvg; and no panic on any capture the analyzer accepts.

mod build;
mod svg_check;

use build::*;
use proptest::prelude::*;
use svg_check::{count_class, render};
use synack_analyze::conn::Dir;
use synack_analyze::ladder::{self, Ladder, Numbering};
use synack_analyze::read_capture;
use synack_analyze::view::{connection_views, ConnectionView};
use synack_analyze::{ladder_svg, ladder_text, svg, tsg};
use synack_wire::{SeqNumber, TcpOptions};

fn views(bytes: &[u8]) -> Vec<ConnectionView> {
    connection_views(&read_capture(bytes).expect("the capture reads"))
}

fn first_view(segs: &[Seg]) -> ConnectionView {
    views(&pcap(101, segs, 65535))
        .into_iter()
        .next()
        .expect("one connection")
}

fn ladder_of(segs: &[Seg], numbering: Numbering) -> Ladder {
    ladder::build(&first_view(segs), numbering)
}

#[test]
fn handshake_labels_are_relative_to_each_isn() {
    let ladder = ladder_of(&conversation(), Numbering::Relative);
    let labels: Vec<&str> = ladder.rows.iter().map(|r| r.label.as_str()).collect();
    assert!(
        labels[0].starts_with("SYN seq 0 win 1000 len 0"),
        "{labels:?}"
    );
    assert!(labels[1].starts_with("SYN, ACK seq 0 ack 1 "), "{labels:?}");
    assert!(labels[2].starts_with("ACK seq 1 ack 1 "), "{labels:?}");
    // The server's data and the client's FIN: numbers counted from each side's own ISN.
    assert!(labels[4].starts_with("ACK seq 1 ack 11 "), "{labels:?}");
    assert!(
        labels[5].starts_with("FIN, ACK seq 11 ack 21 "),
        "{labels:?}"
    );
    assert_eq!(ladder.rows[1].dir, Dir::ToClient);
}

#[test]
fn absolute_numbers_are_the_wire_numbers() {
    let ladder = ladder_of(&conversation(), Numbering::Absolute);
    assert!(ladder.rows[0].label.starts_with("SYN seq 100 "));
    assert!(ladder.rows[1]
        .label
        .starts_with("SYN, ACK seq 500 ack 101 "));
}

#[test]
fn states_sit_on_the_row_that_caused_them() {
    let ladder = ladder_of(&conversation(), Numbering::Relative);
    assert_eq!(ladder.initial_states, ["CLOSED", "LISTEN"]);
    let states: Vec<[Vec<&str>; 2]> = ladder.rows.iter().map(|r| r.states.clone()).collect();
    assert_eq!(states[0], [vec!["SYN_SENT"], vec!["SYN_RCVD"]]);
    assert_eq!(states[1], [vec!["ESTABLISHED"], vec![]]);
    assert_eq!(states[2], [vec![], vec!["ESTABLISHED"]]);
    assert_eq!(states[5], [vec!["FIN_WAIT_1"], vec!["CLOSE_WAIT"]]);
    // The server's FIN-ACK acknowledges the client's FIN and carries its own FIN.
    assert_eq!(
        states[6],
        [vec!["FIN_WAIT_2", "TIME_WAIT"], vec!["LAST_ACK"]]
    );
    assert_eq!(states[7], [vec![], vec!["CLOSED"]]);
}

#[test]
fn a_gap_becomes_a_missing_row_and_the_resend_is_marked() {
    let ladder = ladder_of(&with_loss(), Numbering::Relative);
    let missing: Vec<_> = ladder
        .rows
        .iter()
        .filter(|r| r.marks.not_captured)
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].label, "seq 101:201 missing");
    assert_eq!(missing[0].frame, None);
    // It sits just before the frame that revealed the gap.
    let at = ladder
        .rows
        .iter()
        .position(|r| r.marks.not_captured)
        .expect("a missing row");
    assert_eq!(ladder.rows[at + 1].frame, Some(5));
    let resent: Vec<Option<u64>> = ladder
        .rows
        .iter()
        .filter(|r| r.marks.retransmission)
        .map(|r| r.frame)
        .collect();
    assert_eq!(resent, vec![Some(9)]);
    assert!(ladder.rows[at + 3].label.contains("[dup#1]"));
    let text = ladder_text::render(&ladder);
    assert!(text.contains(".. seq 101:201 missing"), "{text}");
    assert!(text.contains("X"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("==") && l.contains("fast retx")),
        "{text}"
    );
}

#[test]
fn text_fits_one_hundred_columns() {
    for segs in [conversation(), with_loss()] {
        let text = ladder_text::render(&ladder_of(&segs, Numbering::Absolute));
        for line in text.lines() {
            assert!(
                line.chars().count() <= ladder_text::WIDTH,
                "{} columns: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn ladder_svg_parses_and_draws() {
    let ladder = ladder_of(&with_loss(), Numbering::Relative);
    let svg = ladder_svg::render(&ladder);
    let (painted, red) = render(&svg);
    assert!(painted > 5_000, "only {painted} pixels drawn");
    assert!(
        red > 50,
        "the retransmission and the ✕ are red: {red} red pixels"
    );
    assert_eq!(count_class(&svg, "retransmission"), 1);
    assert_eq!(count_class(&svg, "not-captured"), 1);
    assert_eq!(
        count_class(&svg, "segment"),
        ladder.rows.len() - 2,
        "every other row is a plain segment"
    );
}

#[test]
fn graph_marks_retransmissions_and_scales_the_window() {
    let view = first_view(&with_loss());
    assert_eq!(tsg::busier_direction(&view.conn), Dir::ToServer);
    let graph = tsg::build(&view, Dir::ToServer);
    // SYN, three data segments.
    let ranges: Vec<(i64, i64, bool)> = graph
        .segments
        .iter()
        .map(|s| (s.start, s.end, s.retransmission))
        .collect();
    assert_eq!(
        ranges,
        vec![
            (0, 1, false),
            (1, 101, false),
            (201, 301, false),
            (101, 201, true)
        ]
    );
    let acks: Vec<i64> = graph.acks.iter().map(|a| a.ack).collect();
    assert_eq!(acks, vec![1, 101, 101, 101, 301]);
    // No window scaling offered: the edge is ack + window.
    assert!(graph.acks.iter().all(|a| a.window_edge == a.ack + 1000));
    let svg = tsg::render(&graph);
    assert_eq!(count_class(&svg, "retransmission"), 1);
    assert_eq!(count_class(&svg, "data"), 3);
    let (painted, red) = render(&svg);
    assert!(painted > 5_000, "only {painted} pixels drawn");
    // The legend is red too: compare with a graph without retransmissions.
    let clean = tsg::render(&tsg::build(&first_view(&conversation()), Dir::ToServer));
    let (_, legend_only) = render(&clean);
    assert!(
        red > legend_only + 10,
        "the red bar shows: {red} vs {legend_only} red pixels"
    );

    // With scaling on both SYNs, the window after the handshake is shifted (RFC 7323 §2.2)
    // but the SYN-ACK's is not.
    let scaled = tsg::build(&first_view(&conversation()), Dir::ToServer);
    let edges: Vec<i64> = scaled.acks.iter().map(|a| a.window_edge - a.ack).collect();
    assert_eq!(edges.first(), Some(&1000));
    assert!(edges.iter().skip(1).all(|&e| e == 1000 << 7), "{edges:?}");
}

#[test]
fn graph_shows_sack_blocks() {
    let (c, s) = (CLIENT, SERVER);
    let sack = TcpOptions {
        sack_blocks: [(SeqNumber(201), SeqNumber(301))].into_iter().collect(),
        ..TcpOptions::default()
    };
    let mut segs = with_loss();
    segs[6] = seg(s, c, 1, 101, ACK).opts(sack).at(101_100);
    let view = first_view(&segs);
    let graph = tsg::build(&view, Dir::ToServer);
    assert_eq!(graph.sacks.len(), 1);
    assert_eq!((graph.sacks[0].start, graph.sacks[0].end), (201, 301));
    assert_eq!(count_class(&tsg::render(&graph), "sack"), 1);
    let ladder = ladder::build(&view, Numbering::Relative);
    assert!(ladder.rows.iter().any(|r| r.label.contains("sack 201-301")));
}

#[test]
fn sequence_numbers_that_wrap_stay_on_one_line() {
    let (c, s) = (CLIENT, SERVER);
    let isn = u32::MAX - 50;
    let segs = vec![
        seg(c, s, isn, 0, SYN).at(0),
        seg(s, c, 7, isn.wrapping_add(1), synack()).at(1_000),
        seg(c, s, isn.wrapping_add(1), 8, ACK).data(100).at(2_000),
        seg(c, s, isn.wrapping_add(101), 8, ACK).data(100).at(3_000),
        seg(s, c, 8, isn.wrapping_add(201), ACK).at(4_000),
    ];
    let graph = tsg::build(&first_view(&segs), Dir::ToServer);
    let starts: Vec<i64> = graph.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![0, 1, 101]);
    assert_eq!(graph.acks.last().map(|a| a.ack), Some(201));
}

#[test]
fn svg_text_is_escaped() {
    assert_eq!(svg::escape("a<b&c>\"'"), "a&lt;b&amp;c&gt;&quot;&apos;");
    assert_eq!(svg::escape("x\u{1}y"), "x?y");
}

fn arb_seg() -> impl Strategy<Value = Seg> {
    (
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        0usize..200,
        proptest::option::of(0u8..20),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 0..3),
    )
        .prop_map(|(forward, seq, ack, flags, window, len, wscale, sacks)| {
            let (from, to) = if forward {
                (CLIENT, SERVER)
            } else {
                (SERVER, CLIENT)
            };
            let opts = TcpOptions {
                window_scale: wscale,
                sack_blocks: sacks
                    .into_iter()
                    .map(|(l, r)| (SeqNumber(l), SeqNumber(r)))
                    .collect(),
                ..TcpOptions::default()
            };
            seg(from, to, seq, ack, synack_wire::TcpFlags(flags & 0x3f))
                .win(window)
                .opts(opts)
                .data(len)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any capture the analyzer accepts draws without panicking, and every picture parses.
    #[test]
    fn any_capture_draws(segs in proptest::collection::vec(arb_seg(), 1..25), small_seqs in any::<bool>()) {
        let segs: Vec<Seg> = segs
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                if small_seqs {
                    // Nearby numbers, so gaps, retransmissions and SACKs actually happen.
                    s.seq %= 2000;
                    s.ack %= 2000;
                }
                s.at(i as u64 * 1_000)
            })
            .collect();
        for view in views(&pcap(101, &segs, 65535)) {
            for numbering in [Numbering::Relative, Numbering::Absolute] {
                let ladder = ladder::build(&view, numbering);
                let text = ladder_text::render(&ladder);
                prop_assert!(text.lines().count() >= ladder.rows.len());
                roxmltree::Document::parse(&ladder_svg::render(&ladder)).map_err(|e| {
                    TestCaseError::fail(format!("ladder SVG: {e}"))
                })?;
            }
            for dir in [Dir::ToServer, Dir::ToClient] {
                let svg = tsg::render(&tsg::build(&view, dir));
                roxmltree::Document::parse(&svg)
                    .map_err(|e| TestCaseError::fail(format!("graph SVG: {e}")))?;
            }
        }
    }
}
