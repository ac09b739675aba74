//! synack on real devices: drivers (TUN, in-memory socket pairs), a runtime that runs the sans-IO
//! core on its own thread with a real clock, pcap capture, and blocking sockets shaped like
//! `std::net`.

pub mod pcap;
