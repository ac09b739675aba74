//! `synack-bench compare`: synack and smoltcp side by side under one harness (issue 4).
//!
//! Both stacks run under the same [`driver::Net`] over the same [`crate::link::Link`], with the
//! same MTU and buffers, CUBIC congestion control, the same verified byte pattern, and the same
//! applications ([`scenarios`]). Each figure is printed as synack, smoltcp, and their ratio.

pub mod driver;
pub mod scenarios;

use crate::link::{Link, LinkConfig};
use crate::pattern::Pattern;
use crate::stacks::smol::SmolStack;
use crate::stacks::synack::SynackStack;
use crate::stacks::StackParams;
use scenarios::{CycleOutcome, TransferOutcome, CLIENT, SERVER};
use std::time::Duration;

/// synack's TIME_WAIT in the comparison: smoltcp's fixed TIME_WAIT is 10 s, so synack's is
/// set to the same (MSL 5 s); synack keeps every one for its full length.
pub const TIME_WAIT: Duration = Duration::from_secs(10);
/// Buffers each way per connection in the cycles, idle and memory scenarios (both stacks).
pub const SMALL_BUFFER: usize = 16 * 1024;

/// CPU time if the thread clock saw enough of it to be meaningful (it advances in scheduler
/// ticks), else wall time.
pub fn cpu_or_wall(cpu: std::time::Duration, wall: std::time::Duration) -> std::time::Duration {
    if cpu >= std::time::Duration::from_millis(50) {
        cpu
    } else {
        wall
    }
}

/// Which scenarios to run, and how big.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Small sizes, for the test.
    pub quick: bool,
    /// Scenario names to run (bulk, cycles, lossy, memory).
    pub only: Vec<String>,
    /// The benchmark binary, to measure RSS in a child process (None: skip RSS).
    pub rss_exe: Option<std::path::PathBuf>,
}

impl CompareOptions {
    /// Parses `compare [--quick] [--only NAME]...`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = CompareOptions {
            quick: false,
            only: Vec::new(),
            rss_exe: std::env::current_exe().ok(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--only" => {
                    let v = it.next().ok_or("--only needs bulk|cycles|lossy|memory")?;
                    if !["bulk", "cycles", "lossy", "memory"].contains(&v.as_str()) {
                        return Err(format!("unknown scenario {v}"));
                    }
                    o.only.push(v.clone());
                }
                "--no-rss" => o.rss_exe = None,
                s => return Err(format!("unknown argument {s}\n{USAGE}")),
            }
        }
        Ok(o)
    }

    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

const USAGE: &str =
    "usage: synack-bench compare [--quick] [--only bulk|cycles|lossy|memory]... [--no-rss]";

/// One table row.
#[derive(Clone, Debug)]
pub struct Row {
    /// Scenario and figure.
    pub label: String,
    /// synack's figure.
    pub synack: f64,
    /// smoltcp's figure.
    pub smoltcp: f64,
    /// Unit.
    pub unit: &'static str,
}

/// Everything a comparison measured.
#[derive(Debug, Default)]
pub struct CompareReport {
    /// The table.
    pub rows: Vec<Row>,
    /// Every (scenario, stack, error) that failed; empty when all verified.
    pub failures: Vec<String>,
    /// Scenarios run, each with both stacks.
    pub scenarios_run: Vec<String>,
    /// Notes printed under the table.
    pub notes: Vec<String>,
}

fn synack_pair(p: StackParams) -> (SynackStack, SynackStack) {
    (
        SynackStack::new(CLIENT, p, TIME_WAIT, 1),
        SynackStack::new(SERVER, p, TIME_WAIT, 2),
    )
}

fn smol_pair(p: StackParams) -> (SmolStack, SmolStack) {
    (SmolStack::new(CLIENT, p, 1), SmolStack::new(SERVER, p, 2))
}

fn check_transfer(r: &mut CompareReport, what: &str, stack: &str, t: &TransferOutcome, bytes: u64) {
    if !t.verified || t.received != bytes || !t.closed {
        r.failures.push(format!(
            "{what} {stack}: received {} of {bytes}, verified {}, closed {}, error {:?}",
            t.received, t.verified, t.closed, t.error
        ));
    }
}

