//! Self-tests of the interop harness with the kernel alone: namespaces, children, ss parsing,
//! the step-driven kernel peer and the Python helpers, before synack is put between them.

use std::time::Duration;
use synack_tests::netns::{
    random_file, require_program, sha256_hex, KernelPeer, Netns, SsState, StdinFrom, StdoutTo,
};

const STEP: Duration = Duration::from_secs(10);

fn ns_exists(name: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn namespace_is_deleted_on_drop_with_its_children() {
    let ns = Netns::with_tun("harness-drop");
    let name = ns.name().to_string();
    assert!(name.starts_with("synack-harness-drop-"), "{name}");
    assert!(ns_exists(&name));
    let addrs = ns.ip(&["-br", "addr", "show", "dev", "tun0"]);
    assert!(addrs.contains("10.7.0.1/24"), "{addrs}");
    assert!(addrs.contains("fd00:7::1/64"), "{addrs}");
    // A child that would run for a minute: the guard kills it.
    let sleeper = ns.spawn(&["sleep", "60"], StdinFrom::Null, StdoutTo::Collect);
    let pid = sleeper.pid();
    std::mem::forget(sleeper); // leave it to the namespace guard
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(ns);
    assert!(!ns_exists(&name), "namespace {name} survived its guard");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty(), "child {pid} survived the guard: {stat}");
}

#[test]
fn namespace_is_deleted_when_the_test_panics() {
    let name = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let ns = Netns::new("harness-panic");
        *name.lock().unwrap() = ns.name().to_string();
        panic!("test body fails");
    });
    assert!(result.is_err());
    let name = name.into_inner().unwrap();
    assert!(!name.is_empty());
    assert!(!ns_exists(&name), "namespace {name} survived a panic");
}

#[test]
fn namespaces_are_isolated_from_each_other_and_from_the_root() {
    let a = Netns::with_tun("harness-iso-a");
    let b = Netns::with_tun("harness-iso-b");
    assert_ne!(a.name(), b.name());
    // Both have the same addresses on their own tun0: they cannot see each other's.
    let listener = KernelPeer::listen(&a, "127.0.0.1", 0);
    let port = listener.local_port;
    assert!(a
        .ss_tan()
        .iter()
        .any(|s| s.state == SsState::Listen && s.local.port == Some(port)));
    assert!(!b.ss_tan().iter().any(|s| s.local.port == Some(port)));
    let refused = KernelPeer::connect(&b, "127.0.0.1", port).err();
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("ECONNREFUSED")),
        "{refused:?}"
    );
}

#[test]
fn ss_shows_the_close_sequence_of_two_kernel_sockets() {
    let ns = Netns::new("harness-ss");
    let mut server = KernelPeer::listen(&ns, "127.0.0.1", 0);
    let mut client = KernelPeer::connect(&ns, "127.0.0.1", server.local_port).expect("connect");
    let client_port = server.accept();
    assert_eq!(client_port, client.local_port);
    let (sp, cp) = (server.local_port, client.local_port);

    let est = ns.wait_for_socket("established", STEP, |s| {
        s.is_between(cp, sp) && s.state == SsState::Established
    });
    let info = est.info.expect("ss -i prints an info line for ESTAB");
    // Loopback: both sides offer timestamps, SACK and window scaling.
    assert!(info.ts && info.sack, "{info:?}");
    assert!(info.wscale.is_some() && info.mss.is_some(), "{info:?}");

    client.send(b"hello");
    assert_eq!(server.recv_exact(5), Ok(b"hello".to_vec()));
    client.shut_wr();
    ns.wait_for_socket("close-wait", STEP, |s| {
        s.is_between(sp, cp) && s.state == SsState::CloseWait
    });
    ns.wait_for_socket("fin-wait-2", STEP, |s| {
        s.is_between(cp, sp) && s.state == SsState::FinWait2
    });
    // Data still flows the other way after the FIN.
    server.send(b"after fin");
    assert_eq!(client.recv_exact(9), Ok(b"after fin".to_vec()));
    assert_eq!(server.recv_to_eof(), Ok(Vec::new()));
    server.close();
    assert_eq!(client.recv_to_eof(), Ok(Vec::new()));
    ns.wait_for_socket("time-wait", STEP, |s| {
        s.is_between(cp, sp) && s.state == SsState::TimeWait
    });
}

