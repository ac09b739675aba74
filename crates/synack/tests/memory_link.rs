//! The runtime and blocking sockets over an in-memory link: two stacks in one process, real
//! clock, no privileges.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};
use synack::{MemoryLink, Net, NetConfig, TcpListener, TcpStream};

const SERVER: &str = "10.9.0.1";
const CLIENT: &str = "10.9.0.2";

fn pair() -> (Net, Net) {
    let (a, b) = MemoryLink::pair(1500, 1 << 20).expect("socketpair");
    let server = Net::new(
        a,
        NetConfig::new(vec![format!("{SERVER}/24").parse().unwrap()]),
    )
    .expect("server net");
    let client = Net::new(
        b,
        NetConfig::new(vec![format!("{CLIENT}/24").parse().unwrap()]),
    )
    .expect("client net");
    (server, client)
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(salt ^ (i >> 12) as u8)
        })
        .collect()
}

#[test]
fn echo_round_trip_and_orderly_close() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 7)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), CLIENT);
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        buf.len()
    });
    let mut c = TcpStream::connect(&client_net, addr(SERVER, 7)).unwrap();
    assert_eq!(c.peer_addr().unwrap(), addr(SERVER, 7));
    let data = pattern(300_000, 7);
    let writer = {
        let mut w = c.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(server.join().unwrap(), data.len());
    assert!(back == data, "echoed bytes differ");
    drop(c);
    // The client's FIN went first, so the client holds TIME_WAIT and the server is gone.
    assert!(
        server_net.wait_idle(Duration::from_secs(5)),
        "server connection did not finish"
    );
}

#[test]
fn bulk_transfer_of_16_mib_is_intact() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 9)).unwrap();
    let data = pattern(16 << 20, 3);
    let expect = data.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut c = TcpStream::connect(&client_net, addr(SERVER, 9)).unwrap();
    c.write_all(&data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let got = server.join().unwrap();
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "transferred bytes differ");
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let (_server_net, client_net) = pair();
    let e = TcpStream::connect(&client_net, addr(SERVER, 4444)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn connect_timeout_expires_when_nobody_answers() {
    let (_server_net, client_net) = pair();
    let start = Instant::now();
    // 10.9.0.77 is on the link but no stack owns it: SYNs vanish.
    let e = TcpStream::connect_timeout(
        &client_net,
        &addr("10.9.0.77", 80),
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn read_timeout_gives_would_block_and_the_stream_still_works() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 10)).unwrap();
    let c = TcpStream::connect(&client_net, addr(SERVER, 10)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 16];
    let e = (&c).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    s.write_all(b"late").unwrap();
    let n = (&c).read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"late");
    assert_eq!(
        c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn linger_zero_resets_and_the_peer_sees_connection_reset() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 11)).unwrap();
    let c = TcpStream::connect(&client_net, addr(SERVER, 11)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    c.set_linger(Some(Duration::ZERO)).unwrap();
    drop(c);
    let mut buf = [0u8; 8];
    let e = s.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
}

#[test]
fn half_close_lets_data_flow_the_other_way() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 12)).unwrap();
    let mut c = TcpStream::connect(&client_net, addr(SERVER, 12)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf).unwrap(), 0, "server sees EOF");
    s.write_all(b"after fin").unwrap();
    drop(s);
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"after fin");
}

#[test]
fn binding_twice_is_addr_in_use() {
    let (server_net, _client_net) = pair();
    let _l = TcpListener::bind(&server_net, addr(SERVER, 13)).unwrap();
    let e = TcpListener::bind(&server_net, addr(SERVER, 13)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
}

#[test]
fn many_concurrent_connections_each_echo_their_own_bytes() {
    let (server_net, client_net) = pair();
    let listener = TcpListener::bind(&server_net, addr(SERVER, 14)).unwrap();
    let server = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for _ in 0..50 {
            let (mut s, _) = listener.accept().unwrap();
            workers.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
            }));
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..50u8)
        .map(|i| {
            let mut c = TcpStream::connect(&client_net, addr(SERVER, 14)).unwrap();
            std::thread::spawn(move || {
                let data = pattern(20_000, i);
                let r = c.try_clone().unwrap();
                let reader = std::thread::spawn(move || {
                    let mut got = Vec::new();
                    (&r).read_to_end(&mut got).unwrap();
                    got
                });
                c.write_all(&data).unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                assert!(
                    reader.join().unwrap() == data,
                    "connection {i} echoed wrong bytes"
                );
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}
