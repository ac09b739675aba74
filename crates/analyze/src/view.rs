//! One connection with everything the pictures need: its packets, the inferred states and the
//! expert findings, computed by the same pipeline as `synack analyze`.

use crate::capture::Capture;
use crate::conn::{self, Connection};
use crate::expert::Finding;
use crate::infer::{self, Inference};
use crate::report;
use crate::segment;

/// A connection, its inferred history and its findings.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectionView {
    /// The packets.
    pub conn: Connection,
    /// The states each side went through.
    pub inference: Inference,
    /// Expert findings, in frame order.
    pub findings: Vec<Finding>,
}

/// Every TCP connection of a capture, numbered from 1 as in `synack analyze`.
pub fn connection_views(capture: &Capture) -> Vec<ConnectionView> {
    let segments = capture
        .frames
        .iter()
        .filter_map(|f| Some((f.number, f.time, segment::decode(&f.ip).ok()?)));
    let connections = conn::group(segments);
    // The report runs the expert pass with the handshake RTT; take its findings rather than
    // repeating that step here, so the pictures and `synack analyze` always agree.
    let reports = report::analyze(capture).connections;
    connections
        .into_iter()
        .map(|conn| {
            let findings = reports
                .iter()
                .find(|r| r.number == conn.number)
                .map(|r| r.findings.clone())
                .unwrap_or_default();
            ConnectionView {
                inference: infer::infer(&conn),
                conn,
                findings,
            }
        })
        .collect()
}