#[test]
fn child_stderr_lines_stdout_hash_and_exit_status() {
    let ns = Netns::new("harness-child");
    let child = ns.spawn(
        &[
            "sh",
            "-c",
            "echo first >&2; sleep 0.2; echo second >&2; printf abc; exit 3",
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    let (i, line) = child.wait_stderr_from(0, "first", STEP);
    assert_eq!(line, "first");
    let (j, _) = child.wait_stderr_from(i + 1, "second", STEP);
    assert!(j > i);
    let done = child.wait(STEP);
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.stdout, b"abc");
    assert_eq!(done.stdout_len, 3);
    assert_eq!(done.stdout_sha256, sha256_hex(b"abc"));
    assert_eq!(done.stderr, "first\nsecond\n");
}

#[test]
#[should_panic(expected = "did not exit within")]
fn a_hanging_child_fails_the_test() {
    let ns = Netns::new("harness-hang");
    ns.spawn(&["sleep", "30"], StdinFrom::Null, StdoutTo::Collect)
        .wait(Duration::from_millis(200));
}

#[test]
fn signals_reach_the_program_not_ip() {
    let ns = Netns::new("harness-signal");
    let child = ns.spawn(
        &[
            "sh",
            "-c",
            "trap 'echo got TERM >&2; exit 7' TERM; echo ready >&2; while :; do sleep 0.05; done",
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    child.wait_stderr("ready", STEP);
    assert!(child.signal("TERM"));
    let done = child.wait(STEP);
    assert_eq!(done.status.code(), Some(7), "{}", done.stderr);
    assert!(done.stderr.contains("got TERM"));
}

#[test]
fn xfer_and_hashing_agree_over_kernel_loopback() {
    require_program("python3");
    let ns = Netns::new("harness-xfer");
    let file = random_file(3 << 20, 42);
    let again = random_file(3 << 20, 42);
    assert_eq!(file.sha256, again.sha256, "the generator is seeded");
    assert_ne!(file.sha256, random_file(3 << 20, 43).sha256);
    let xfer = synack_tests::netns::kernel_script("xfer.py");
    let server = ns.spawn(
        &[
            "python3".as_ref(),
            xfer.as_os_str(),
            "listen".as_ref(),
            "127.0.0.1".as_ref(),
            "7000".as_ref(),
            "--send".as_ref(),
            file.path().as_os_str(),
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    server.wait_stderr("listening 7000", STEP);
    let client = ns.spawn(
        &["nc", "-N", "127.0.0.1", "7000"],
        StdinFrom::File(again.path().to_path_buf()),
        StdoutTo::Hash,
    );
    let client = client.wait(Duration::from_secs(30));
    assert!(client.status.success(), "{}", client.stderr);
    assert_eq!(client.stdout_len, file.len);
    assert_eq!(client.stdout_sha256, file.sha256);
    let server = server.wait(STEP);
    assert!(server.status.success(), "{}", server.stderr);
    let report = server.stdout_text();
    assert!(
        report.contains(&format!("\"sha256\": \"{}\"", again.sha256)),
        "{report}"
    );
    assert!(
        report.contains(&format!("\"received\": {}", again.len)),
        "{report}"
    );
}

#[test]
fn echo_clients_check_every_byte() {
    require_program("python3");
    let ns = Netns::new("harness-echo");
    // A kernel echo server (socat is not installed; a few lines of Python).
    let server = ns.spawn(
        &[
            "python3",
            "-c",
            "import socket,threading,sys\n\
             s=socket.create_server(('127.0.0.1',7007))\n\
             print('up',file=sys.stderr,flush=True)\n\
             def echo(c):\n\
             \x20   while (d:=c.recv(65536)): c.sendall(d)\n\
             \x20   c.close()\n\
             while True:\n\
             \x20   c,_=s.accept(); threading.Thread(target=echo,args=(c,)).start()\n",
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    server.wait_stderr("up", STEP);
    let script = synack_tests::netns::kernel_script("echo_clients.py");
    let run = |conns: &str, parallel: &str| {
        ns.exec(&[
            "python3".as_ref(),
            script.as_os_str(),
            "127.0.0.1".as_ref(),
            "7007".as_ref(),
            "--conns".as_ref(),
            conns.as_ref(),
            "--parallel".as_ref(),
            parallel.as_ref(),
            "--bytes".as_ref(),
            "20000".as_ref(),
            "--seed".as_ref(),
            "5".as_ref(),
        ])
    };
    let done = run("20", "20");
    assert!(
        done.status.success(),
        "{}{}",
        done.stdout_text(),
        done.stderr
    );
    assert!(
        done.stdout_text().contains("\"ok\": 20"),
        "{}",
        done.stdout_text()
    );
    // And it notices when connections fail: the server is gone.
    drop(server);
    let done = run("2", "1");
    assert!(!done.status.success(), "{}", done.stdout_text());
    assert!(
        done.stdout_text().contains("\"ok\": 0"),
        "{}",
        done.stdout_text()
    );
}

#[test]
fn freeze_stops_the_process_until_thaw() {
    let ns = Netns::new("harness-freeze");
    let child = ns.spawn(
        &["sh", "-c", "while :; do echo tick >&2; sleep 0.005; done"],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    child.wait_stderr("tick", STEP);
    assert!(child.freeze());
    // Let the reader drain what was written before the stop, then count.
    std::thread::sleep(Duration::from_millis(50));
    let frozen = child.stderr_text().lines().count();
    std::thread::sleep(Duration::from_millis(150));
    let later = child.stderr_text().lines().count();
    assert_eq!(frozen, later, "the process went on while frozen");
    assert!(child.thaw());
    let (i, _) = child.wait_stderr_from(frozen, "tick", STEP);
    assert!(i >= frozen);
}
