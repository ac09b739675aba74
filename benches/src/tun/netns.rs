//! Network namespaces the benchmark creates for itself, and the links inside them.
//!
//! Everything here happens inside namespaces named `synack-bench-<pid>-<n>`: the root namespace's
//! interfaces and routes are never touched. Each namespace is owned by a [`Netns`] guard that
//! deletes it when dropped (also while a panic unwinds), and SIGINT/SIGTERM delete every namespace
//! still alive before the process exits, so an interrupted run leaves nothing behind.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Namespaces alive now, for the signal handler to delete.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Numbers namespaces within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Set once the SIGINT/SIGTERM handler runs.
static SIGNALS: OnceLock<Result<(), String>> = OnceLock::new();

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails with a clear message unless the effective user is root (namespaces, TUN devices and
/// veth pairs need CAP_SYS_ADMIN and CAP_NET_ADMIN).
pub fn require_root() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status to check for root: {e}"))?;
    // "Uid:\treal\teffective\tsaved\tfs"
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .ok_or("cannot find the effective uid in /proc/self/status")?;
    if euid != 0 {
        return Err(format!(
            "the tun benchmark must run as root (effective uid is {euid}): it creates network \
             namespaces, a TUN device and a veth pair. Run it with sudo, e.g. \
             `sudo -E cargo run --release -p synack-bench -- tun`"
        ));
    }
    Ok(())
}

/// Runs `ip ARGS`, returning its standard output, or an error quoting the command and its stderr.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        format!("cannot run `ip` (iproute2): {e}; install it (apt-get install iproute2)")
    })?;
    if !out.status.success() {
        return Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes every namespace still alive on SIGINT or SIGTERM, then exits (status 130 / 143), so
/// that an interrupted benchmark does not leave namespaces behind. Installed once per process.
fn install_signal_cleanup() -> Result<(), String> {
    SIGNALS
        .get_or_init(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
                .map_err(|e| format!("cannot install signal handlers: {e}"))?;
            std::thread::Builder::new()
                .name("netns-cleanup".into())
                .spawn(move || {
                    if let Some(sig) = signals.forever().next() {
                        for name in live().drain(..) {
                            let _ = ip(&["netns", "delete", &name]);
                        }
                        eprintln!("interrupted: benchmark namespaces deleted");
                        std::process::exit(128 + sig);
                    }
                })
                .map(|_| ())
                .map_err(|e| format!("cannot start the signal thread: {e}"))
        })
        .clone()
}

