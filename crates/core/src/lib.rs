//! synack's sans-IO TCP stack.
//!
//! The core does no I/O and reads no clock: a driver hands it IP packets and the current time,
//! and takes out packets to send, events, and the next deadline. The same code runs in the
//! deterministic simulator and on a real network device.
//!
//! ```
//! use std::sync::Arc;
//! use synack_core::{Config, Instant, Stack};
//!
//! let mut client = Stack::new(Arc::new(Config::default()), [1; 32]);
//! client.add_address("10.0.0.1".parse().unwrap());
//! let conn = client.connect(Instant::ZERO, None, "10.0.0.2:80".parse().unwrap()).unwrap();
//! let mut buf = [0u8; 1500];
//! let syn = client.poll_transmit(Instant::ZERO, &mut buf).expect("a SYN");
//! assert_eq!(client.state(conn), Some(synack_core::State::SynSent));
//! assert!(syn.len >= 40);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod buffer;
mod cc;
mod challenge;
pub mod config;
mod cookie_reply;
pub mod error;
pub mod event;
mod icmp;
mod memory;
mod ports;
mod rtt;
mod secrets;
mod slab;
pub mod stack;
pub mod state;
pub mod stats;
pub mod syncookie;
pub mod tcb;
pub mod time;

pub use cc::CongestionControl;
pub use config::{Config, CongestionAlgorithm, IsnMode, Keepalive};
pub use error::{ConnectError, ConnectionError, InvalidHandle, ListenError, RecvError, SendError};
pub use event::Event;
pub use stack::{Conn, ConnId, ListenerId, Shutdown, Stack, Transmit};
pub use state::{Cause, State};
pub use stats::Stats;
pub use syncookie::SynCookies;
pub use tcb::{ConnCounters, TcpInfo, Timer};
pub use time::Instant;
