//! Fuzz target bodies for synack, as plain functions over bytes.
//!
//! Each target decodes its input with [`arbitrary::Unstructured`] and panics when an invariant
//! breaks, which is what libFuzzer catches. The same functions run on nightly under
//! `cargo fuzz` (see `fuzz/`) and on stable in a seeded loop (`tests/targets.rs`), so CI
//! exercises them without a nightly toolchain.
//!
//! - [`parse_packet`]: the wire parsers and the tcpdump formatter on arbitrary bytes;
//! - [`live_stack`]: one stack fed near-valid segments, garbage, time steps and API calls;
//! - [`two_stacks`]: two stacks over an impaired simulated link, checking the delivered stream.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod gen;
mod live_stack;
mod parse_packet;
mod two_stacks;

pub mod corpus;

pub use live_stack::{live_stack, live_stack_transitions};
pub use parse_packet::parse_packet;
pub use two_stacks::{two_stacks, two_stacks_outcome, TwoStacksOutcome};

/// A fuzz target: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: [(&str, Target); 3] = [
    ("parse_packet", parse_packet),
    ("live_stack", live_stack),
    ("two_stacks", two_stacks),
];