/// A network namespace this process created; deleted (with every interface in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a fresh namespace `synack-bench-<pid>-<n>` with its loopback up.
    pub fn create() -> Result<Netns, String> {
        install_signal_cleanup()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("synack-bench-{}-{n}", std::process::id());
        // Registered before it exists, so a signal between the two steps still deletes it.
        live().push(name.clone());
        let ns = Netns { name };
        ip(&["netns", "add", &ns.name])?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS` (a command applied inside this namespace only).
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Creates a persistent TUN device `dev` (no packet information header) with address
    /// `addr/24`, and brings it up. synack attaches to it afterwards as its only reader.
    pub fn add_tun(&self, dev: &str, addr: Ipv4Addr) -> Result<(), String> {
        self.ip(&["tuntap", "add", "dev", dev, "mode", "tun"])?;
        self.ip(&["addr", "add", &format!("{addr}/24"), "dev", dev])?;
        self.ip(&["link", "set", dev, "up"])?;
        Ok(())
    }

    /// Joins this namespace to `peer` with a veth pair at MTU `mtu`: `dev` here with `addr/24`,
    /// `peer_dev` there with `peer_addr/24`. Both ends are created inside the namespaces (`ip -n`
    /// with `peer ... netns`), never in the root namespace.
    pub fn add_veth_to(
        &self,
        dev: &str,
        addr: Ipv4Addr,
        peer: &Netns,
        peer_dev: &str,
        peer_addr: Ipv4Addr,
        mtu: u32,
    ) -> Result<(), String> {
        let mtu = mtu.to_string();
        self.ip(&[
            "link", "add", dev, "mtu", &mtu, "type", "veth", "peer", "name", peer_dev, "mtu", &mtu,
            "netns", &peer.name,
        ])?;
        for (ns, dev, addr) in [(self, dev, addr), (peer, peer_dev, peer_addr)] {
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ns.ip(&["link", "set", dev, "up"])?;
        }
        Ok(())
    }

    /// Interface `dev`'s counters, read with `ip -s link show`.
    pub fn link_counters(&self, dev: &str) -> Result<LinkCounters, String> {
        let text = self.ip(&["-s", "link", "show", "dev", dev])?;
        LinkCounters::parse(&text).ok_or(format!(
            "cannot read the counters of {dev} in {} from:\n{text}",
            self.name
        ))
    }

    /// The namespace's TCP `RetransSegs` (segments the kernel retransmitted, all sockets), from
    /// `/proc/thread-self/net/snmp` read by a thread inside the namespace.
    pub fn kernel_retransmits(&self) -> Result<u64, String> {
        let name = self.name.clone();
        let snmp = std::thread::spawn(move || -> Result<String, String> {
            synack::enter_netns(&name).map_err(|e| e.to_string())?;
            std::fs::read_to_string("/proc/thread-self/net/snmp")
                .map_err(|e| format!("cannot read /proc/thread-self/net/snmp: {e}"))
        })
        .join()
        .map_err(|_| "the snmp reader thread panicked".to_string())??;
        tcp_counter(&snmp, "RetransSegs").ok_or(format!(
            "no Tcp RetransSegs in {}'s /proc/net/snmp",
            self.name
        ))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        live().retain(|n| n != &self.name);
        if let Err(e) = ip(&["netns", "delete", &self.name]) {
            eprintln!("warning: could not delete namespace {}: {e}", self.name);
        }
    }
}

/// The counters `ip -s link show` prints for an interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Packets the interface received (for a TUN device: that its reader wrote).
    pub rx_packets: u64,
    /// Packets the interface sent (for a TUN device: that its reader took).
    pub tx_packets: u64,
    /// Packets the kernel dropped on the way out (for a TUN device: its queue to the reader was
    /// full).
    pub tx_dropped: u64,
}

impl LinkCounters {
    /// Reads the `RX:` and `TX:` tables of `ip -s link show` (a header line naming the columns,
    /// then a line of numbers).
    pub fn parse(text: &str) -> Option<LinkCounters> {
        let rx = Self::table(text, "RX:")?;
        let tx = Self::table(text, "TX:")?;
        Some(LinkCounters {
            rx_packets: *rx.get("packets")?,
            tx_packets: *tx.get("packets")?,
            tx_dropped: *tx.get("dropped")?,
        })
    }

    fn table(text: &str, tag: &str) -> Option<std::collections::HashMap<String, u64>> {
        let mut lines = text.lines();
        let header = lines.find(|l| l.trim_start().starts_with(tag))?;
        let values = lines.next()?;
        let names = header.split_whitespace().skip(1);
        let numbers = values.split_whitespace().map(|v| v.parse::<u64>().ok());
        names
            .zip(numbers)
            .map(|(n, v)| v.map(|v| (n.to_string(), v)))
            .collect()
    }

    /// Counts accumulated since `before`.
    pub fn since(&self, before: &LinkCounters) -> LinkCounters {
        LinkCounters {
            rx_packets: self.rx_packets.saturating_sub(before.rx_packets),
            tx_packets: self.tx_packets.saturating_sub(before.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(before.tx_dropped),
        }
    }
}

/// Field `name` of the `Tcp:` lines of /proc/net/snmp (a line of names, then a line of values).
pub fn tcp_counter(snmp: &str, name: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let names = tcp.next()?;
    let values = tcp.next()?;
    let index = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_link_counters() {
        let text = "2: tun0: <POINTOPOINT,UP> mtu 1500 qdisc pfifo_fast state UP qlen 500
    link/none
    RX:  bytes packets errors dropped  missed   mcast
         1234      11      0       3       0       0
    TX:  bytes packets errors dropped carrier collsns
      9876543     222      0      17       0       0
";
        let c = LinkCounters::parse(text).expect("parses");
        assert_eq!(
            c,
            LinkCounters {
                rx_packets: 11,
                tx_packets: 222,
                tx_dropped: 17
            }
        );
        assert!(LinkCounters::parse("RX: bytes packets\n 1 x\n").is_none());
    }

    #[test]
    fn reads_snmp_counters() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Tcp: RtoAlgorithm RtoMin RetransSegs InErrs\nTcp: 1 200 42 0\n";
        assert_eq!(tcp_counter(snmp, "RetransSegs"), Some(42));
        assert_eq!(tcp_counter(snmp, "RtoMin"), Some(200));
        assert_eq!(tcp_counter(snmp, "Nope"), None);
    }
}
