//! synack on real devices: drivers (TUN, in-memory socket pairs), a runtime that runs the sans-IO
//! core on its own thread with a real clock, pcap capture, and blocking sockets shaped like
//! `std::net`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use synack::{Net, NetConfig, Tun, TunOptions, TcpStream};
//!
//! let tun = Tun::open(&TunOptions::new("synack0"))?;
//! let net = Net::new(tun, NetConfig::new(vec!["10.7.0.2/24".parse().unwrap()]))?;
//! let mut stream = TcpStream::connect(&net, "10.7.0.1:8000")?;
//! stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
//! let mut reply = Vec::new();
//! stream.read_to_end(&mut reply)?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod cidr;
pub mod control;
mod device;
mod memory;
pub mod pcap;
mod runtime;
mod socket;
mod sys;
pub mod taps;
pub mod trace;
mod tun;

pub use cidr::{CidrParseError, IpCidr};
pub use control::{ControlClient, ControlHandle};
pub use device::Device;
pub use memory::MemoryLink;
pub use runtime::{DeviceStats, Direction, Net, NetConfig, Observer};
pub use socket::{TcpListener, TcpStream, DEFAULT_BACKLOG};
pub use synack_core as core;
pub use sys::enter_netns;
pub use tun::{Tun, TunOptions};
