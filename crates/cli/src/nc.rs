//! `synack nc`: netcat on synack. Connects (or listens), copies stdin to the connection and the
//! connection to stdout, half-closes at stdin EOF, and exits when the peer closes.

use crate::netargs::NetArgs;
use clap::Args;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use synack::{Net, TcpListener, TcpStream};

/// How long, after our side closed, the process stays up so the stack can finish the close
/// (retransmit the FIN until it is acknowledged). The kernel would finish it after the process
/// exits; synack lives in the process, so it waits here.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `synack nc`.
#[derive(Args, Debug)]
#[command(after_help = "Examples (the kernel side of tun0 has 10.7.0.1/24):\n  \
    synack nc --tun tun0 --ip 10.7.0.2/24 10.7.0.1 8000   connect, stdin -> connection -> stdout\n  \
    synack nc --tun tun0 --ip 10.7.0.2/24 -l 7 --echo -k   echo server for many clients")]
pub struct NcArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Listen for a connection on PORT instead of connecting
    #[arg(short = 'l', long)]
    listen: bool,
    /// With -l: keep listening after a connection ends, serving connections concurrently
    /// (their bytes go to stdout; stdin is not read)
    #[arg(short = 'k', long = "keep-open", requires = "listen")]
    keep_open: bool,
    /// With -l: send each connection's bytes back to it instead of to stdout
    #[arg(long, requires = "listen")]
    echo: bool,
    /// Say on stderr when listening and when connections open
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Serve this stack's sockets and counters to `synack ss` / `synack netstat -s` on a Unix
    /// socket (mode 0600) at PATH; without PATH, at $XDG_RUNTIME_DIR/synack/PID.sock (or
    /// /run/synack/PID.sock as root, /tmp/synack-UID/PID.sock otherwise)
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    control: Option<Option<PathBuf>>,
    /// Give up connecting after SECS seconds
    #[arg(short = 'w', long = "wait", value_name = "SECS")]
    wait: Option<f64>,
    /// HOST PORT to connect to, or PORT to listen on (with -l)
    #[arg(value_name = "HOST PORT | PORT", num_args = 1..=2, required = true)]
    target: Vec<String>,
}

/// Runs `synack nc`; returns the exit status.
pub fn run(args: &NcArgs) -> Result<(), String> {
    let mode = Mode::parse(args)?;
    let net = Arc::new(args.net.start()?);
    // Held to the end: dropping it removes the socket file.
    let control = match &args.control {
        None => None,
        Some(path) => {
            let path = path.clone().unwrap_or_else(synack::control::default_path);
            let handle = net
                .serve_control(&path)
                .map_err(|e| format!("control socket {}: {e}", path.display()))?;
            if args.verbose {
                eprintln!("synack nc: control socket at {}", path.display());
            }
            Some(handle)
        }
    };
    install_signal_handler(&net, control.as_ref().map(|c| c.path().to_path_buf()))?;
    let result = match mode {
        Mode::Connect(addr) => connect(&net, args, addr),
        Mode::Listen(port) => listen(&net, args, port),
    };
    // Let our FIN be acknowledged before the stack goes away with the process.
    net.wait_closed(CLOSE_GRACE);
    net.flush_observers();
    result
}

enum Mode {
    Connect(SocketAddr),
    Listen(u16),
}

impl Mode {
    fn parse(args: &NcArgs) -> Result<Mode, String> {
        let port = |s: &str| {
            s.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{s:?} is not a port: give a number from 1 to 65535"))
        };
        match (args.listen, args.target.as_slice()) {
            (true, [p]) => Ok(Mode::Listen(port(p)?)),
            (true, _) => Err("with -l, give only the PORT to listen on (e.g. `-l 7`)".into()),
            (false, [host, p]) => {
                let ip: IpAddr = host.trim_matches(['[', ']']).parse().map_err(|_| {
                    format!("{host:?} is not an IP address: give one like 10.7.0.1 or fd00:7::1 (no name lookups)")
                })?;
                Ok(Mode::Connect(SocketAddr::new(ip, port(p)?)))
            }
            (false, _) => Err("give HOST PORT to connect to, or -l PORT to listen".into()),
        }
    }
}

/// Says what went wrong the way the C library would (`Connection refused`, ...).
fn describe(e: &io::Error) -> String {
    let text = match e.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused",
        io::ErrorKind::ConnectionReset => "Connection reset by peer",
        io::ErrorKind::TimedOut => "Connection timed out",
        io::ErrorKind::ConnectionAborted => "Connection aborted",
        io::ErrorKind::HostUnreachable => "No route to host",
        io::ErrorKind::BrokenPipe => "Broken pipe",
        _ => return e.to_string(),
    };
    text.to_string()
}

