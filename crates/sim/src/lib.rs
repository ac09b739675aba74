//! Deterministic network simulator for sans-IO nodes.
//!
//! synack's TCP core is sans-IO: packets and time go in, packets and
//! deadlines come out. This crate is the network that drives any number of
//! such [`Node`]s in virtual time, over links with delay, jitter, bandwidth,
//! queue limits, MTU, loss, duplication, reordering, corruption and
//! partitions. Virtual time jumps straight to the next event, so minutes of
//! TCP time run in milliseconds, and one seeded RNG makes every run replay.
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Duration;
//! use synack_core::Instant;
//! use synack_sim::{LinkConfig, Network, RawNode};
//!
//! let a_addr: IpAddr = [10, 0, 0, 1].into();
//! let b_addr: IpAddr = [10, 0, 0, 2].into();
//! let mut net = Network::new(42);
//! let a = net.add_host(RawNode::new(), &[a_addr]);
//! let b = net.add_host(RawNode::echoing(), &[b_addr]);
//! net.link(a, b, LinkConfig::default().with_delay(Duration::from_millis(10)));
//!
//! // A bare IPv4 header from a to b.
//! let mut ping = vec![0u8; 20];
//! ping[0] = 0x45;
//! ping[12..16].copy_from_slice(&[10, 0, 0, 1]);
//! ping[16..20].copy_from_slice(&[10, 0, 0, 2]);
//! net.host_mut(a).send(ping);
//!
//! net.run_for(Duration::from_secs(1));
//! assert_eq!(net.host(a).received()[0].time, Instant::from_millis(20));
//! assert_eq!(net.stats().delivered, 2);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
mod capture;
mod channel;
mod event;
mod host;
mod link;
mod network;
mod node;
pub mod nodes;
mod queue;
mod stack_node;
mod stats;

pub use capture::{Capture, CaptureEvent};
pub use host::HostId;
pub use link::{GilbertElliott, LinkConfig};
pub use network::{Network, TRANSMIT_BUFFER_LEN};
pub use node::Node;
pub use nodes::{RawNode, Received};
pub use stats::{DropReason, NetStats};
