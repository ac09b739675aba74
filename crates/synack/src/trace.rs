//! The `--trace` printer: packets as `tcpdump -n -S` prints them, with the stack's state
//! transitions and connection errors on the lines between, in the format of `synack demo`:
//!
//! ```text
//! 0.010000 IP 192.168.1.116.3337 > 192.168.1.123.7788: Flags [S], seq 3626544836, ...
//!                192.168.1.123:7788 LISTEN -> SYN_RCVD
//! 0.020000 IP 192.168.1.123.7788 > 192.168.1.116.3337: Flags [S.], seq 1739326486, ...
//!                192.168.1.116:3337 SYN_SENT -> ESTABLISHED
//!                192.168.1.116:3337 error: connection refused
//! ```
//!
//! A packet line is its time and the tcpdump line. A transition line has the time right-aligned
//! in a column, left blank when it is the time of the line above (the transition happened at
//! the moment of that packet, usually because of it). An error line never repeats the time.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};
use synack_core::{ConnId, Event, Instant};
use synack_wire::tcpdump::format_packet;

/// When a packet was seen: a moment on the stack's clock (the clock its `Instant`s count on,
/// the same one [`Event::StateChanged`] carries), so packets and events are stamped alike.
/// Wall-clock times come from the tracer's clock zero (see [`Tracer::set_clock_zero`]).
pub type TraceTime = Instant;

/// How the time column reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeStyle {
    /// Seconds since the stack's clock started (`Instant::ZERO`) with microseconds,
    /// `0.010000`, as `synack demo` and `tcpdump -ttttt` print them.
    Relative,
    /// UTC time of day, `HH:MM:SS.ffffff`, as tcpdump prints by default (in UTC rather than
    /// local time, so traces from different machines line up).
    WallClock,
}

impl TimeStyle {
    /// Width of the time column on transition lines: the demo's 12 for relative times, and the
    /// full 15 characters of a time of day.
    fn column(self) -> usize {
        match self {
            TimeStyle::Relative => 12,
            TimeStyle::WallClock => 15,
        }
    }
}

/// Prints packets and stack events as trace lines to `W`.
///
/// One tracer can follow several stacks (the demo's two hosts) as long as each stack's events
/// are passed in the order `poll_event` returns them: a connection's address for its error line
/// is taken from its last state transition, which the stack reports just before the end.
#[derive(Debug)]
pub struct Tracer<W: Write> {
    out: W,
    style: TimeStyle,
    /// Wall-clock time of `Instant::ZERO`.
    clock_zero: SystemTime,
    /// Time of the last timed line: a transition at the same moment leaves its column blank.
    last_time: Option<Instant>,
    /// Local address of each connection seen in a transition, for its error line.
    locals: HashMap<ConnId, SocketAddr>,
}

impl<W: Write> Tracer<W> {
    /// A tracer writing to `out`. For [`TimeStyle::WallClock`], the stack's clock is taken to
    /// count from the Unix epoch until [`Tracer::set_clock_zero`] says otherwise.
    pub fn new(out: W, style: TimeStyle) -> Self {
        Tracer {
            out,
            style,
            clock_zero: UNIX_EPOCH,
            last_time: None,
            locals: HashMap::new(),
        }
    }

    /// Sets the wall-clock time at which the stack's clock reads `Instant::ZERO` (a TUN driver's
    /// start time), for [`TimeStyle::WallClock`]; relative times do not use it.
    pub fn set_clock_zero(&mut self, zero: SystemTime) {
        self.clock_zero = zero;
    }

    /// [`Tracer::set_clock_zero`] at construction.
    pub fn with_clock_zero(mut self, zero: SystemTime) -> Self {
        self.set_clock_zero(zero);
        self
    }

    /// Prints one packet line: the time, then the packet as `tcpdump -n -S` prints it.
    pub fn packet(&mut self, time: TraceTime, packet: &[u8]) -> io::Result<()> {
        self.last_time = Some(time);
        let time = self.format_time(time);
        writeln!(self.out, "{time} {}", format_packet(packet))
    }