fn row(r: &mut CompareReport, label: String, synack: f64, smoltcp: f64, unit: &'static str) {
    r.rows.push(Row {
        label,
        synack,
        smoltcp,
        unit,
    });
}

fn bulk(o: &CompareOptions, r: &mut CompareReport, pattern: &Pattern) {
    let bytes: u64 = if o.quick { 16 << 20 } else { 1 << 30 };
    for mtu in [1500, 65535] {
        for buffer in [64 * 1024, 4 << 20] {
            let p = StackParams {
                mtu,
                send_buffer: buffer,
                recv_buffer: buffer,
            };
            let what = format!("bulk {} MiB mtu {mtu} buf {}K", bytes >> 20, buffer >> 10);
            let (a, b) = synack_pair(p);
            let s = scenarios::transfer(a, b, Link::new(LinkConfig::default(), 1), bytes, pattern);
            let (a, b) = smol_pair(p);
            let m = scenarios::transfer(a, b, Link::new(LinkConfig::default(), 1), bytes, pattern);
            check_transfer(r, &what, "synack", &s, bytes);
            check_transfer(r, &what, "smoltcp", &m, bytes);
            let gbps = |t: &TransferOutcome| crate::gbps(t.received, t.cpu);
            row(
                r,
                format!("{what}: CPU throughput"),
                gbps(&s),
                gbps(&m),
                "Gbit/s",
            );
            // Time to complete: CPU time plus the simulated timer waits (zero-delay link).
            let ttc = |t: &TransferOutcome| (t.cpu + t.sim).as_secs_f64();
            row(
                r,
                format!("{what}: time to complete (cpu+timer waits)"),
                ttc(&s),
                ttc(&m),
                "s",
            );
            row(
                r,
                format!("{what}: of which timer waits"),
                s.sim.as_secs_f64(),
                m.sim.as_secs_f64(),
                "s",
            );
        }
    }
    r.scenarios_run.push("bulk".into());
}

fn cycles(o: &CompareOptions, r: &mut CompareReport) -> Vec<(CycleOutcome, CycleOutcome)> {
    let levels: &[usize] = if o.quick {
        &[0, 1000, 10_000]
    } else {
        &[0, 100, 1000, 10_000, 100_000]
    };
    let (n, budget) = if o.quick {
        (200, Duration::from_secs(5))
    } else {
        (20_000, Duration::from_secs(5))
    };
    let p = StackParams {
        mtu: 1500,
        send_buffer: SMALL_BUFFER,
        recv_buffer: SMALL_BUFFER,
    };
    let mut out = Vec::new();
    for &idle in levels {
        let (a, b) = synack_pair(p);
        let s = scenarios::cycles(a, b, idle, n, budget);
        let (a, b) = smol_pair(p);
        let m = scenarios::cycles(a, b, idle, n, budget);
        for (name, c) in [("synack", &s), ("smoltcp", &m)] {
            // A run cut short by the CPU budget still counts if it completed every cycle
            // it started and at least one.
            if !c.verified() || c.completed == 0 {
                r.failures.push(format!(
                    "cycles idle {idle} {name}: {} of {} cycles, idle {}/{}, error {:?}",
                    c.completed, c.asked, c.idle_established, c.idle, c.error
                ));
            }
        }
        row(
            r,
            format!("cycles 1 KiB req/resp, {idle} idle: cycles per CPU second"),
            s.per_cpu_second(),
            m.per_cpu_second(),
            "cyc/s",
        );
        out.push((s, m));
    }
    r.notes.push(format!(
        "cycles: synack keeps every TIME_WAIT ({} s) for its full length while the run goes on; \
         smoltcp discards a socket's TIME_WAIT when the socket is reused for the next connect. \
         Runs stop after {n} cycles or {} s of CPU.",
        TIME_WAIT.as_secs(),
        budget.as_secs()
    ));
    r.scenarios_run.push("cycles".into());
    out
}

