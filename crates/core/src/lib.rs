//! The sans-IO TCP stack.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod time;
pub use time::Instant;
