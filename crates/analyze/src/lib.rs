//! `synack analyze`: reads a pcap or pcapng capture and reports, for each TCP connection, its
//! endpoints, options, handshake RTT, traffic, the states each endpoint went through (through
//! the core's one copy of RFC 9293 Figure 5), how it ended, and expert findings named as
//! tshark's `tcp.analysis.*` flags.
//!
//! The pipeline, one module per step: [`capture`] (file -> IP frames), [`segment`] (IP ->
//! TCP facts), [`conn`] (segments -> connections), [`infer`] (states), [`expert`]
//! (findings), [`report`] (tables, detail, JSON). The pictures build on the same steps:
//! [`view`] (one connection with its states and findings), [`ladder`] (the sequence diagram as
//! data) drawn by [`ladder_text`] and [`ladder_svg`], and [`tsg`] (the time-sequence graph).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod conn;
pub mod expert;
pub mod infer;
pub mod ladder;
pub mod ladder_svg;
pub mod ladder_text;
pub mod report;
pub mod segment;
pub mod svg;
pub mod tsg;
pub mod view;

pub use capture::{read_capture, Capture, CaptureError};
pub use report::{analyze, Analysis, ConnectionReport};

/// Reads and analyses a capture from its bytes.
pub fn analyze_bytes(bytes: &[u8]) -> Result<Analysis, CaptureError> {
    read_capture(bytes).map(|capture| analyze(&capture))
}
