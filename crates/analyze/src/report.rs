//! Puts the pieces together per connection, and prints them: a summary table, a detail view,
//! or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::capture::{Capture, Format, Skipped};
use crate::conn::{self, Connection, Dir};
use crate::expert::{self, Finding};
use crate::infer::{self, End, Inference, Side};
use crate::segment::{self, NotTcp};

/// Options each side offered in its SYN, and what is in force.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Options {
    /// MSS each side announced (RFC 9293 §3.7.1): client, server.
    pub mss: [Option<u16>; 2],
    /// Window scale shifts when both SYNs carried the option (RFC 7323 §2.2): client, server.
    pub wscale: Option<[u8; 2]>,
    /// SACK permitted by both (RFC 2018 §2).
    pub sack: bool,
    /// Timestamps on both SYNs (RFC 7323 §3.2).
    pub timestamps: bool,
}

/// Handshake timing, as Wireshark's `tcp.analysis.initial_rtt`.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub struct HandshakeRtt {
    /// First SYN to first SYN-ACK, in seconds (the server side of the path, seen from a
    /// client-side tap).
    pub syn_to_synack: f64,
    /// SYN-ACK to the client's ACK of it, in seconds.
    pub synack_to_ack: f64,
    /// The sum: Wireshark's `tcp.analysis.initial_rtt` (first SYN to the ACK of the SYN-ACK).
    pub initial_rtt: f64,
    /// The frame of the client's ACK that completed the handshake.
    pub ack_frame: u64,
}

/// One state change, printable.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct StateChange {
    /// Frame of the segment that caused it.
    pub frame: u64,
    /// State before (`ss` names).
    pub from: &'static str,
    /// State after.
    pub to: &'static str,
    /// The Figure 5 event.
    pub cause: &'static str,
}

/// One endpoint's history.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct EndpointReport {
    /// Address and port.
    pub addr: String,
    /// Initial sequence number, if its SYN was seen.
    pub isn: Option<u32>,
    /// Payload bytes sent (by IP length, so snapped packets count in full).
    pub bytes: u64,
    /// Segments sent.
    pub segments: u64,
    /// State before the first change.
    pub initial_state: &'static str,
    /// State at capture end.
    pub final_state: &'static str,
    /// Changes in order.
    pub states: Vec<StateChange>,
}

/// Everything about one connection.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct ConnectionReport {
    /// Number in the capture, from 1.
    pub number: usize,
    /// The side that opened.
    pub client: EndpointReport,
    /// The other side.
    pub server: EndpointReport,
    /// Negotiated options.
    pub options: Options,
    /// Handshake timing, when the whole handshake is in the capture.
    pub handshake_rtt: Option<HandshakeRtt>,
    /// First packet's capture time (seconds since the epoch).
    pub start: f64,
    /// Last packet minus first, in seconds.
    pub duration: f64,
    /// Whether the capture starts after the handshake.
    pub joined_midstream: bool,
    /// The side that sent the first FIN or RST.
    pub closed_first: Option<Side>,
    /// How it ended.
    pub end: End,
    /// Expert findings in frame order.
    pub findings: Vec<Finding>,
}

impl ConnectionReport {
    /// Findings counted by tshark field name.
    pub fn finding_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.kind.tshark_field()).or_insert(0) += 1;
        }
        counts
    }
}

/// Frames that did not become part of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Ignored {
    /// From the capture reader: unsupported link types and non-IP frames.
    #[serde(flatten)]
    pub link: Skipped,
    /// IP, but not TCP.
    pub not_tcp: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Broken or cut-off IP/TCP headers.
    pub malformed: u64,
}

/// The whole analysis.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Analysis {
    /// File format.
    pub format: Format,
    /// Link types of the capture's interfaces.
    pub link_types: Vec<u32>,
    /// TCP segments analysed.
    pub tcp_segments: u64,
    /// What was left out, by reason.
    pub ignored: Ignored,
    /// Why reading stopped early, if it did.
    pub damaged: Option<String>,
    /// The connections, in order of first packet.
    pub connections: Vec<ConnectionReport>,
}

