//! Parsing `ss -tan` and `ss -tanio` output.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A kernel TCP state as `ss` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsState {
    /// LISTEN
    Listen,
    /// SYN-SENT
    SynSent,
    /// SYN-RECV
    SynRecv,
    /// ESTAB
    Established,
    /// FIN-WAIT-1
    FinWait1,
    /// FIN-WAIT-2
    FinWait2,
    /// CLOSE-WAIT
    CloseWait,
    /// LAST-ACK
    LastAck,
    /// CLOSING
    Closing,
    /// TIME-WAIT
    TimeWait,
    /// UNCONN (closed)
    Closed,
    /// Anything else, verbatim.
    Other(String),
}

impl SsState {
    fn parse(word: &str) -> SsState {
        match word {
            "LISTEN" => SsState::Listen,
            "SYN-SENT" => SsState::SynSent,
            "SYN-RECV" => SsState::SynRecv,
            "ESTAB" => SsState::Established,
            "FIN-WAIT-1" => SsState::FinWait1,
            "FIN-WAIT-2" => SsState::FinWait2,
            "CLOSE-WAIT" => SsState::CloseWait,
            "LAST-ACK" => SsState::LastAck,
            "CLOSING" => SsState::Closing,
            "TIME-WAIT" => SsState::TimeWait,
            "UNCONN" | "CLOSE" => SsState::Closed,
            other => SsState::Other(other.to_string()),
        }
    }
}

/// One side of a socket as `ss` prints it: `10.7.0.1:80`, `[fd00:7::1]:80`, `*:80`,
/// `0.0.0.0:*`, `127.0.0.53%lo:53`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address (`None` for `*`).
    pub addr: Option<IpAddr>,
    /// The port (`None` for `*`).
    pub port: Option<u16>,
    /// The text as printed.
    pub text: String,
}

impl Endpoint {
    /// Parses `ss`'s notation; `None` if it is not an address and port.
    pub fn parse(text: &str) -> Option<Endpoint> {
        let (host, port) = text.rsplit_once(':')?;
        let port = match port {
            "*" => None,
            p => Some(p.parse().ok()?),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // A scope or interface suffix (`%lo`) is not part of the address.
        let host = host.split('%').next().unwrap_or(host);
        let addr = match host {
            "*" => None,
            h => Some(h.parse().ok()?),
        };
        Some(Endpoint {
            addr,
            port,
            text: text.to_string(),
        })
    }

    /// Address and port, if both are concrete.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(self.addr?, self.port?))
    }
}

/// The TCP details `ss -i` prints on the line under a socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Timestamps negotiated (`ts`; printed only with `-o`).
    pub ts: bool,
    /// SACK negotiated (`sack`; printed only with `-o`).
    pub sack: bool,
    /// Window scaling: (shift the peer announced, our shift), from `wscale:snd,rcv`.
    pub wscale: Option<(u8, u8)>,
    /// Sending MSS (`mss:`): the peer's MSS option less the options carried in every segment.
    pub mss: Option<u32>,
    /// The MSS this side announced, less options in every segment (`advmss:`).
    pub advmss: Option<u32>,
    /// Congestion window in segments (`cwnd:`).
    pub cwnd: Option<u32>,
    /// Every `key:value` field.
    pub fields: BTreeMap<String, String>,
    /// Every bare word (flags, congestion control name, and the values of `send`, `pacing_rate`).
    pub words: Vec<String>,
}

impl TcpInfo {
    /// Parses the indented info line.
    pub fn parse(line: &str) -> TcpInfo {
        let mut info = TcpInfo::default();
        for token in line.split_whitespace() {
            match token.split_once(':') {
                Some((key, value)) => {
                    info.fields.insert(key.to_string(), value.to_string());
                }
                None => info.words.push(token.to_string()),
            }
        }
        info.ts = info.words.iter().any(|w| w == "ts");
        info.sack = info.words.iter().any(|w| w == "sack");
        info.wscale = info.fields.get("wscale").and_then(|v| {
            let (snd, rcv) = v.split_once(',')?;
            Some((snd.parse().ok()?, rcv.parse().ok()?))
        });
        let number = |key: &str| info.fields.get(key).and_then(|v| v.parse().ok());
        info.mss = number("mss");
        info.advmss = number("advmss");
        info.cwnd = number("cwnd");
        info
    }
}

/// One socket from `ss -tan` (with `info` from `ss -tani`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsSocket {
    /// Its state.
    pub state: SsState,
    /// Bytes received and not yet read by the application.
    pub recv_q: u64,
    /// Bytes sent and not yet acknowledged (listeners: the backlog).
    pub send_q: u64,
    /// Local address and port.
    pub local: Endpoint,
    /// Peer address and port.
    pub peer: Endpoint,
    /// The info line, if `-i` was given and the socket has one.
    pub info: Option<TcpInfo>,
    /// The lines as printed.
    pub text: String,
}

impl fmt::Display for SsSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl SsSocket {
    /// Whether the socket joins these two ports (local, peer).
    pub fn is_between(&self, local_port: u16, peer_port: u16) -> bool {
        self.local.port == Some(local_port) && self.peer.port == Some(peer_port)
    }
}