fn lossy(o: &CompareOptions, r: &mut CompareReport, pattern: &Pattern) {
    let (bytes_zero, bytes_wan): (u64, u64) = if o.quick {
        (2 << 20, 2 << 20)
    } else {
        (64 << 20, 64 << 20)
    };
    let p = StackParams {
        mtu: 1500,
        send_buffer: 4 << 20,
        recv_buffer: 4 << 20,
    };
    for loss in [0.001, 0.01, 0.05] {
        for wan in [false, true] {
            let cfg = if wan {
                // 1 Gbit/s, 10 ms RTT, a queue of one BDP (1.25 MB).
                LinkConfig {
                    delay: Duration::from_millis(5),
                    bandwidth_bps: Some(1_000_000_000),
                    queue_limit: Some(1_250_000),
                    loss,
                }
            } else {
                LinkConfig {
                    loss,
                    ..Default::default()
                }
            };
            let bytes = if wan { bytes_wan } else { bytes_zero };
            let what = format!(
                "lossy {}% {} {} MiB",
                loss * 100.0,
                if wan { "1G/10ms" } else { "zero-delay" },
                bytes >> 20
            );
            let (a, b) = synack_pair(p);
            let s = scenarios::transfer(a, b, Link::new(cfg, 11), bytes, pattern);
            let (a, b) = smol_pair(p);
            let m = scenarios::transfer(a, b, Link::new(cfg, 11), bytes, pattern);
            check_transfer(r, &what, "synack", &s, bytes);
            check_transfer(r, &what, "smoltcp", &m, bytes);
            let goodput = |t: &TransferOutcome| {
                if t.sim.is_zero() {
                    f64::INFINITY
                } else {
                    crate::gbps(t.received, t.sim) * 1000.0
                }
            };
            row(
                r,
                format!("{what}: goodput (simulated time)"),
                goodput(&s),
                goodput(&m),
                "Mbit/s",
            );
            row(
                r,
                format!("{what}: simulated time"),
                s.sim.as_secs_f64(),
                m.sim.as_secs_f64(),
                "s",
            );
            let pct = |t: &TransferOutcome| {
                100.0 * t.retransmitted as f64 / t.data_segments.max(1) as f64
            };
            row(
                r,
                format!("{what}: retransmitted (wire)"),
                pct(&s),
                pct(&m),
                "%",
            );
            row(
                r,
                format!("{what}: timer-driven retransmissions (wire)"),
                s.timer_retransmits as f64,
                m.timer_retransmits as f64,
                "",
            );
            if let Some(t) = s.stack_timeouts {
                r.notes.push(format!(
                    "{what}: synack's own RTO count {t} (smoltcp keeps none)"
                ));
            }
        }
    }
    r.scenarios_run.push("lossy".into());
}

fn memory(o: &CompareOptions, r: &mut CompareReport, from_cycles: &[(CycleOutcome, CycleOutcome)]) {
    let n = if o.quick { 10_000 } else { 100_000 };
    let (s, m) = match from_cycles.iter().find(|(s, _)| s.idle == n) {
        Some(pair) => pair.clone(),
        None => {
            let p = StackParams {
                mtu: 1500,
                send_buffer: SMALL_BUFFER,
                recv_buffer: SMALL_BUFFER,
            };
            let (a, b) = synack_pair(p);
            let s = scenarios::cycles(a, b, n, 0, Duration::ZERO);
            let (a, b) = smol_pair(p);
            let m = scenarios::cycles(a, b, n, 0, Duration::ZERO);
            (s, m)
        }
    };
    for (name, c) in [("synack", &s), ("smoltcp", &m)] {
        if c.idle_established != n || c.memory.0 == 0 {
            r.failures.push(format!(
                "memory {name}: {} of {n} idle, {:?}",
                c.idle_established, c.error
            ));
        }
    }
    // Both ends of every connection live in the process: 2n connection endpoints.
    let per = |c: &CycleOutcome| c.memory.0 as f64 / (2 * n) as f64;
    row(
        r,
        "memory per idle connection endpoint (stack's own count)".into(),
        per(&s),
        per(&m),
        "B",
    );
    row(
        r,
        format!("memory for {n} idle connections, both ends"),
        s.memory.0 as f64 / 1048576.0,
        m.memory.0 as f64 / 1048576.0,
        "MiB",
    );
    r.notes.push(format!("memory, synack: {}", s.memory.1));
    r.notes.push(format!(
        "memory, smoltcp: {} ({} B per socket slot, {} KiB buffers each way)",
        m.memory.1,
        std::mem::size_of::<smoltcp::iface::SocketStorage>(),
        SMALL_BUFFER >> 10
    ));
    if let Some(exe) = &o.rss_exe {
        let rss = |stack: &str| -> Option<f64> {
            let out = std::process::Command::new(exe)
                .args(["compare-rss", stack, &n.to_string()])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            text.split_whitespace().last()?.parse::<f64>().ok()
        };
        match (rss("synack"), rss("smoltcp")) {
            (Some(a), Some(b)) => row(
                r,
                format!("process RSS delta for {n} idle connections, both ends"),
                a / 1048576.0,
                b / 1048576.0,
                "MiB",
            ),
            _ => r.failures.push("RSS child process did not report".into()),
        }
    }
    r.scenarios_run.push("memory".into());
}