/// Analyses a capture that has been read.
pub fn analyze(capture: &Capture) -> Analysis {
    let mut ignored = Ignored {
        link: capture.skipped,
        ..Ignored::default()
    };
    let mut segments = Vec::new();
    for frame in &capture.frames {
        match segment::decode(&frame.ip) {
            Ok(seg) => segments.push((frame.number, frame.time, seg)),
            Err(NotTcp::OtherProtocol) => ignored.not_tcp += 1,
            Err(NotTcp::Fragment) => ignored.fragments += 1,
            Err(NotTcp::Malformed) => ignored.malformed += 1,
        }
    }
    let tcp_segments = segments.len() as u64;
    let connections = conn::group(segments)
        .iter()
        .map(connection_report)
        .collect();
    Analysis {
        format: capture.format,
        link_types: capture.link_types.clone(),
        tcp_segments,
        ignored,
        damaged: capture.damaged.clone(),
        connections,
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The handshake's three packets: first SYN, first SYN-ACK, and the client's first ACK of it.
fn handshake_rtt(conn: &Connection) -> Option<HandshakeRtt> {
    let syn = conn
        .packets
        .iter()
        .find(|p| p.dir == Dir::ToServer && p.segment.flags.syn() && !p.segment.flags.ack())?;
    let synack = conn
        .packets
        .iter()
        .find(|p| p.dir == Dir::ToClient && p.segment.flags.syn() && p.segment.flags.ack())?;
    let want = synack.segment.seq.wrapping_add(1);
    let ack = conn.packets.iter().find(|p| {
        p.dir == Dir::ToServer
            && !p.segment.flags.syn()
            && p.segment.flags.ack()
            && p.segment.ack == want
            && p.time >= synack.time
    })?;
    let a = synack.time.checked_sub(syn.time)?;
    let b = ack.time.checked_sub(synack.time)?;
    Some(HandshakeRtt {
        syn_to_synack: secs(a),
        synack_to_ack: secs(b),
        initial_rtt: secs(a + b),
        ack_frame: ack.frame,
    })
}

fn options(conn: &Connection) -> Options {
    let syn = |dir: Dir| {
        conn.packets
            .iter()
            .find(|p| p.dir == dir && p.segment.flags.syn())
            .map(|p| &p.segment.options)
    };
    let (c, s) = (syn(Dir::ToServer), syn(Dir::ToClient));
    Options {
        mss: [c.and_then(|o| o.mss), s.and_then(|o| o.mss)],
        wscale: match (
            c.and_then(|o| o.window_scale),
            s.and_then(|o| o.window_scale),
        ) {
            (Some(a), Some(b)) => Some([a, b]),
            _ => None,
        },
        sack: c.is_some_and(|o| o.sack_permitted) && s.is_some_and(|o| o.sack_permitted),
        timestamps: c.is_some_and(|o| o.timestamps.is_some())
            && s.is_some_and(|o| o.timestamps.is_some()),
    }
}

fn endpoint(conn: &Connection, inference: &Inference, side: Side) -> EndpointReport {
    let (dir, i) = match side {
        Side::Client => (Dir::ToServer, 0),
        Side::Server => (Dir::ToClient, 1),
    };
    let sent = conn.packets.iter().filter(|p| p.dir == dir);
    EndpointReport {
        addr: conn.sender(dir).to_string(),
        isn: sent
            .clone()
            .find(|p| p.segment.flags.syn())
            .map(|p| p.segment.seq),
        bytes: sent.clone().map(|p| u64::from(p.segment.payload_len)).sum(),
        segments: sent.count() as u64,
        initial_state: inference.initial.get(i).map_or("CLOSED", |s| s.name()),
        final_state: inference.final_state(side).name(),
        states: inference
            .transitions
            .get(i)
            .map(|ts| {
                ts.iter()
                    .map(|t| StateChange {
                        frame: t.frame,
                        from: t.from.name(),
                        to: t.to.name(),
                        cause: t.cause.label(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn connection_report(conn: &Connection) -> ConnectionReport {
    let inference = infer::infer(conn);
    let rtt = handshake_rtt(conn);
    let findings = expert::analyze(
        conn,
        rtt.map(|r| (r.ack_frame, Duration::from_secs_f64(r.initial_rtt))),
    );
    let first = conn.packets.first().map_or(Duration::ZERO, |p| p.time);
    let last = conn.packets.last().map_or(Duration::ZERO, |p| p.time);
    ConnectionReport {
        number: conn.number,
        client: endpoint(conn, &inference, Side::Client),
        server: endpoint(conn, &inference, Side::Server),
        options: options(conn),
        handshake_rtt: rtt,
        start: secs(first),
        duration: secs(last.saturating_sub(first)),
        joined_midstream: inference.joined_midstream,
        closed_first: inference.closed_first,
        end: inference.end,
        findings,
    }
}

fn opt_text(o: &Options) -> String {
    let mut parts = Vec::new();
    if let [Some(c), Some(s)] = o.mss {
        parts.push(format!("mss {c}/{s}"));
    }
    if let Some([c, s]) = o.wscale {
        parts.push(format!("wscale {c}/{s}"));
    }
    if o.sack {
        parts.push("sack".into());
    }
    if o.timestamps {
        parts.push("ts".into());
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

/// The summary table: one line per connection.
pub fn summary(analysis: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>3}  {:<44} {:>8} {:>9} {:>9} {:>10}  {:<22} {:<24} {:<22} findings",
        "#",
        "client -> server",
        "rtt ms",
        "segs c/s",
        "bytes c",
        "bytes s",
        "options",
        "states c / s",
        "end"
    );
    for c in &analysis.connections {
        let findings: Vec<String> = c
            .finding_counts()
            .iter()
            .map(|(k, n)| format!("{}={n}", k.trim_start_matches("tcp.analysis.")))
            .collect();
        let _ = writeln!(
            out,
            "{:>3}  {:<44} {:>8} {:>9} {:>9} {:>10}  {:<22} {:<24} {:<22} {}",
            c.number,
            format!("{} -> {}", c.client.addr, c.server.addr),
            c.handshake_rtt
                .map_or("-".into(), |r| format!("{:.3}", r.initial_rtt * 1e3)),
            format!("{}/{}", c.client.segments, c.server.segments),
            c.client.bytes,
            c.server.bytes,
            opt_text(&c.options),
            format!("{}/{}", c.client.final_state, c.server.final_state),
            c.end.describe(),
            if findings.is_empty() {
                "-".into()
            } else {
                findings.join(" ")
            },
        );
    }
    let i = &analysis.ignored;
    let _ = writeln!(
        out,
        "{} connections, {} TCP segments; ignored: {} unsupported link, {} not IP, {} not TCP, {} fragments, {} malformed",
        analysis.connections.len(),
        analysis.tcp_segments,
        i.link.unsupported_link,
        i.link.not_ip,
        i.not_tcp,
        i.fragments,
        i.malformed
    );
    if let Some(why) = &analysis.damaged {
        let _ = writeln!(
            out,
            "warning: the capture ends with a damaged record ({why})"
        );
    }
    out
}

/// The detail view of one connection.
pub fn detail(c: &ConnectionReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "connection {}: {} -> {}",
        c.number, c.client.addr, c.server.addr
    );
    let _ = writeln!(
        out,
        "  start {:.6}, duration {:.6} s{}",
        c.start,
        c.duration,
        if c.joined_midstream {
            " (capture starts mid-connection)"
        } else {
            ""
        }
    );
    let isn = |v: Option<u32>| v.map_or("-".into(), |v| v.to_string());
    let _ = writeln!(
        out,
        "  ISN client {}, server {}",
        isn(c.client.isn),
        isn(c.server.isn)
    );
    let _ = writeln!(out, "  options {}", opt_text(&c.options));
    match c.handshake_rtt {
        Some(r) => {
            let _ = writeln!(
                out,
                "  handshake RTT {:.3} ms = SYN->SYN-ACK {:.3} ms + SYN-ACK->ACK {:.3} ms (tcp.analysis.initial_rtt)",
                r.initial_rtt * 1e3,
                r.syn_to_synack * 1e3,
                r.synack_to_ack * 1e3
            );
        }
        None => {
            let _ = writeln!(out, "  handshake RTT - (handshake not fully captured)");
        }
    }
    for (name, e) in [("client", &c.client), ("server", &c.server)] {
        let _ = writeln!(
            out,
            "  {name} {}: {} segments, {} bytes; {} -> {}",
            e.addr, e.segments, e.bytes, e.initial_state, e.final_state
        );
        for s in &e.states {
            let _ = writeln!(
                out,
                "    frame {:>6}  {:<12} -> {:<12} ({})",
                s.frame, s.from, s.to, s.cause
            );
        }
    }
    let _ = writeln!(
        out,
        "  closed first: {}; end: {}",
        c.closed_first
            .map_or("nobody".into(), |s| format!("{s:?}").to_lowercase()),
        c.end.describe()
    );
    let _ = writeln!(out, "  findings: {}", c.findings.len());
    for f in &c.findings {
        let _ = writeln!(
            out,
            "    frame {:>6}  {:<10} {:<36} [{}]",
            f.frame,
            match f.dir {
                Dir::ToServer => "c->s",
                Dir::ToClient => "s->c",
            },
            f.kind.describe(),
            f.kind.tshark_field()
        );
    }
    out
}

/// The analysis as pretty JSON.
pub fn json(analysis: &Analysis) -> String {
    serde_json::to_string_pretty(analysis).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