/// Parses `ss -tan[io]` output (with or without the header line).
pub fn parse_ss(output: &str) -> Vec<SsSocket> {
    let mut sockets: Vec<SsSocket> = Vec::new();
    for line in output.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // The info line belongs to the socket above it.
            if let Some(last) = sockets.last_mut() {
                last.info = Some(TcpInfo::parse(line));
                last.text.push('\n');
                last.text.push_str(line.trim_end());
            }
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [state, recv_q, send_q, local, peer, ..] = words[..] else {
            continue;
        };
        let (Ok(recv_q), Ok(send_q)) = (recv_q.parse(), send_q.parse()) else {
            continue; // the header line
        };
        let (Some(local), Some(peer)) = (Endpoint::parse(local), Endpoint::parse(peer)) else {
            continue;
        };
        sockets.push(SsSocket {
            state: SsState::parse(state),
            recv_q,
            send_q,
            local,
            peer,
            info: None,
            text: line.trim_end().to_string(),
        });
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;

    // In the shape iproute2 6.1 prints (`ss -tanio`, kernel 6.18), trailing blanks trimmed.
    const SAMPLE: &str = "\
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      128        127.0.0.1:5000       0.0.0.0:*
\t bbr cwnd:10
ESTAB      0      0          127.0.0.1:59888    127.0.0.1:5000 timer:(keepalive,119min,0)
\t ts sack bbr wscale:10,7 rto:204 rtt:0.041/0.02 mss:32741 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_acked:1 bbr:(bw:0bps,mrtt:0.041) send 63884878049bps
TIME-WAIT  0      0      [fd00:7::1]:8000   [fd00:7::2]:40000 timer:(timewait,59sec,0)
LISTEN     0      4096   127.0.0.53%lo:53        0.0.0.0:*
LISTEN     0      5                  *:8080            *:*
CLOSE-WAIT 1      0      [::ffff:10.7.0.1]:80 [::ffff:10.7.0.2]:5
";

    #[test]
    fn parses_states_addresses_and_info() {
        let sockets = parse_ss(SAMPLE);
        assert_eq!(sockets.len(), 6, "{sockets:#?}");

        let listen = &sockets[0];
        assert_eq!(listen.state, SsState::Listen);
        assert_eq!(listen.send_q, 128);
        assert_eq!(
            listen.local.socket_addr(),
            Some("127.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(listen.peer.port, None);
        assert_eq!(listen.info.as_ref().and_then(|i| i.cwnd), Some(10));

        let estab = &sockets[1];
        assert_eq!(estab.state, SsState::Established);
        assert!(estab.is_between(59888, 5000));
        let info = estab.info.as_ref().expect("info line");
        assert!(info.ts && info.sack);
        assert_eq!(info.wscale, Some((10, 7)));
        assert_eq!(info.mss, Some(32741));
        assert_eq!(info.advmss, Some(65483));
        assert_eq!(
            info.fields.get("rtt").map(String::as_str),
            Some("0.041/0.02")
        );

        let tw = &sockets[2];
        assert_eq!(tw.state, SsState::TimeWait);
        assert_eq!(
            tw.peer.socket_addr(),
            Some("[fd00:7::2]:40000".parse().unwrap())
        );
        assert_eq!(tw.info, None);

        assert_eq!(sockets[3].local.addr, Some("127.0.0.53".parse().unwrap()));
        assert_eq!(sockets[4].local.addr, None);
        assert_eq!(sockets[4].local.port, Some(8080));
        assert_eq!(sockets[5].state, SsState::CloseWait);
        assert_eq!(sockets[5].recv_q, 1);
    }

    #[test]
    fn info_without_options_has_no_flags() {
        let info = TcpInfo::parse("\t bbr wscale:7,10 mss:1448 cwnd:10");
        assert!(!info.ts && !info.sack);
        assert_eq!(info.wscale, Some((7, 10)));
        assert_eq!(info.mss, Some(1448));
        assert_eq!(info.words, vec!["bbr".to_string()]);
    }

    #[test]
    fn endpoint_rejects_garbage() {
        assert_eq!(Endpoint::parse("nonsense"), None);
        assert_eq!(Endpoint::parse("10.0.0.1:http"), None);
        assert_eq!(Endpoint::parse("[zz::1]:80"), None);
    }

    #[test]
    fn every_state_name() {
        let names = [
            ("LISTEN", SsState::Listen),
            ("SYN-SENT", SsState::SynSent),
            ("SYN-RECV", SsState::SynRecv),
            ("ESTAB", SsState::Established),
            ("FIN-WAIT-1", SsState::FinWait1),
            ("FIN-WAIT-2", SsState::FinWait2),
            ("CLOSE-WAIT", SsState::CloseWait),
            ("LAST-ACK", SsState::LastAck),
            ("CLOSING", SsState::Closing),
            ("TIME-WAIT", SsState::TimeWait),
            ("UNCONN", SsState::Closed),
        ];
        for (name, state) in names {
            let line = format!("{name} 0 0 10.0.0.1:1 10.0.0.2:2");
            assert_eq!(parse_ss(&line)[0].state, state, "{name}");
        }
        assert_eq!(
            parse_ss("NEW-SYN-RECV 0 0 10.0.0.1:1 10.0.0.2:2")[0].state,
            SsState::Other("NEW-SYN-RECV".into())
        );
    }
}
