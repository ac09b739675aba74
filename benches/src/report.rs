//! Command line and tables.

use crate::pattern::Pattern;
use crate::{gbps, run_bulk, run_cycles, BulkParams, BulkResult, CycleParams, CycleResult, Driver};
use std::time::{Duration, Instant};
use synack_core::Config;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bytes per bulk transfer.
    pub bytes: u64,
    /// MTUs to run bulk transfers at.
    pub mtus: Vec<usize>,
    /// Run the FIFO driver.
    pub fifo: bool,
    /// Run the simulator driver.
    pub sim: bool,
    /// Simulated link rate, bit/s.
    pub sim_bps: u64,
    /// Simulated one-way delay.
    pub sim_delay: Duration,
    /// Cycles to run (0: none).
    pub cycles: u64,
    /// MSL for the cycles (TIME_WAIT is twice this, in virtual time).
    pub msl: Duration,
    /// Offer RFC 7323 timestamps.
    pub timestamps: bool,
    /// Print the first cycle's packets.
    pub trace_cycle: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bytes: 1 << 30,
            mtus: vec![1500, 65535],
            fifo: true,
            sim: true,
            sim_bps: 10_000_000_000,
            sim_delay: Duration::from_micros(50),
            cycles: 100_000,
            msl: Duration::from_secs(1),
            timestamps: true,
            trace_cycle: false,
        }
    }
}

impl Options {
    /// The `--quick` preset: 64 MiB transfers and 2000 cycles, for CI smoke tests.
    pub fn quick() -> Self {
        Options {
            bytes: 64 << 20,
            cycles: 2_000,
            ..Self::default()
        }
    }

    fn config(&self) -> Config {
        Config {
            timestamps: self.timestamps,
            msl: self.msl,
            ..Config::default()
        }
    }

    /// Parses the command line (cargo bench's own `--bench` and filter words are ignored).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Self::quick()
        } else {
            Self::default()
        };
        let mut mtus = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| -> Result<u64, String> {
                it.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(format!("{name} needs a number"))
            };
            match arg.as_str() {
                "--quick" | "--bench" => {}
                "--mib" => o.bytes = value("--mib")? << 20,
                "--bytes" => o.bytes = value("--bytes")?,
                "--mtu" => mtus.push(value("--mtu")? as usize),
                "--cycles" => o.cycles = value("--cycles")?,
                "--msl-ms" => o.msl = Duration::from_millis(value("--msl-ms")?),
                "--sim-gbps" => o.sim_bps = value("--sim-gbps")? * 1_000_000_000,
                "--sim-delay-us" => o.sim_delay = Duration::from_micros(value("--sim-delay-us")?),
                "--no-fifo" => o.fifo = false,
                "--no-sim" => o.sim = false,
                "--no-bulk" => {
                    o.fifo = false;
                    o.sim = false;
                }
                "--no-cycles" => o.cycles = 0,
                "--no-timestamps" => o.timestamps = false,
                "--trace-cycle" => o.trace_cycle = true,
                "-h" | "--help" => return Err(USAGE.to_string()),
                s if s.starts_with('-') => return Err(format!("unknown flag {s}\n{USAGE}")),
                _ => {} // a cargo bench filter word
            }
        }
        if !mtus.is_empty() {
            o.mtus = mtus;
        }
        if let Some(&bad) = o.mtus.iter().find(|&&m| !(576..=65535).contains(&m)) {
            return Err(format!("MTU {bad} out of 576..=65535"));
        }
        Ok(o)
    }

    /// The bulk runs these options ask for.
    pub fn bulk_params(&self) -> Vec<BulkParams> {
        let mut drivers = Vec::new();
        if self.fifo {
            drivers.push(Driver::Fifo);
        }
        if self.sim {
            drivers.push(Driver::Sim {
                bandwidth_bps: self.sim_bps,
                delay: self.sim_delay,
            });
        }
        let mut out = Vec::new();
        for driver in drivers {
            for &mtu in &self.mtus {
                out.push(BulkParams {
                    bytes: self.bytes,
                    mtu,
                    driver,
                    config: self.config(),
                });
            }
        }
        out
    }

    /// The cycles run these options ask for, if any.
    pub fn cycle_params(&self) -> Option<CycleParams> {
        (self.cycles > 0).then(|| CycleParams {
            cycles: self.cycles,
            request: 1024,
            response: 1024,
            config: self.config(),
            trace_first: self.trace_cycle,
        })
    }
}

const USAGE: &str =
    "usage: synack-bench [--quick] [--mib N | --bytes N] [--mtu M]... [--cycles N] \
[--msl-ms MS] [--sim-gbps G] [--sim-delay-us US] [--no-fifo] [--no-sim] [--no-bulk] [--no-cycles] \
[--no-timestamps] [--trace-cycle]";