    /// Prints a state transition (`{local} {from} -> {to}`) or a connection's error
    /// (`{local} error: {reason}`); other events print nothing.
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        let width = self.style.column();
        match *event {
            Event::StateChanged {
                conn,
                local,
                from,
                to,
                at,
                ..
            } => {
                self.locals.insert(conn, local);
                let time = if self.last_time == Some(at) {
                    String::new()
                } else {
                    self.format_time(at)
                };
                self.last_time = Some(at);
                writeln!(self.out, "{time:>width$}   {local} {from} -> {to}")
            }
            Event::Closed { conn, reason } => {
                // The connection is gone: its handle will not be seen again.
                let local = self.locals.remove(&conn);
                let Some(reason) = reason else {
                    return Ok(());
                };
                match local {
                    Some(local) => writeln!(self.out, "{:>width$}   {local} error: {reason}", ""),
                    // Closed without a transition seen (the tracer started late): the handle
                    // is all there is to name it by.
                    None => writeln!(self.out, "{:>width$}   {conn} error: {reason}", ""),
                }
            }
            Event::Connected(_) | Event::Incoming(_) | Event::Readable(_) | Event::Writable(_) => {
                Ok(())
            }
        }
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Returns the output.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn format_time(&self, at: Instant) -> String {
        match self.style {
            TimeStyle::Relative => at.to_string(),
            TimeStyle::WallClock => time_of_day(self.clock_zero, at),
        }
    }
}

const MICROS_PER_DAY: i128 = 86_400 * 1_000_000;

