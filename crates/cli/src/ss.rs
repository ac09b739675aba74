//! `synack ss`: a running stack's sockets, printed as iproute2's `ss -tn[i]` prints them.

use crate::control_target;
use clap::Args;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use synack::control::{InfoRow, SocketRow, Sockets};

/// Arguments of `synack ss`.
#[derive(Args, Debug)]
#[command(
    after_help = "The stack must serve a control socket: `synack nc --control ...` or \
    `Net::serve_control`.\nWithout --control, every socket in $XDG_RUNTIME_DIR/synack/ (or \
    /run/synack/ as root, /tmp/synack-UID/ otherwise) is shown."
)]
pub struct SsArgs {
    /// TCP sockets (the only kind synack has; accepted for `ss` habits)
    #[arg(short = 't', long)]
    tcp: bool,
    /// Listening sockets only
    #[arg(short = 'l', long)]
    listening: bool,
    /// Listening and non-listening sockets
    #[arg(short = 'a', long)]
    all: bool,
    /// TCP internals: rtt, rto, cwnd, ssthresh, bytes, retransmissions, windows
    #[arg(short = 'i', long)]
    info: bool,
    /// Numeric addresses (synack never resolves names; accepted for `ss` habits)
    #[arg(short = 'n', long)]
    numeric: bool,
    /// Print JSON (one array of per-process documents) instead of a table
    #[arg(long)]
    json: bool,
    /// Refresh every SECS seconds (1 without a value) until interrupted
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "1")]
    watch: Option<f64>,
    /// The control socket to ask (default: every one in the default directory)
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
}

/// Which sockets to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Filter {
    /// Connections only (`ss` without -l or -a).
    Connected,
    /// Listeners only (-l).
    Listening,
    /// Both (-a).
    All,
}

impl Filter {
    fn keeps(self, row: &SocketRow) -> bool {
        match self {
            Filter::Connected => row.peer.is_some(),
            Filter::Listening => row.peer.is_none(),
            Filter::All => true,
        }
    }
}

/// Runs `synack ss`.
pub fn run(args: &SsArgs) -> Result<(), String> {
    let filter = match (args.all, args.listening) {
        (true, _) => Filter::All,
        (false, true) => Filter::Listening,
        (false, false) => Filter::Connected,
    };
    let interval = match args.watch {
        Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        Some(_) => return Err("--watch needs a positive number of seconds".into()),
        None => None,
    };
    loop {
        let mut targets = control_target::connect(args.control.as_deref())?;
        let mut docs = Vec::new();
        for t in &mut targets {
            let doc = t
                .client
                .sockets()
                .map_err(|e| format!("{}: {e}", t.path.display()))?;
            docs.push(doc);
        }
        let out = if args.json {
            for d in &mut docs {
                d.sockets.retain(|r| filter.keeps(r));
            }
            serde_json::to_string_pretty(&docs).map_err(|e| e.to_string())? + "\n"
        } else {
            render(&docs, filter, args.info)
        };
        match interval {
            None => {
                print!("{out}");
                return Ok(());
            }
            Some(every) => {
                // Clear the screen and go home, as `watch` does.
                print!("\x1b[H\x1b[2J{out}");
                std::thread::sleep(every);
            }
        }
    }
}

/// The tables for every process; a `# pid` line heads each when there are several.
pub fn render(docs: &[Sockets], filter: Filter, info: bool) -> String {
    let mut out = String::new();
    for d in docs {
        if docs.len() > 1 {
            let _ = writeln!(out, "# synack pid {}", d.pid);
        }
        let rows: Vec<&SocketRow> = d.sockets.iter().filter(|r| filter.keeps(r)).collect();
        out.push_str(&table(&rows, info));
    }
    out
}

