//! `synack demo`: the seed document's conversation, live, on the simulated network.
//!
//! Two hosts at the seed's addresses (192.168.1.116:3337 connecting to 192.168.1.123:7788, with
//! the seed's ISNs 3626544836 and 1739326486) talk over a simulated link. Each segment is printed
//! when it arrives, as `tcpdump -n -S` prints it, after the virtual time; the state transitions it
//! causes follow on the lines under it. Transitions that a user call causes (connect, close) are
//! printed where the call happens.

use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use synack::pcap::PcapWriter;
use synack_core::{Config, ConnId, Event, IsnMode, Shutdown, Stack};
use synack_sim::{CaptureEvent, HostId, LinkConfig, Network};

/// Which path of the state diagram to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Handshake, a request and a reply, and the four-way close started by the client.
    Basic,
    /// Both sides connect to each other at once: SYN_SENT -> SYN_RCVD -> ESTABLISHED on both.
    SimultaneousOpen,
    /// Both sides close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both.
    SimultaneousClose,
    /// The client shuts down its sending side; the server keeps sending, then closes.
    HalfClose,
    /// A SYN to a port where nobody listens is answered by RST: connection refused.
    Refused,
    /// The client aborts: RST, and the server sees the connection reset.
    Reset,
    /// A link that loses packets: retransmissions and SACK at work.
    Lossy,
}

/// Options of `synack demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Which conversation to show.
    #[arg(long, value_enum, default_value_t = Scenario::Basic)]
    pub scenario: Scenario,
    /// One-way delay of the simulated link, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub delay_ms: u64,
    /// Seed for the simulated network (loss, ports, timestamp offsets).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Leave TCP timestamps out of the SYN (shorter lines, as in the seed's trace).
    #[arg(long)]
    pub no_timestamps: bool,
    /// Also write the packets to a pcap file (raw IP, for tcpdump -r or Wireshark), stamped
    /// with their virtual arrival time counted from 1970-01-01 00:00:00 UTC. As a tap at the
    /// receiving host would, it holds the packets that arrive: those the trace marks as lost in
    /// transit are left out.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Instead of the trace, draw the conversation as a ladder diagram: the delivered packets
    /// (what --pcap would write) go through the same analyzer as `synack diagram`.
    #[arg(long)]
    pub diagram: bool,
}

const CLIENT_ISN: u32 = 3626544836;
const SERVER_ISN: u32 = 1739326486;

struct Demo<'w> {
    net: Network<Stack>,
    client: HostId,
    server: HostId,
    client_addr: SocketAddr,
    server_addr: SocketAddr,
    out: &'w mut dyn Write,
    last_time: Option<synack_core::Instant>,
    /// `--pcap`: every packet printed as arriving, at its arrival time.
    pcap: Option<PcapWriter<BufWriter<File>>>,
    /// `--diagram`: the same packets, in a pcap held in memory for the analyzer.
    memory: Option<PcapWriter<Vec<u8>>>,
}

