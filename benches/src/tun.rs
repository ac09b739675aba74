//! `synack-bench tun`: bulk throughput between synack and the Linux kernel over a TUN device,
//! beside kernel-to-kernel throughput over a veth pair, in one run.
//!
//! Each transfer moves the same number of bytes of the benchmark's pattern and is verified by
//! byte count and running checksum at the receiver. The TUN transfers run synack in this process
//! on a TUN device inside a namespace of its own; the kernel's end is a `std::net` socket made by
//! a thread that entered that namespace. The veth transfer runs between two more namespaces
//! joined by a veth pair at the same MTU (1500), and gives the reference the TUN figures are
//! divided by. Needs root; touches nothing outside the namespaces it creates (see [`netns`]).
//!
//! The kernel has segmentation and receive offloads on veth (it moves 64 KB super-packets and
//! never splits them), while on TUN without a virtio-net header every 1500-byte packet crosses
//! the device on its own, so part of the gap is the device and not synack.

pub mod netns;
pub mod stream;
pub mod transfers;

use crate::pattern::Pattern;
use std::sync::Arc;
use std::time::Instant;
pub use transfers::{SynackCounters, Transfer, TransferResult};
use transfers::{TunBed, VethBed};

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunOptions {
    /// Bytes per transfer.
    pub bytes: u64,
    /// The transfers to run, in order.
    pub transfers: Vec<Transfer>,
}

impl Default for TunOptions {
    fn default() -> Self {
        TunOptions {
            bytes: 256 << 20,
            transfers: Transfer::ALL.to_vec(),
        }
    }
}

const USAGE: &str = "usage: synack-bench tun [--quick] [--size MIB] \
[--only veth|synack-to-kernel|kernel-to-synack]...
  --quick     16 MiB per transfer (default 256 MiB)
  --size MIB  MiB per transfer
  --only T    run only this transfer (repeatable); the ratio needs veth among them
Runs as root; creates network namespaces synack-bench-<pid>-<n> and deletes them on exit.";

impl TunOptions {
    /// The `--quick` preset: 16 MiB per transfer.
    pub fn quick() -> Self {
        TunOptions {
            bytes: 16 << 20,
            ..Self::default()
        }
    }

    /// Parses the arguments after `tun`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Self::quick()
        } else {
            Self::default()
        };
        let mut only = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => {}
                "--size" => {
                    let mib = it
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .filter(|&m| (1..=1 << 20).contains(&m))
                        .ok_or(format!("--size needs a number of MiB (1 or more)\n{USAGE}"))?;
                    o.bytes = mib << 20;
                }
                "--only" => {
                    let name = it.next().map(String::as_str).unwrap_or("");
                    let t = Transfer::ALL
                        .into_iter()
                        .find(|t| t.flag_name() == name)
                        .ok_or(format!("--only takes a transfer name\n{USAGE}"))?;
                    if !only.contains(&t) {
                        only.push(t);
                    }
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                s => return Err(format!("unknown argument {s}\n{USAGE}")),
            }
        }
        if !only.is_empty() {
            // Keep the usual order (the reference first) whatever order the flags came in.
            o.transfers = Transfer::ALL
                .into_iter()
                .filter(|t| only.contains(t))
                .collect();
        }
        Ok(o)
    }
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct TunReport {
    /// One result per transfer, in the order run.
    pub results: Vec<TransferResult>,
}

impl TunReport {
    /// Every transfer verified its data.
    pub fn all_verified(&self) -> bool {
        self.results.iter().all(TransferResult::verified)
    }

    /// The veth transfer's throughput, if it ran and verified.
    pub fn veth_gbps(&self) -> Option<f64> {
        self.results
            .iter()
            .find(|r| r.transfer == Transfer::Veth && r.verified())
            .map(TransferResult::gbps)
    }

    /// A transfer's throughput divided by the veth transfer's.
    pub fn ratio(&self, r: &TransferResult) -> Option<f64> {
        self.veth_gbps()
            .filter(|_| r.verified())
            .map(|veth| r.gbps() / veth)
    }
}