/// `HH:MM:SS.ffffff`, UTC, of the moment `at` after `zero`. Works for any `zero`, before the
/// epoch included, and never overflows (microseconds in an `i128`).
fn time_of_day(zero: SystemTime, at: Instant) -> String {
    let zero_micros = match zero.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_micros() as i128,
        Err(before) => -(before.duration().as_micros() as i128),
    };
    let micros = (zero_micros + i128::from(at.total_micros())).rem_euclid(MICROS_PER_DAY);
    let secs = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        micros % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::time::Duration;
    use synack_core::{Config, ConnectionError, IsnMode, Stack, State};

    const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 116)), 3337);
    const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 123)), 7788);

    /// A real stack's first SYN and the connection handles of two connects (handles cannot be
    /// made outside the core).
    fn stack_with_two_connections() -> (Vec<u8>, ConnId, ConnId) {
        let config = Config {
            isn: IsnMode::Fixed(3626544836),
            timestamps: false,
            ..Config::default()
        };
        let mut stack = Stack::new(Arc::new(config), [7; 32]);
        stack.add_address(CLIENT.ip());
        let now = Instant::from_millis(10);
        let a = stack.connect(now, Some(CLIENT), SERVER).unwrap();
        let b = stack
            .connect(now, Some(SocketAddr::new(CLIENT.ip(), 3338)), SERVER)
            .unwrap();
        let mut buf = vec![0u8; 2048];
        let syn = stack.poll_transmit(now, &mut buf).expect("a SYN to send");
        buf.truncate(syn.len);
        (buf, a, b)
    }

    fn changed(conn: ConnId, local: SocketAddr, from: State, to: State, at: Instant) -> Event {
        Event::StateChanged {
            conn,
            local,
            remote: SERVER,
            from,
            to,
            at,
        }
    }

    fn text(tracer: Tracer<Vec<u8>>) -> String {
        String::from_utf8(tracer.into_inner()).unwrap()
    }

    #[test]
    fn relative_lines_as_the_demo_prints_them() {
        let (syn, a, b) = stack_with_two_connections();
        let b_local = SocketAddr::new(CLIENT.ip(), 3338);
        let mut t = Tracer::new(Vec::new(), TimeStyle::Relative);
        let (t0, t1) = (Instant::from_millis(10), Instant::from_micros(1_020_305));
        t.event(&changed(a, CLIENT, State::Closed, State::SynSent, t0))
            .unwrap();
        t.packet(t0, &syn).unwrap();
        // Same moment as the packet above: blank time column.
        t.event(&changed(a, CLIENT, State::SynSent, State::Established, t0))
            .unwrap();
        t.event(&Event::Readable(a)).unwrap();
        t.event(&Event::Connected(a)).unwrap();
        t.event(&changed(b, b_local, State::SynSent, State::Closed, t1))
            .unwrap();
        t.event(&Event::Closed {
            conn: b,
            reason: Some(ConnectionError::Refused),
        })
        .unwrap();
        t.event(&changed(a, CLIENT, State::Established, State::Closed, t1))
            .unwrap();
        t.event(&Event::Closed {
            conn: a,
            reason: None,
        })
        .unwrap();
        let syn_line = format_packet(&syn);
        assert!(
            syn_line.starts_with(
                "IP 192.168.1.116.3337 > 192.168.1.123.7788: Flags [S], seq 3626544836,"
            ),
            "{syn_line}"
        );
        let want = format!(
            "    0.010000   192.168.1.116:3337 CLOSED -> SYN_SENT\n\
             0.010000 {syn_line}\n\
             \x20              192.168.1.116:3337 SYN_SENT -> ESTABLISHED\n\
             \x20   1.020305   192.168.1.116:3338 SYN_SENT -> CLOSED\n\
             \x20              192.168.1.116:3338 error: connection refused\n\
             \x20              192.168.1.116:3337 ESTABLISHED -> CLOSED\n"
        );
        assert_eq!(text(t), want);
    }

    #[test]
    fn a_packet_line_always_shows_its_time() {
        let (syn, _, _) = stack_with_two_connections();
        let mut t = Tracer::new(Vec::new(), TimeStyle::Relative);
        let at = Instant::from_secs(2);
        t.packet(at, &syn).unwrap();
        t.packet(at, &syn).unwrap();
        let out = text(t);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in lines {
            assert_eq!(l, format!("2.000000 {}", format_packet(&syn)));
        }
    }

    #[test]
    fn error_of_a_connection_never_seen_names_its_handle() {
        let (_, a, _) = stack_with_two_connections();
        let mut t = Tracer::new(Vec::new(), TimeStyle::Relative);
        t.event(&Event::Closed {
            conn: a,
            reason: Some(ConnectionError::TimedOut),
        })
        .unwrap();
        assert_eq!(
            text(t),
            format!("{:>12}   {a} error: connection timed out\n", "")
        );
    }

    #[test]
    fn wall_clock_lines_show_the_utc_time_of_day() {
        let (syn, a, _) = stack_with_two_connections();
        // 2023-11-14 22:13:20.250000 UTC.
        let zero = UNIX_EPOCH + Duration::from_micros(1_700_000_000_250_000);
        let mut t = Tracer::new(Vec::new(), TimeStyle::WallClock).with_clock_zero(zero);
        let at = Instant::from_micros(10_000);
        t.packet(at, &syn).unwrap();
        t.event(&changed(a, CLIENT, State::SynSent, State::Closed, at))
            .unwrap();
        t.event(&Event::Closed {
            conn: a,
            reason: Some(ConnectionError::Reset),
        })
        .unwrap();
        // A day and a second later: the time of day moves on by one second.
        t.event(&changed(
            a,
            CLIENT,
            State::Closed,
            State::SynSent,
            at + Duration::from_secs(86_400 + 1),
        ))
        .unwrap();
        let want = format!(
            "22:13:20.260000 {}\n\
             \x20                 192.168.1.116:3337 SYN_SENT -> CLOSED\n\
             \x20                 192.168.1.116:3337 error: connection reset by peer\n\
             22:13:21.260000   192.168.1.116:3337 CLOSED -> SYN_SENT\n",
            format_packet(&syn)
        );
        assert_eq!(text(t), want);
    }

    #[test]
    fn wall_clock_defaults_to_the_epoch_and_the_zero_can_be_set_later() {
        let (syn, _, _) = stack_with_two_connections();
        let mut t = Tracer::new(Vec::new(), TimeStyle::WallClock);
        t.packet(Instant::from_micros(3_723_000_004), &syn).unwrap();
        t.set_clock_zero(UNIX_EPOCH + Duration::from_secs(86_400 - 1));
        t.packet(Instant::from_secs(2), &syn).unwrap();
        let out = text(t);
        let times: Vec<&str> = out.lines().map(|l| &l[..15]).collect();
        // 1 h 2 min 3.000004 s; then one second before midnight plus two: past midnight.
        assert_eq!(times, ["01:02:03.000004", "00:00:01.000000"]);
    }

    #[test]
    fn time_of_day_before_the_epoch_and_at_the_edges() {
        let before = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(time_of_day(before, Instant::ZERO), "23:59:59.999999");
        assert_eq!(
            time_of_day(before, Instant::from_micros(1)),
            "00:00:00.000000"
        );
        assert_eq!(
            time_of_day(UNIX_EPOCH, Instant::from_micros(u64::MAX)),
            // u64::MAX µs = 213503982 days, 8 h 1 min 49.551615 s.
            "08:01:49.551615"
        );
    }
}
