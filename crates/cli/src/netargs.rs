//! The options every command that runs synack on a real device shares: which TUN device, the
//! stack's addresses, capture and trace.

use clap::Args;
use std::path::PathBuf;
use synack::{IpCidr, Net, NetConfig, Tun, TunOptions};

/// Device, addresses, capture.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// TUN device to attach to (created if it does not exist; a device made with
    /// `ip tuntap add dev NAME mode tun` keeps the kernel side's address and routes)
    #[arg(long, value_name = "NAME", default_value = "synack0")]
    pub tun: String,
    /// The stack's own address with its prefix, e.g. 10.7.0.2/24 or fd00:7::2/64 (repeat for
    /// IPv4 and IPv6). The kernel side of the device needs an address on the same network.
    #[arg(long = "ip", value_name = "ADDR/PREFIX")]
    pub ip: Vec<IpCidr>,
    /// Open the TUN device inside this network namespace (from `ip netns list`)
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
    /// Record every packet in and out to this pcap file (readable by tcpdump -r, Wireshark)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Print every packet as `tcpdump -n -S` prints it, and every TCP state transition, to stderr
    #[arg(long)]
    pub trace: bool,
}

impl NetArgs {
    /// Opens the device and starts the stack.
    pub fn start(&self) -> Result<Net, String> {
        if self.ip.is_empty() {
            return Err(format!(
                "the stack needs an address of its own: add --ip ADDR/PREFIX, e.g. --ip 10.7.0.2/24 \
                 (with the kernel side of {} on 10.7.0.1/24)",
                self.tun
            ));
        }
        let mut config = NetConfig::new(self.ip.clone());
        if let Some(path) = &self.pcap {
            let tap = synack::taps::PcapTap::create(path)
                .map_err(|e| format!("cannot create pcap file {}: {e}", path.display()))?;
            config.observers.push(Box::new(tap));
        }
        if self.trace {
            config
                .observers
                .push(Box::new(synack::taps::TraceTap::stderr()));
        }
        let tun = Tun::open(&TunOptions {
            name: self.tun.clone(),
            netns: self.netns.clone(),
        })
        .map_err(|e| e.to_string())?;
        Net::new(tun, config).map_err(|e| format!("cannot start the stack: {e}"))
    }
}