impl Demo<'_> {
    fn stack(&mut self, host: HostId) -> &mut Stack {
        self.net.host_mut(host)
    }

    /// Prints what happened since the last call: arrivals and losses, each followed by the
    /// state transitions of that moment.
    fn report(&mut self) -> io::Result<()> {
        let captures = self.net.take_captures();
        for c in &captures {
            let line = synack_wire::tcpdump::format_packet(&c.packet);
            match c.event {
                CaptureEvent::Delivered => {
                    self.last_time = Some(c.time);
                    writeln!(self.out, "{} {line}", c.time)?;
                    let since_zero = Duration::from_micros(c.time.total_micros());
                    if let Some(pcap) = &mut self.pcap {
                        pcap.write_packet(since_zero, &c.packet)?;
                    }
                    if let Some(memory) = &mut self.memory {
                        memory.write_packet(since_zero, &c.packet)?;
                    }
                }
                CaptureEvent::Dropped(reason) => {
                    writeln!(self.out, "{} {line}  [lost in transit: {reason:?}]", c.time)?
                }
                _ => {}
            }
        }
        self.print_events()
    }

    fn print_events(&mut self) -> io::Result<()> {
        for host in [self.client, self.server] {
            while let Some(e) = self.net.host_mut(host).poll_event() {
                match e {
                    Event::StateChanged {
                        local,
                        from,
                        to,
                        at,
                        ..
                    } => {
                        // Under the line of the same moment, the time column stays blank.
                        let time = if Some(at) == self.last_time {
                            String::new()
                        } else {
                            at.to_string()
                        };
                        self.last_time = Some(at);
                        writeln!(self.out, "{time:>12}   {local} {from} -> {to}")?
                    }
                    Event::Closed {
                        reason: Some(r), ..
                    } => {
                        let who = if host == self.client {
                            self.client_addr
                        } else {
                            self.server_addr
                        };
                        writeln!(self.out, "{:>12}   {who} error: {r}", "")?
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Steps the network until `done` holds (checked after every step), reporting as it goes.
    fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> io::Result<bool> {
        let give_up = self.net.now() + limit;
        loop {
            self.report()?;
            if done(self) {
                return Ok(true);
            }
            match self.net.next_event_time() {
                Some(t) if t <= give_up => {
                    self.net.step();
                }
                _ => return Ok(false),
            }
        }
    }

    fn say(&mut self, text: &str) -> io::Result<()> {
        self.last_time = Some(self.net.now());
        writeln!(self.out, "{} # {text}", self.net.now())
    }

    fn state_is_gone(&mut self, host: HostId, conn: ConnId) -> bool {
        self.net.host(host).state(conn).is_none()
    }

    fn read_all(&mut self, host: HostId, conn: ConnId) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.stack(host).recv(conn, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    }
}

fn host_config(isn: u32, args: &DemoArgs) -> Config {
    Config {
        isn: IsnMode::Fixed(isn),
        timestamps: !args.no_timestamps,
        ..Config::default()
    }
}

/// Runs the demo, writing the trace to `out`.
pub fn run(args: &DemoArgs, out: &mut dyn Write) -> io::Result<()> {
    // Opened first, so a bad path fails before anything is printed.
    let pcap = match &args.pcap {
        Some(path) => Some(
            PcapWriter::create(path)
                .map_err(|e| io::Error::new(e.kind(), format!("--pcap {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let client_ip: IpAddr = [192, 168, 1, 116].into();
    let server_ip: IpAddr = [192, 168, 1, 123].into();
    let mut net = Network::new(args.seed);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&args.seed.to_le_bytes());
    let mut client_stack = Stack::new(Arc::new(host_config(CLIENT_ISN, args)), seed);
    client_stack.add_address(client_ip);
    seed[31] = 1;
    let mut server_stack = Stack::new(Arc::new(host_config(SERVER_ISN, args)), seed);
    server_stack.add_address(server_ip);
    let client = net.add_host(client_stack, &[client_ip]);
    let server = net.add_host(server_stack, &[server_ip]);
    let mut link = LinkConfig::default().with_delay(Duration::from_millis(args.delay_ms));
    if args.scenario == Scenario::Lossy {
        link = link.with_loss(0.12);
    }
    net.link(client, server, link);
    net.set_capture(true);
    let memory = if args.diagram {
        Some(PcapWriter::new(Vec::new())?)
    } else {
        None
    };
    // With --diagram the trace is not printed: the ladder replaces it.
    let mut sink = io::sink();
    let trace_out: &mut dyn Write = if args.diagram { &mut sink } else { &mut *out };
    let mut demo = Demo {
        net,
        client,
        server,
        client_addr: SocketAddr::new(client_ip, 3337),
        server_addr: SocketAddr::new(server_ip, 7788),
        out: trace_out,
        last_time: None,
        pcap,
        memory,
    };
    writeln!(
        demo.out,
        "# synack demo --scenario {}: {} connects to {}, link delay {} ms each way",
        args.scenario
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        demo.client_addr,
        demo.server_addr,
        args.delay_ms
    )?;
    match args.scenario {
        Scenario::Basic => basic(&mut demo, false),
        Scenario::Lossy => basic(&mut demo, true),
        Scenario::SimultaneousOpen => simultaneous_open(&mut demo),
        Scenario::SimultaneousClose => simultaneous_close(&mut demo),
        Scenario::HalfClose => half_close(&mut demo),
        Scenario::Refused => refused(&mut demo),
        Scenario::Reset => reset(&mut demo),
    }?;
    let (c, s) = (
        demo.net.host(demo.client).stats().clone(),
        demo.net.host(demo.server).stats().clone(),
    );
    writeln!(
        demo.out,
        "# done at {}: client sent {} packets, server sent {}; simulated link: {} delivered, {} lost",
        demo.net.now(),
        c.packets_out,
        s.packets_out,
        demo.net.stats().delivered,
        demo.net.stats().lost
    )?;
    if let Some(pcap) = &mut demo.pcap {
        pcap.flush()?;
    }
    if let Some(memory) = demo.memory.take() {
        write_ladders(args, &memory.into_inner(), out)?;
    }
    Ok(())
}

/// `--diagram`: reads the in-memory capture back and draws each connection in it, through the
/// same analyzer and renderer as `synack diagram`.
fn write_ladders(args: &DemoArgs, pcap: &[u8], out: &mut dyn Write) -> io::Result<()> {
    let capture = synack_analyze::read_capture(pcap)
        .map_err(|e| io::Error::other(format!("reading the demo's own capture: {e}")))?;
    let scenario = args
        .scenario
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    writeln!(
        out,
        "# synack demo --scenario {scenario} --diagram: link delay {} ms each way",
        args.delay_ms
    )?;
    for view in synack_analyze::view::connection_views(&capture) {
        let ladder = synack_analyze::ladder::build(&view, Default::default());
        out.write_all(synack_analyze::ladder_text::render(&ladder).as_bytes())?;
    }
    Ok(())
}

fn listen(d: &mut Demo) -> io::Result<synack_core::ListenerId> {
    let addr = d.server_addr;
    let l = d
        .stack(d.server)
        .listen(addr, 16)
        .map_err(|e| io::Error::other(format!("listen: {e}")))?;
    writeln!(d.out, "{} # {addr} LISTEN", d.net.now())?;
    Ok(l)
}

fn connect(
    d: &mut Demo,
    from: HostId,
    local: SocketAddr,
    remote: SocketAddr,
) -> io::Result<ConnId> {
    let now = d.net.now();
    let conn = d
        .stack(from)
        .connect(now, Some(local), remote)
        .map_err(|e| io::Error::other(format!("connect: {e}")))?;
    d.say(&format!("{local} connect({remote})"))?;
    d.print_events()?;
    Ok(conn)
}

fn established(d: &mut Demo, host: HostId, conn: ConnId) -> bool {
    d.net.host(host).state(conn) == Some(synack_core::State::Established)
}

fn basic(d: &mut Demo, lossy: bool) -> io::Result<()> {
    let listener = listen(d)?;
    let (client, server, caddr, saddr) = (d.client, d.server, d.client_addr, d.server_addr);
    let conn = connect(d, client, caddr, saddr)?;
    d.run_until(Duration::from_secs(60), |d| established(d, client, conn))?;
    let request: Vec<u8> = if lossy {
        (0..14_600u32)
            .map(|i| b"synack "[(i % 7) as usize])
            .collect()
    } else {
        b"hello\n".to_vec()
    };
    let mut sent = 0;
    while sent < request.len() {
        let now = d.net.now();
        match d.stack(client).send(now, conn, &request[sent..]) {
            Ok(n) => sent += n,
            Err(e) => return Err(io::Error::other(format!("send: {e}"))),
        }
    }
    d.say(&format!("{caddr} send({} bytes)", request.len()))?;
    let mut accepted = None;
    let mut got = 0usize;
    d.run_until(Duration::from_secs(120), |d| {
        if accepted.is_none() {
            accepted = d.stack(server).accept(listener);
        }
        if let Some(a) = accepted {
            got += d.read_all(server, a).len();
        }
        got >= request.len()
    })?;
    let Some(sconn) = accepted else {
        return Err(io::Error::other("the server never accepted the connection"));
    };
    d.say(&format!(
        "{saddr} received {got} bytes, replies and keeps the connection open"
    ))?;
    let now = d.net.now();
    let _ = d.stack(server).send(now, sconn, b"world\n");
    d.run_until(Duration::from_secs(60), |d| {
        d.read_all(client, conn).len() == 6
    })?;
    d.say(&format!("{caddr} received 6 bytes, close()"))?;
    let now = d.net.now();
    let _ = d.stack(client).close(now, conn);
    d.print_events()?;
    let mut server_closed = false;
    d.run_until(Duration::from_secs(300), |d| {
        if !server_closed && d.stack(server).recv(sconn, &mut [0u8; 64]) == Ok(0) {
            server_closed = true;
            let _ = writeln!(
                d.out,
                "{} # {saddr} read end of stream, close()",
                d.net.now()
            );
            let now = d.net.now();
            let _ = d.stack(server).close(now, sconn);
            let _ = d.print_events();
        }
        server_closed && d.state_is_gone(client, conn) && d.state_is_gone(server, sconn)
    })?;
    Ok(())
}

fn simultaneous_open(d: &mut Demo) -> io::Result<()> {
    let (client, server, caddr, saddr) = (d.client, d.server, d.client_addr, d.server_addr);
    let a = connect(d, client, caddr, saddr)?;
    let b = connect(d, server, saddr, caddr)?;
    d.run_until(Duration::from_secs(60), |d| {
        established(d, client, a) && established(d, server, b)
    })?;
    d.say("both ends ESTABLISHED; both close()")?;
    let now = d.net.now();
    let _ = d.stack(client).close(now, a);
    let _ = d.stack(server).close(now, b);
    d.print_events()?;
    d.run_until(Duration::from_secs(300), |d| {
        d.state_is_gone(client, a) && d.state_is_gone(server, b)
    })?;
    Ok(())
}

fn open_pair(d: &mut Demo) -> io::Result<(ConnId, ConnId)> {
    let listener = listen(d)?;
    let (client, server, caddr, saddr) = (d.client, d.server, d.client_addr, d.server_addr);
    let conn = connect(d, client, caddr, saddr)?;
    let mut accepted = None;
    d.run_until(Duration::from_secs(60), |d| {
        if accepted.is_none() {
            accepted = d.stack(server).accept(listener);
        }
        accepted.is_some() && established(d, client, conn)
    })?;
    let sconn =
        accepted.ok_or_else(|| io::Error::other("the server never accepted the connection"))?;
    Ok((conn, sconn))
}

fn simultaneous_close(d: &mut Demo) -> io::Result<()> {
    let (conn, sconn) = open_pair(d)?;
    let (client, server) = (d.client, d.server);
    d.say("both ends close() at the same moment")?;
    let now = d.net.now();
    let _ = d.stack(client).close(now, conn);
    let _ = d.stack(server).close(now, sconn);
    d.print_events()?;
    d.run_until(Duration::from_secs(300), |d| {
        d.state_is_gone(client, conn) && d.state_is_gone(server, sconn)
    })?;
    Ok(())
}

fn half_close(d: &mut Demo) -> io::Result<()> {
    let (conn, sconn) = open_pair(d)?;
    let (client, server, caddr, saddr) = (d.client, d.server, d.client_addr, d.server_addr);
    let now = d.net.now();
    let _ = d.stack(client).send(now, conn, b"GET /\n");
    let _ = d.stack(client).shutdown(now, conn, Shutdown::Write);
    d.say(&format!(
        "{caddr} send(6 bytes), shutdown(Write): no more data from the client"
    ))?;
    d.print_events()?;
    let mut eof = false;
    d.run_until(Duration::from_secs(60), |d| {
        d.read_all(server, sconn);
        if d.stack(server).recv(sconn, &mut [0u8; 8]) == Ok(0) {
            eof = true;
        }
        eof
    })?;
    let reply = vec![b'x'; 4000];
    let now = d.net.now();
    let _ = d.stack(server).send(now, sconn, &reply);
    d.say(&format!(
        "{saddr} got end of stream, still sends 4000 bytes toward the half-closed client"
    ))?;
    let mut got = 0;
    d.run_until(Duration::from_secs(60), |d| {
        got += d.read_all(client, conn).len();
        got >= reply.len()
    })?;
    d.say(&format!(
        "{caddr} received {got} bytes in FIN_WAIT_2; {saddr} close()"
    ))?;
    let now = d.net.now();
    let _ = d.stack(server).close(now, sconn);
    d.print_events()?;
    let mut closed = false;
    d.run_until(Duration::from_secs(300), |d| {
        if !closed && d.stack(client).recv(conn, &mut [0u8; 8]) == Ok(0) {
            closed = true;
            let now = d.net.now();
            let _ = d.stack(client).close(now, conn);
        }
        d.state_is_gone(client, conn) && d.state_is_gone(server, sconn)
    })?;
    Ok(())
}

fn refused(d: &mut Demo) -> io::Result<()> {
    let (client, caddr, saddr) = (d.client, d.client_addr, d.server_addr);
    d.say(&format!("nobody listens on {saddr}"))?;
    let conn = connect(d, client, caddr, saddr)?;
    d.run_until(Duration::from_secs(60), |d| {
        d.net.host(client).state(conn) == Some(synack_core::State::Closed)
    })?;
    match d.net.host(client).error(conn) {
        Some(e) => d.say(&format!("{caddr} connect failed: {e}")),
        None => Err(io::Error::other("expected the connection to be refused")),
    }
}

fn reset(d: &mut Demo) -> io::Result<()> {
    let (conn, sconn) = open_pair(d)?;
    let (client, server, caddr) = (d.client, d.server, d.client_addr);
    d.say(&format!("{caddr} abort(): RST instead of FIN"))?;
    let now = d.net.now();
    let _ = d.stack(client).abort(now, conn);
    d.print_events()?;
    d.run_until(Duration::from_secs(60), |d| {
        d.net.host(server).state(sconn) == Some(synack_core::State::Closed)
    })?;
    let mut buf = [0u8; 8];
    match d.stack(server).recv(sconn, &mut buf) {
        Err(e) => d.say(&format!("the server's recv() reports: {e}")),
        Ok(_) => Err(io::Error::other("expected the server to see a reset")),
    }
}