/// Everything one invocation measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Bulk runs.
    pub bulk: Vec<BulkResult>,
    /// The cycles run.
    pub cycles: Option<CycleResult>,
}

impl Report {
    /// Every run verified its data.
    pub fn all_verified(&self) -> bool {
        self.bulk.iter().all(|b| b.verified() && b.closed_cleanly)
            && self.cycles.as_ref().is_none_or(|c| c.verified())
    }
}

/// Runs what `o` asks for, printing each result as it comes.
pub fn run(o: &Options) -> Report {
    let mut report = Report::default();
    let bulk = o.bulk_params();
    if !bulk.is_empty() {
        let t = Instant::now();
        let _ = Pattern::new().checksum(o.bytes);
        let hash = t.elapsed();
        println!(
            "bulk: {} MiB client -> server, verified by running checksum; timestamps {}",
            o.bytes >> 20,
            if o.timestamps { "on" } else { "off" }
        );
        println!(
            "  (the receiver's checksum alone runs at {:.1} Gbit/s; it is inside the figures)",
            gbps(o.bytes, hash)
        );
        println!(
            "{:<14} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>6} {:>6} {:>9} {:>8} {:>3}",
            "driver",
            "mtu",
            "mss",
            "wall s",
            "Gbit/s",
            "cpu s",
            "cpuGb/s",
            "data pkts",
            "ack pkts",
            "rexmit",
            "timers",
            "virtual s",
            "virtGb/s",
            "ok"
        );
        for p in &bulk {
            let r = run_bulk(p);
            println!(
                "{:<14} {:>5} {:>5} {:>7.3} {:>7.2} {:>7} {:>7} {:>9} {:>9} {:>6} {:>6} {:>9.6} {:>8} {:>3}",
                p.driver.label(),
                p.mtu,
                r.snd_mss,
                r.wall.as_secs_f64(),
                r.wall_gbps(),
                r.cpu.map_or("-".to_string(), |c| format!("{:.3}", c.as_secs_f64())),
                r.cpu_gbps().map_or("-".to_string(), |g| format!("{g:.2}")),
                r.client_packets,
                r.server_packets,
                r.retransmits,
                r.timer_wakeups,
                r.virtual_time.as_secs_f64(),
                r.virtual_gbps()
                    .map_or("-".to_string(), |g| format!("{g:.2}")),
                match (r.verified(), r.closed_cleanly) {
                    (true, true) => "yes",
                    (true, false) => "yes*",
                    _ => "NO",
                },
            );
            if let Some(e) = &r.error {
                println!("  error: {e}");
            }
            if !r.closed_cleanly {
                println!("  * the connections did not both close cleanly afterwards");
            }
            report.bulk.push(r);
        }
        println!();
    }
    if let Some(p) = o.cycle_params() {
        println!(
            "cycles: sequential connect + {} B request + {} B response + close, each ending when \
             both stacks hold no connection",
            p.request, p.response
        );
        println!(
            "  (client closes first and holds TIME_WAIT = 2 x MSL = {} ms of virtual time, \
             skipped by the virtual clock; its expiry is inside the figures)",
            p.config.time_wait().as_millis()
        );
        let r = run_cycles(&p);
        println!(
            "{:>9} {:>7} {:>9} {:>7} {:>9} {:>8} {:>10} {:>11} {:>12} {:>3}",
            "cycles",
            "wall s",
            "cycles/s",
            "cpu s",
            "cpu cyc/s",
            "us/cycle",
            "pkts/cycle",
            "timers/cyc",
            "virtual s",
            "ok"
        );
        let per = |x: f64| x / r.completed.max(1) as f64;
        println!(
            "{:>9} {:>7.3} {:>9.0} {:>7} {:>9} {:>8.2} {:>10.2} {:>11.2} {:>12.3} {:>3}",
            r.completed,
            r.wall.as_secs_f64(),
            r.per_second(),
            r.cpu
                .map_or("-".to_string(), |c| format!("{:.3}", c.as_secs_f64())),
            r.per_cpu_second()
                .map_or("-".to_string(), |c| format!("{c:.0}")),
            per(r.wall.as_secs_f64() * 1e6),
            per(r.packets as f64),
            per(r.timer_wakeups as f64),
            r.virtual_time.as_secs_f64(),
            if r.verified() { "yes" } else { "NO" }
        );
        if !r.trace.is_empty() {
            println!("  first cycle, as tcpdump -n -S -t prints it (virtual time first):");
            for line in &r.trace {
                println!("    {line}");
            }
        }
        if let Some(e) = &r.error {
            println!("  error: {e}");
        }
        report.cycles = Some(r);
    }
    report
}

/// The whole program: parse, run, print; the exit code is 0 when every run verified.
pub fn run_cli(args: &[String]) -> i32 {
    let o = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let report = run(&o);
    if report.all_verified() {
        0
    } else {
        eprintln!("some runs did not verify");
        1
    }
}
