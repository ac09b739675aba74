//! Deterministic network simulator.
#![forbid(unsafe_code)]