fn connect(net: &Net, args: &NcArgs, addr: SocketAddr) -> Result<(), String> {
    let stream = match args.wait {
        Some(secs) if secs > 0.0 => {
            TcpStream::connect_timeout(net, &addr, Duration::from_secs_f64(secs))
        }
        Some(_) => return Err("-w needs a positive number of seconds".into()),
        None => TcpStream::connect(net, addr),
    }
    .map_err(|e| {
        format!(
            "connect to {} port {}: {}",
            addr.ip(),
            addr.port(),
            describe(&e)
        )
    })?;
    if args.verbose {
        eprintln!("synack nc: connected to {addr}");
    }
    copy_both_ways(stream, true)
}

/// Stdin to the stream (then FIN) on a thread, the stream to stdout here. The peer's FIN ends
/// only its direction: what stdin still has goes out before our FIN (a half-close, as OpenBSD nc
/// does in connect mode).
fn copy_both_ways(stream: TcpStream, use_stdin: bool) -> Result<(), String> {
    let peer = stream.peer_addr().map_err(|e| e.to_string())?;
    let sender = if use_stdin {
        let out = stream.try_clone().map_err(|e| e.to_string())?;
        Some(std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let copied = io::copy(&mut stdin, &mut &out);
            if copied.is_ok() {
                let _ = out.shutdown(Shutdown::Write);
            }
            copied
        }))
    } else {
        None
    };
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match (&stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    // Nobody reads our output any more: stop reading too, as nc does.
                    break;
                }
            }
            Err(e) => return Err(format!("{peer}: {}", describe(&e))),
        }
    }
    drop(stdout);
    match sender {
        // The sender sends FIN at stdin's end; a write error means the peer reset.
        Some(sender) => match sender.join() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{peer}: {}", describe(&e))),
            Err(_) => Err("the stdin thread panicked".into()),
        },
        None => {
            let _ = stream.shutdown(Shutdown::Write);
            Ok(())
        }
    }
}

fn echo(stream: TcpStream) -> Result<(), String> {
    let peer = stream.peer_addr().map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match (&stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => (&stream)
                .write_all(&buf[..n])
                .map_err(|e| format!("{peer}: {}", describe(&e)))?,
            Err(e) => return Err(format!("{peer}: {}", describe(&e))),
        }
    }
    // The peer's FIN, after all its bytes came back: half-close our side too.
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

fn listen(net: &Net, args: &NcArgs, port: u16) -> Result<(), String> {
    // One listener per address family the stack has, all feeding one queue of connections.
    let mut families = Vec::new();
    for cidr in &args.net.ip {
        let any: IpAddr = match cidr.addr {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        if !families.contains(&any) {
            families.push(any);
        }
    }
    let listeners = families
        .iter()
        .map(|&ip| {
            TcpListener::bind(net, SocketAddr::new(ip, port))
                .map(Arc::new)
                .map_err(|e| format!("cannot listen on port {port}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.verbose {
        eprintln!("synack nc: listening on {port}");
    }
    let (tx, rx) = mpsc::channel();
    for l in &listeners {
        let (l, tx) = (Arc::clone(l), tx.clone());
        std::thread::spawn(move || loop {
            let accepted = l.accept();
            let failed = accepted.is_err();
            if tx.send(accepted).is_err() || failed {
                return;
            }
        });
    }
    drop(tx);
    let mut workers = Vec::new();
    for accepted in rx {
        let (stream, peer) = accepted.map_err(|e| format!("accept: {e}"))?;
        if args.verbose {
            eprintln!("synack nc: connection from {peer}");
        }
        let echoing = args.echo;
        if !args.keep_open {
            // One connection: stop listening (later SYNs are refused), then serve it here.
            drop(listeners);
            return if echoing {
                echo(stream)
            } else {
                copy_both_ways(stream, true)
            };
        }
        workers.retain(|w: &std::thread::JoinHandle<()>| !w.is_finished());
        workers.push(std::thread::spawn(move || {
            let result = if echoing {
                echo(stream)
            } else {
                copy_both_ways(stream, false)
            };
            if let Err(e) = result {
                eprintln!("synack nc: {e}");
            }
        }));
    }
    Ok(())
}

/// SIGINT/SIGTERM: reset every open connection (so peers learn at once, as when the kernel
/// closes a killed process's sockets with unread data) and exit.
/// The control socket file is removed too: exit skips destructors.
fn install_signal_handler(net: &Arc<Net>, control: Option<PathBuf>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let net = Arc::clone(net);
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            net.abort_all();
            net.flush_observers();
            if let Some(path) = &control {
                let _ = std::fs::remove_file(path);
            }
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}