/// One table: the header and a line per socket, with the -i line under each connection.
pub fn table(rows: &[&SocketRow], info: bool) -> String {
    let header = [
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
    ];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.state.clone(),
                r.recv_q.to_string(),
                r.send_q.to_string(),
                r.local.to_string(),
                r.peer.map_or_else(|| any_peer(r.local), |p| p.to_string()),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: [&str; 5]| {
        // ss: state and queues left-aligned, addresses right-aligned.
        let _ = writeln!(
            out,
            "{:<w0$} {:<w1$} {:<w2$} {:>w3$} {:>w4$}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3] + 2,
            w4 = width[4] + 2,
        );
    };
    line(&mut out, header);
    for (r, c) in rows.iter().zip(&cells) {
        line(
            &mut out,
            [&c[0], &c[1], &c[2], &c[3], &c[4]].map(|s| s.as_str()),
        );
        if let (true, Some(i)) = (info, &r.info) {
            let _ = writeln!(out, "\t {}", info_line(i));
        }
    }
    out.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

/// What `ss` prints as a listener's peer: the wildcard of its family.
fn any_peer(local: SocketAddr) -> String {
    match local {
        SocketAddr::V4(_) => "0.0.0.0:*".into(),
        SocketAddr::V6(_) => "[::]:*".into(),
    }
}

/// The `-i` line, with `ss`'s names and units: times in ms, cwnd and ssthresh in segments.
pub fn info_line(i: &InfoRow) -> String {
    let mut parts = vec![i.congestion.clone()];
    if let Some((snd, rcv)) = i.wscale {
        parts.push(format!("wscale:{snd},{rcv}"));
    }
    parts.push(format!("rto:{}", ms(i.rto_us)));
    if let Some(rtt) = i.rtt_us {
        parts.push(format!("rtt:{}/{}", ms(rtt), ms(i.rttvar_us)));
    }
    let mss = u64::from(i.snd_mss.max(1));
    parts.push(format!("mss:{}", i.snd_mss));
    parts.push(format!("advmss:{}", i.rcv_mss));
    parts.push(format!("cwnd:{}", u64::from(i.cwnd).div_ceil(mss)));
    if let Some(ss) = i.ssthresh {
        parts.push(format!("ssthresh:{}", u64::from(ss).div_ceil(mss)));
    }
    parts.push(format!("bytes_sent:{}", i.bytes_sent));
    parts.push(format!("bytes_acked:{}", i.bytes_acked));
    parts.push(format!("bytes_received:{}", i.bytes_received));
    parts.push(format!("segs_out:{}", i.segs_out));
    parts.push(format!("segs_in:{}", i.segs_in));
    if i.bytes_in_flight > 0 {
        parts.push(format!(
            "unacked:{}",
            u64::from(i.bytes_in_flight).div_ceil(mss)
        ));
    }
    // ss: retrans:<now>/<total>; synack keeps the total and whether recovery is on.
    parts.push(format!(
        "retrans:{}/{}",
        u8::from(i.in_recovery),
        i.retransmits
    ));
    if let Some(min) = i.min_rtt_us {
        parts.push(format!("minrtt:{}", ms(min)));
    }
    parts.push(format!("snd_wnd:{}", i.snd_wnd));
    parts.push(format!("rcv_wnd:{}", i.rcv_wnd));
    if i.sack {
        parts.push("sack".into());
    }
    if i.timestamps {
        parts.push("ts".into());
    }
    parts.join(" ")
}

/// Microseconds as milliseconds the way `ss` prints them (`%g`: 0.3, 204, 1.25).
fn ms(us: u64) -> String {
    let s = format!("{:.3}", us as f64 / 1000.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> InfoRow {
        InfoRow {
            rtt_us: Some(300),
            rttvar_us: 150,
            min_rtt_us: Some(120),
            rto_us: 204_000,
            cwnd: 14480,
            ssthresh: None,
            congestion: "cubic".into(),
            bytes_in_flight: 0,
            snd_wnd: 65535,
            rcv_wnd: 64240,
            snd_mss: 1448,
            rcv_mss: 1460,
            wscale: Some((7, 7)),
            timestamps: true,
            sack: true,
            in_recovery: false,
            memory: 1000,
            segs_in: 3,
            segs_out: 4,
            bytes_sent: 10,
            bytes_acked: 10,
            bytes_received: 5,
            retransmits: 2,
            fast_retransmits: 0,
            timeouts: 2,
            dup_acks_in: 0,
            challenge_acks: 0,
        }
    }

    fn row(state: &str, local: &str, peer: Option<&str>, info: Option<InfoRow>) -> SocketRow {
        SocketRow {
            state: state.into(),
            recv_q: 5,
            send_q: 0,
            local: local.parse().unwrap(),
            peer: peer.map(|p| p.parse().unwrap()),
            info,
        }
    }

    #[test]
    fn milliseconds_print_like_percent_g() {
        assert_eq!(ms(300), "0.3");
        assert_eq!(ms(204_000), "204");
        assert_eq!(ms(1250), "1.25");
        assert_eq!(ms(0), "0");
    }

    #[test]
    fn info_line_uses_ss_names_and_units() {
        let l = info_line(&info());
        assert!(
            l.starts_with("cubic wscale:7,7 rto:204 rtt:0.3/0.15 mss:1448 advmss:1460 cwnd:10 "),
            "{l}"
        );
        assert!(!l.contains("ssthresh"), "no ssthresh before a loss: {l}");
        assert!(l.contains(" retrans:0/2 "), "{l}");
        assert!(l.contains(" snd_wnd:65535 rcv_wnd:64240 sack ts"), "{l}");
        let with_ss = info_line(&InfoRow {
            ssthresh: Some(7240),
            ..info()
        });
        assert!(with_ss.contains(" ssthresh:5 "), "{with_ss}");
    }

    #[test]
    fn table_has_ss_columns_and_the_filter_picks_rows() {
        let doc = Sockets {
            pid: 42,
            sockets: vec![
                row("LISTEN", "10.0.0.1:7", None, None),
                row("ESTAB", "10.0.0.1:7", Some("10.0.0.2:40000"), Some(info())),
            ],
        };
        let conns = render(std::slice::from_ref(&doc), Filter::Connected, true);
        let lines: Vec<&str> = conns.lines().collect();
        assert_eq!(lines.len(), 3, "{conns}");
        for col in [
            "State",
            "Recv-Q",
            "Send-Q",
            "Local Address:Port",
            "Peer Address:Port",
        ] {
            assert!(lines[0].contains(col), "{conns}");
        }
        let fields: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(fields, ["ESTAB", "5", "0", "10.0.0.1:7", "10.0.0.2:40000"]);
        assert!(lines[2].starts_with("\t cubic "), "{conns}");

        let listen = render(std::slice::from_ref(&doc), Filter::Listening, true);
        let fields: Vec<&str> = listen.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(fields, ["LISTEN", "5", "0", "10.0.0.1:7", "0.0.0.0:*"]);
        assert_eq!(listen.lines().count(), 2);

        let all = render(&[doc.clone(), doc], Filter::All, false);
        assert_eq!(
            all.lines()
                .filter(|l| l.starts_with("# synack pid 42"))
                .count(),
            2
        );
        assert!(!all.contains("cubic"), "no -i, no info line");
    }
}