/// Runs what `o` asks for.
pub fn run(o: &CompareOptions) -> CompareReport {
    let mut r = CompareReport::default();
    let pattern = Pattern::new();
    if o.wants("bulk") {
        bulk(o, &mut r, &pattern);
    }
    let cyc = if o.wants("cycles") {
        cycles(o, &mut r)
    } else {
        Vec::new()
    };
    if o.wants("lossy") {
        lossy(o, &mut r, &pattern);
    }
    if o.wants("memory") {
        memory(o, &mut r, &cyc);
    }
    r.notes.push(format!(
        "both stacks: CUBIC, no TCP timestamps (smoltcp sends none), MSS = MTU - 40; synack {} / smoltcp {} delayed ACK",
        "40 ms", "10 ms"
    ));
    r
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "inf".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// Prints the table.
pub fn print(r: &CompareReport) {
    println!(
        "{:<74} {:>12} {:>12} {:>8}  unit",
        "scenario", "synack", "smoltcp", "ratio"
    );
    for row in &r.rows {
        let ratio = row.synack / row.smoltcp;
        println!(
            "{:<74} {:>12} {:>12} {:>8}  {}",
            row.label,
            fmt(row.synack),
            fmt(row.smoltcp),
            if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "-".into()
            },
            row.unit
        );
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    for f in &r.failures {
        println!("FAILED: {f}");
    }
}

/// The `compare` subcommand; exit code 0 when every run verified.
pub fn run_cli(args: &[String]) -> i32 {
    let o = match CompareOptions::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let r = run(&o);
    print(&r);
    i32::from(!r.failures.is_empty())
}

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `compare-rss STACK N`: opens N idle connections in a fresh process and prints the RSS
/// growth, so one stack's freed memory cannot hide the other's.
pub fn rss_child(args: &[String]) -> i32 {
    let (Some(stack), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: compare-rss synack|smoltcp N");
        return 2;
    };
    let p = StackParams {
        mtu: 1500,
        send_buffer: SMALL_BUFFER,
        recv_buffer: SMALL_BUFFER,
    };
    let before = rss_bytes().unwrap_or(0);
    let established = match stack.as_str() {
        "synack" => {
            let (a, b) = synack_pair(p);
            let mut net = driver::Net::new(a, b, Link::new(LinkConfig::default(), 1));
            scenarios::open_idle(&mut net, n).ok()
        }
        _ => {
            let (a, b) = smol_pair(p);
            let mut net = driver::Net::new(a, b, Link::new(LinkConfig::default(), 1));
            let e = scenarios::open_idle(&mut net, n).ok();
            let after = rss_bytes().unwrap_or(0);
            println!("rss_delta_bytes {}", after.saturating_sub(before));
            return i32::from(e != Some(n));
        }
    };
    let after = rss_bytes().unwrap_or(0);
    println!("rss_delta_bytes {}", after.saturating_sub(before));
    i32::from(established != Some(n))
}
