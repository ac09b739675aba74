//! `synack analyze`: reads a pcap or pcapng capture and reports, for each TCP connection, its
//! endpoints, options, handshake RTT, traffic, the states each endpoint went through (through
//! the core's one copy of RFC 9293 Figure 5), how it ended, and expert findings named as
//! tshark's `tcp.analysis.*` flags.
//!
//! The pipeline, one module per step: [`capture`] (file -> IP frames), [`segment`] (IP ->
//! TCP facts), [`conn`] (segments -> connections), [`infer`] (states), [`expert`]
//! (findings), [`report`] (tables, detail, JSON).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod conn;
pub mod expert;
pub mod infer;
pub mod report;
pub mod segment;

pub use capture::{read_capture, Capture, CaptureError};
pub use report::{analyze, Analysis, ConnectionReport};

/// Reads and analyses a capture from its bytes.
pub fn analyze_bytes(bytes: &[u8]) -> Result<Analysis, CaptureError> {
    read_capture(bytes).map(|capture| analyze(&capture))
}
