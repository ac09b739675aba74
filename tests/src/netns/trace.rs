//! Reading synack's `--trace` output and tcpdump's, to compare them.
//!
//! synack's trace has one line per packet, `HH:MM:SS.ffffff <what tcpdump -n -S prints after
//! its timestamp>`, and state-transition lines `<timestamp or blanks>   ADDR:PORT FROM -> TO`
//! (a timestamp when a timer caused the transition, blanks when the packet above did).

/// One state transition from synack's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The connection's local end, `ADDR:PORT`.
    pub endpoint: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
}

/// synack's trace, split into packets and state transitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Packet lines without their timestamps, in order.
    pub packets: Vec<String>,
    /// State transitions, in order.
    pub states: Vec<StateChange>,
}

impl Trace {
    /// The states the connection at local port `port` went through: the first transition's
    /// `from`, then every `to` (e.g. `ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT`).
    pub fn state_path(&self, port: u16) -> Vec<String> {
        let suffix = format!(":{port}");
        let mut path = Vec::new();
        for change in self.states.iter().filter(|c| c.endpoint.ends_with(&suffix)) {
            if path.is_empty() {
                path.push(change.from.clone());
            }
            path.push(change.to.clone());
        }
        path
    }

    /// The local ports of connections that appear in state transitions, in order of first
    /// appearance.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = Vec::new();
        for change in &self.states {
            let port = change
                .endpoint
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok());
            if let Some(port) = port {
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
        }
        ports
    }
}

/// The rest of a line after a leading `HH:MM:SS.ffffff ` timestamp, or `None` if the line does
/// not start with one.
pub fn strip_tcpdump_timestamp(line: &str) -> Option<&str> {
    let (stamp, rest) = line.split_once(' ')?;
    let b = stamp.as_bytes();
    let shape_ok = b.len() == 15
        && b.iter().enumerate().all(|(i, &c)| match i {
            2 | 5 => c == b':',
            8 => c == b'.',
            _ => c.is_ascii_digit(),
        });
    shape_ok.then_some(rest)
}

/// The packet lines of tcpdump's output (`tcpdump -n -S -l`), without timestamps.
pub fn tcpdump_packet_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(strip_tcpdump_timestamp)
        .map(str::to_string)
        .collect()
}

/// Splits synack's stderr into its trace: packets and state transitions. Other lines (`-v`
/// messages) are left out.
pub fn parse_trace(stderr: &str) -> Trace {
    let mut trace = Trace::default();
    for line in stderr.lines() {
        // State lines first: a transition a timer caused carries a timestamp too.
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [.., endpoint, from, "->", to] = words[..] {
            trace.states.push(StateChange {
                endpoint: endpoint.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            });
        } else if let Some(packet) = strip_tcpdump_timestamp(line) {
            trace.packets.push(packet.to_string());
        }
    }
    trace
}

/// The source `ADDR.PORT` of a tcpdump packet line without timestamp (`IP 10.7.0.1.5 > ...`).
pub fn packet_source(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    match words.next()? {
        "IP" | "IP6" => words.next(),
        _ => None,
    }
}

/// `None` if `left` and `right` are the same lines; otherwise a description of where they first
/// differ (for assertion messages that stay readable).
pub fn first_difference(left: &[String], right: &[String]) -> Option<String> {
    let at = left
        .iter()
        .zip(right)
        .position(|(l, r)| l != r)
        .unwrap_or(left.len().min(right.len()));
    if at == left.len() && at == right.len() {
        return None;
    }
    let show = |lines: &[String]| lines.get(at).map_or("(none)".to_string(), String::clone);
    Some(format!(
        "{} vs {} lines; first difference at line {at}:\n  left:  {}\n  right: {}",
        left.len(),
        right.len(),
        show(left),
        show(right)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
synack nc: listening on 7
               10.7.0.2:7 LISTEN -> SYN_RCVD
02:03:04.000001 IP 10.7.0.1.40000 > 10.7.0.2.7: Flags [S], seq 1, win 64240, length 0
02:03:04.000002 IP 10.7.0.2.7 > 10.7.0.1.40000: Flags [S.], seq 9, ack 2, win 65535, length 0
               10.7.0.2:7 SYN_RCVD -> ESTABLISHED
02:03:04.500000   10.7.0.2:7 ESTABLISHED -> CLOSE_WAIT
02:03:05.123456 IP6 fd00:7::1.1 > fd00:7::2.8: Flags [R], seq 5, win 0, length 0
";

    #[test]
    fn splits_packets_and_states() {
        let trace = parse_trace(TRACE);
        assert_eq!(trace.packets.len(), 3);
        assert_eq!(
            trace.packets[0],
            "IP 10.7.0.1.40000 > 10.7.0.2.7: Flags [S], seq 1, win 64240, length 0"
        );
        assert_eq!(
            trace.state_path(7),
            ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT"]
        );
        assert_eq!(trace.ports(), [7]);
        assert_eq!(packet_source(&trace.packets[1]), Some("10.7.0.2.7"));
        assert_eq!(packet_source(&trace.packets[2]), Some("fd00:7::1.1"));
    }

    #[test]
    fn first_difference_points_at_the_line() {
        let a: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        assert_eq!(first_difference(&a, &a), None);
        let b: Vec<String> = ["x", "q", "z"].map(String::from).to_vec();
        let d = first_difference(&a, &b).expect("they differ");
        assert!(
            d.contains("line 1") && d.contains("y") && d.contains("q"),
            "{d}"
        );
        let d = first_difference(&a, &a[..2]).expect("one is shorter");
        assert!(d.contains("3 vs 2") && d.contains("(none)"), "{d}");
    }

    #[test]
    fn timestamps_must_have_tcpdump_shape() {
        assert_eq!(
            strip_tcpdump_timestamp("12:34:56.789012 IP x"),
            Some("IP x")
        );
        assert_eq!(strip_tcpdump_timestamp("12:34:56.78901 IP x"), None);
        assert_eq!(
            strip_tcpdump_timestamp("listening on tun0, link-type RAW"),
            None
        );
        assert_eq!(
            tcpdump_packet_lines(
                "tcpdump: verbose output suppressed\n01:02:03.000004 IP a > b: x\n"
            ),
            ["IP a > b: x"]
        );
    }
}
