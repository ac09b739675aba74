//! `synack netstat -s`: a running stack's counters, grouped as `netstat -s` groups them.

use crate::control_target;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use synack::control::Counters;

/// Arguments of `synack netstat`.
#[derive(Args, Debug)]
pub struct NetstatArgs {
    /// Protocol statistics (the only view synack has; accepted for `netstat` habits)
    #[arg(short = 's', long = "statistics")]
    statistics: bool,
    /// Print JSON (one array of per-process documents)
    #[arg(long)]
    json: bool,
    /// The control socket to ask (default: every one in the default directory)
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
}

/// Runs `synack netstat -s`.
pub fn run(args: &NetstatArgs) -> Result<(), String> {
    let mut docs = Vec::new();
    for mut t in control_target::connect(args.control.as_deref())? {
        docs.push(
            t.client
                .counters()
                .map_err(|e| format!("{}: {e}", t.path.display()))?,
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&docs).map_err(|e| e.to_string())?
        );
    } else {
        for d in &docs {
            if docs.len() > 1 {
                println!("# synack pid {}", d.pid);
            }
            print!("{}", render(d));
        }
    }
    Ok(())
}

/// The groups, in `netstat -s` order, by the prefix of the counter's name (matched longest
/// first: `TcpExt` before `Tcp`).
const GROUPS: [(&str, &str); 4] = [
    ("Ip", "Ip"),
    ("Icmp", "Icmp"),
    ("Tcp", "Tcp"),
    ("TcpExt", "TcpExt"),
];

/// Which group a counter belongs to and its name within it. Drop reasons (snake_case names)
/// go to their own group.
fn group_of(name: &str) -> (&'static str, &str) {
    let mut by_length = GROUPS;
    by_length.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (prefix, group) in by_length {
        if let Some(rest) = name.strip_prefix(prefix) {
            if rest.starts_with(|c: char| c.is_ascii_uppercase()) {
                return (group, rest);
            }
        }
    }
    ("Drops (by reason)", name)
}

/// The counters as `netstat -s` prints them: a `Group:` line, then `    Name: value` lines.
pub fn render(c: &Counters) -> String {
    let mut out = String::new();
    let mut order: Vec<&str> = GROUPS.iter().map(|&(_, g)| g).collect();
    order.push("Drops (by reason)");
    for group in order {
        let lines: Vec<_> = c
            .stack
            .iter()
            .filter_map(|(n, v)| {
                let (g, rest) = group_of(n);
                (g == group).then_some((rest, v))
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{group}:");
        for (name, v) in lines {
            let _ = writeln!(out, "    {name}: {v}");
        }
    }
    let d = &c.device;
    let _ = writeln!(out, "Device:");
    let _ = writeln!(out, "    RxPackets: {}", d.rx_packets);
    let _ = writeln!(out, "    TxPackets: {}", d.tx_packets);
    let _ = writeln!(out, "    TxDropped: {}", d.tx_dropped);
    let _ = writeln!(out, "    Errors: {}", d.errors);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack::control::DeviceCounters;

    #[test]
    fn counters_are_grouped_by_prefix_and_drops_apart() {
        let c = Counters {
            pid: 1,
            stack: vec![
                ("TcpExtTCPTimeouts".into(), 3),
                ("IpInReceives".into(), 10),
                ("TcpInSegs".into(), 9),
                ("tcp_bad_checksum".into(), 2),
                ("IcmpOutEchoReps".into(), 1),
            ],
            device: DeviceCounters {
                rx_packets: 10,
                tx_packets: 8,
                tx_dropped: 0,
                errors: 0,
            },
        };
        let out = render(&c);
        let expected = "Ip:\n    InReceives: 10\nIcmp:\n    OutEchoReps: 1\n\
            Tcp:\n    InSegs: 9\nTcpExt:\n    TCPTimeouts: 3\n\
            Drops (by reason):\n    tcp_bad_checksum: 2\n\
            Device:\n    RxPackets: 10\n    TxPackets: 8\n    TxDropped: 0\n    Errors: 0\n";
        assert_eq!(out, expected);
    }
}
