//! Stream buffers: bytes waiting to be acknowledged, and bytes waiting to be read.

mod reassembly;
mod ring;

pub use reassembly::RecvBuffer;
pub use ring::Ring;
