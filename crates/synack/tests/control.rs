//! The control socket over two stacks on a memory link: what `synack ss` and `synack netstat -s`
//! read, and who may read it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use synack::control::{Counters, SocketRow};
use synack::{ControlClient, MemoryLink, Net, NetConfig, TcpListener, TcpStream};

const SERVER: &str = "10.9.0.1";
const CLIENT: &str = "10.9.0.2";

fn pair() -> (Net, Net) {
    let (a, b) = MemoryLink::pair(1500, 1 << 20).expect("socketpair");
    let net = |link, ip: &str| {
        Net::new(
            link,
            NetConfig::new(vec![format!("{ip}/24").parse().unwrap()]),
        )
        .expect("net")
    };
    (net(a, SERVER), net(b, CLIENT))
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn counter(c: &Counters, name: &str) -> u64 {
    c.stack
        .iter()
        .find(|(n, _)| n == name)
        .map(|&(_, v)| v)
        .unwrap_or_else(|| panic!("no counter {name} in {:?}", c.stack))
}

fn row(rows: &[SocketRow], local: SocketAddr, peer: Option<SocketAddr>) -> &SocketRow {
    rows.iter()
        .find(|r| r.local == local && r.peer == peer)
        .unwrap_or_else(|| panic!("no row {local} -> {peer:?} in {rows:#?}"))
}

/// Polls `f` until it is true or 5 s pass.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn sockets_and_counters_through_the_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sock");
    let (server_net, client_net) = pair();
    let control = server_net.serve_control(&path).unwrap();
    assert_eq!(control.path(), path);

    let listener = TcpListener::bind(&server_net, addr(SERVER, 7)).unwrap();
    // Connection A: accepted, with 5 unread bytes at the server.
    let mut a = TcpStream::connect(&client_net, addr(SERVER, 7)).unwrap();
    let (mut a_srv, a_peer) = listener.accept().unwrap();
    a.write_all(b"hello").unwrap();
    // Connection B: the server closed its side and the client has not: server in FIN-WAIT-2.
    let b = TcpStream::connect(&client_net, addr(SERVER, 7)).unwrap();
    let (b_srv, b_peer) = listener.accept().unwrap();
    drop(b_srv);
    // Connection C: left in the accept queue.
    let _c = TcpStream::connect(&client_net, addr(SERVER, 7)).unwrap();

    let mut client = ControlClient::connect(&path).unwrap();
    let mut rows = Vec::new();
    let settled = eventually(|| {
        rows = client.sockets().unwrap().sockets;
        let a_row = rows.iter().find(|r| r.peer == Some(a_peer));
        let b_row = rows.iter().find(|r| r.peer == Some(b_peer));
        a_row.is_some_and(|r| r.recv_q == 5)
            && b_row.is_some_and(|r| r.state == "FIN-WAIT-2")
            && rows.iter().any(|r| r.state == "LISTEN" && r.recv_q == 1)
    });
    assert!(settled, "the rows never settled: {rows:#?}");

    let l = row(&rows, addr(SERVER, 7), None);
    assert_eq!(l.state, "LISTEN");
    assert_eq!(l.recv_q, 1, "one connection waits in the accept queue");
    assert!(l.info.is_none());
    let a_row = row(&rows, addr(SERVER, 7), Some(a_peer));
    assert_eq!(a_row.state, "ESTAB");
    assert_eq!(a_row.send_q, 0);
    let info = a_row.info.as_ref().expect("a connection has info");
    assert_eq!(info.bytes_received, 5);
    assert!(
        info.rcv_wnd > 0 && info.snd_wnd > 0 && info.cwnd > 0,
        "{info:?}"
    );
    assert!(!info.congestion.is_empty());
    // Three connections plus the listener.
    assert_eq!(rows.len(), 4, "{rows:#?}");

    // Data the server sends and the client does not read yet: the client's Recv-Q.
    a_srv.write_all(&[7u8; 1000]).unwrap();
    let mut a_buf = [0u8; 5];
    a_srv.read_exact(&mut a_buf).unwrap();
    assert_eq!(&a_buf, b"hello");
    assert!(eventually(|| client_net
        .socket_rows()
        .iter()
        .any(|r| r.peer == Some(addr(SERVER, 7)) && r.recv_q == 1000)));

    // Counters: what the stack did, through the socket, including the device side.
    drop(b);
    let before = client.counters().unwrap();
    let seg_out = counter(&before, "TcpOutSegs");
    assert!(
        seg_out >= 4,
        "three SYN-ACKs and the data at least: {seg_out}"
    );
    assert!(counter(&before, "TcpInSegs") >= 6);
    assert_eq!(counter(&before, "TcpPassiveOpens"), 3);
    assert_eq!(counter(&before, "TcpActiveOpens"), 0);
    assert!(before.device.tx_packets >= seg_out, "{:?}", before.device);
    // An abort from ESTABLISHED (SO_LINGER 0): a RST out and an established reset, both counted.
    a_srv.set_linger(Some(Duration::ZERO)).unwrap();
    drop(a_srv);
    let after_abort = {
        let mut c = before.clone();
        assert!(eventually(|| {
            c = client.counters().unwrap();
            counter(&c, "TcpEstabResets") == 1
        }));
        c
    };
    assert_eq!(counter(&after_abort, "TcpOutRsts"), 1);
    assert!(eventually(|| client_net
        .stats()
        .entries()
        .iter()
        .any(|&(n, v)| n == "TcpInRsts" && v == 1)));

    drop(client);
    drop(control);
    assert!(!path.exists(), "the socket file is removed on drop");
}

#[test]
fn the_socket_is_private_and_not_replaced_while_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.sock");
    let (net, _other) = pair();
    let control = net.serve_control(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    // A second server on the same path is refused while the first is alive.
    let e = net.serve_control(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    assert!(ControlClient::connect(&path).unwrap().sockets().is_ok());

    // As root, another user must not get in. Only root can become another user (CI is root).
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    assert!(
        root,
        "this test connects as user nobody to check the socket's permissions, which needs root: \
         run it as root (CI does)"
    );
    {
        // The directory must be traversable for the check to be about the socket's own mode.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            // The system's python (a pyenv shim under /root is not readable by nobody).
            .args(["/usr/bin/python3", "-c"])
            .arg(
                "import socket,sys\n\
                 s=socket.socket(socket.AF_UNIX)\n\
                 try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n print('denied'); sys.exit(0)\n\
                 print('connected'); sys.exit(1)",
            )
            .arg(&path)
            .output()
            .expect("setpriv (util-linux) and /usr/bin/python3 are needed for this test: install them");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.trim() == "denied",
            "user nobody reached the control socket: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(control);
    assert!(!path.exists());
}