/// Sets up the namespaces, runs the transfers `o` asks for, prints the table, and tears
/// everything down. An error only when the test beds could not be set up.
pub fn run(o: &TunOptions) -> Result<TunReport, String> {
    netns::require_root()?;
    let pattern = Arc::new(Pattern::new());
    let t = Instant::now();
    let expected = pattern.checksum(o.bytes);
    let hash = t.elapsed();
    let veth = if o.transfers.contains(&Transfer::Veth) {
        Some(VethBed::new()?)
    } else {
        None
    };
    let tun = if o.transfers.iter().any(|t| t.uses_tun()) {
        Some(TunBed::new()?)
    } else {
        None
    };
    println!(
        "tun: {} MiB per transfer, verified by byte count and running checksum; MTU {} on \
         the TUN device and the veth pair",
        o.bytes >> 20,
        transfers::VETH_MTU
    );
    if let Some(bed) = &tun {
        println!(
            "  synack {} <-> kernel {} on {} in namespace {}",
            transfers::TUN_SYNACK_IP,
            transfers::TUN_KERNEL_IP,
            transfers::TUN_DEV,
            bed.netns().name()
        );
    }
    println!(
        "  (the receiver's checksum alone runs at {:.1} Gbit/s; it is inside the figures)",
        crate::gbps(o.bytes, hash)
    );
    print_header();
    let mut report = TunReport::default();
    for &t in &o.transfers {
        let r =
            transfers::run_transfer(t, o.bytes, &pattern, expected, tun.as_ref(), veth.as_ref());
        print_row(&report, &r);
        report.results.push(r);
    }
    print_notes(&report);
    Ok(report)
}

fn print_header() {
    println!(
        "{:<24} {:>6} {:>8} {:>7} {:>7} {:>9} {:>13} {:>13} {:>3}",
        "transfer",
        "MiB",
        "seconds",
        "Gbit/s",
        "vs veth",
        "tun drops",
        "synack rexmit",
        "kernel rexmit",
        "ok"
    );
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

fn print_row(report: &TunReport, r: &TransferResult) {
    // The veth row is the reference itself.
    let ratio = if r.transfer == Transfer::Veth {
        r.verified().then_some(1.0)
    } else {
        report.ratio(r)
    };
    println!(
        "{:<24} {:>6} {:>8.3} {:>7.2} {:>7} {:>9} {:>13} {:>13} {:>3}",
        r.transfer.label(),
        r.bytes >> 20,
        r.wall.as_secs_f64(),
        r.gbps(),
        or_dash(ratio.map(|x| format!("{x:.2}"))),
        or_dash(r.tun.map(|t| t.tx_dropped)),
        or_dash(r.synack.map(|s| s.retransmits)),
        or_dash(r.kernel_retransmits),
        if r.verified() { "yes" } else { "NO" }
    );
    if let Some(e) = &r.error {
        println!("  error: {e}");
    } else if !r.verified() {
        println!(
            "  received {} of {} bytes, checksum {:#018x} (expected {:#018x})",
            r.received, r.bytes, r.received_checksum, r.expected_checksum
        );
    }
}

fn print_notes(report: &TunReport) {
    let tun_runs: Vec<&TransferResult> = report
        .results
        .iter()
        .filter(|r| r.transfer.uses_tun())
        .collect();
    if tun_runs.is_empty() {
        return;
    }
    println!(
        "  tun drops: packets the kernel could not queue to synack (TX dropped of the device)"
    );
    for r in tun_runs {
        let tun = r.tun.unwrap_or_default();
        let s = r.synack.unwrap_or_default();
        println!(
            "  {}: device packets to synack {}, from synack {}; synack RTO expiries {}, \
             out-of-order segments in {}, writes the device refused {}",
            r.transfer.flag_name(),
            tun.tx_packets,
            tun.rx_packets,
            s.timeouts,
            s.ooo_segments,
            s.device_tx_dropped
        );
    }
}

/// The `tun` subcommand: parse, run, print; 0 when every transfer verified, 1 when one did not or
/// the setup failed, 2 for bad arguments.
pub fn run_cli(args: &[String]) -> i32 {
    let o = match TunOptions::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    match run(&o) {
        Ok(report) if report.all_verified() => 0,
        Ok(_) => {
            eprintln!("some transfers did not verify");
            1
        }
        Err(e) => {
            eprintln!("tun benchmark: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags() {
        assert_eq!(TunOptions::parse(&[]).unwrap(), TunOptions::default());
        assert_eq!(
            TunOptions::parse(&args(&["--quick"])).unwrap().bytes,
            16 << 20
        );
        let o = TunOptions::parse(&args(&[
            "--size",
            "3",
            "--only",
            "kernel-to-synack",
            "--only",
            "veth",
        ]))
        .unwrap();
        assert_eq!(o.bytes, 3 << 20);
        assert_eq!(o.transfers, vec![Transfer::Veth, Transfer::KernelToSynack]);
        for bad in [
            &["--size"][..],
            &["--size", "0"],
            &["--size", "x"],
            &["--only", "loopback"],
            &["--fast"],
        ] {
            assert!(TunOptions::parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
