//! Linux clients against `synack nc -l`: kernel nc and Python through `--echo`, curl against a
//! canned HTTP response, and many connections one after another and all at once.
//!
//! Each test makes its own namespace with `tun0` (kernel 10.7.0.1, fd00:7::1; synack 10.7.0.2,
//! fd00:7::2); see synack_tests::netns.

use std::time::Duration;
use synack_tests::netns::{
    echo_clients, file_with, require_program, Netns, StdinFrom, StdoutTo, SYNACK_V4, SYNACK_V6,
};
use synack_tests::synack_nc;

const T: Duration = Duration::from_secs(30);

fn kernel_nc_echo(host: &str, test: &str) {
    let ns = Netns::with_tun(test);
    let server = synack_nc!().arg("--echo").listen(&ns, 7);
    let message = b"hello from the kernel's nc\nsecond line\n";
    let input = file_with(message);
    // -N: shut down the sending side at end of input, so synack sees FIN and half-closes.
    let client = ns.spawn(
        &["nc", "-N", "-w", "10", host, "7"],
        StdinFrom::File(input.path().to_path_buf()),
        StdoutTo::Collect,
    );
    let client = client.wait(T);
    assert!(client.status.success(), "nc failed: {}", client.stderr);
    assert_eq!(client.stdout_text(), String::from_utf8_lossy(message));
    let server = server.wait(T);
    server.assert_clean_exit("synack nc -l --echo");
    assert!(
        server
            .stderr
            .contains(&format!("synack nc: connection from {}", peer_of(host))),
        "{}",
        server.stderr
    );
}

/// The kernel's address that talks to `synack_addr`, as synack prints a peer.
fn peer_of(synack_addr: &str) -> &'static str {
    if synack_addr.contains(':') {
        "[fd00:7::1]:"
    } else {
        "10.7.0.1:"
    }
}

#[test]
fn kernel_nc_echoes_through_synack_v4() {
    kernel_nc_echo(SYNACK_V4, "echo-nc-v4");
}

#[test]
fn kernel_nc_echoes_through_synack_v6() {
    kernel_nc_echo(SYNACK_V6, "echo-nc-v6");
}

#[test]
fn python_client_echoes_through_synack_v4() {
    let ns = Netns::with_tun("echo-py-v4");
    let server = synack_nc!().arg("--echo").listen(&ns, 7);
    // One connection of 300-600 kB: many segments each way, window updates, every byte checked.
    echo_clients(&ns, SYNACK_V4, 7, 1, 1, 300_000);
    server.wait(T).assert_clean_exit("synack nc -l --echo");
}

#[test]
fn python_client_echoes_through_synack_v6() {
    let ns = Netns::with_tun("echo-py-v6");
    let server = synack_nc!().arg("--echo").listen(&ns, 7);
    echo_clients(&ns, SYNACK_V6, 7, 1, 1, 300_000);
    server.wait(T).assert_clean_exit("synack nc -l --echo");
}

#[test]
fn curl_fetches_a_canned_http_response() {
    require_program("curl");
    let ns = Netns::with_tun("echo-curl");
    let body = "Hello from synack.\nThis body came from synack nc's stdin.\n".repeat(50);
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let canned = file_with(response.as_bytes());
    let server = synack_nc!()
        .stdin(StdinFrom::File(canned.path().to_path_buf()))
        .listen(&ns, 8080);
    let curl = ns.exec(&[
        "curl",
        "-sS",
        "--max-time",
        "15",
        "-D",
        "/dev/stderr",
        "http://10.7.0.2:8080/",
    ]);
    assert!(curl.status.success(), "curl failed: {}", curl.stderr);
    assert_eq!(curl.stdout_text(), body);
    assert!(curl.stderr.contains("HTTP/1.0 200 OK"), "{}", curl.stderr);
    let server = server.wait(T);
    server.assert_clean_exit("synack nc -l 8080");
    // curl's request came out on synack's stdout.
    let request = server.stdout_text();
    assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request:?}");
    assert!(
        request.contains("\r\nHost: 10.7.0.2:8080\r\n"),
        "{request:?}"
    );
    assert!(request.ends_with("\r\n\r\n"), "{request:?}");
}

/// `-k --echo` serves one connection after another; then SIGTERM ends it.
#[test]
fn two_hundred_sequential_connections() {
    let ns = Netns::with_tun("echo-seq");
    let server = synack_nc!().arg("-k").arg("--echo").listen(&ns, 7);
    echo_clients(&ns, SYNACK_V4, 7, 200, 1, 4000);
    assert!(server.is_running(), "-k must keep listening");
    let connections = server.stderr_text().matches("connection from").count();
    assert_eq!(connections, 200, "{}", server.stderr_text());
    assert!(server.signal("TERM"));
    let done = server.wait(T);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

/// `-k --echo` with 100 connections open at once (the clients wait on a barrier until all are
/// established), 100-200 kB each.
#[test]
fn hundred_concurrent_connections() {
    let ns = Netns::with_tun("echo-par");
    let server = synack_nc!().arg("-k").arg("--echo").listen(&ns, 7);
    echo_clients(&ns, SYNACK_V4, 7, 100, 100, 100_000);
    assert!(server.is_running(), "-k must keep listening");
    let connections = server.stderr_text().matches("connection from").count();
    assert_eq!(connections, 100, "{}", server.stderr_text());
    assert!(server.signal("TERM"));
    let done = server.wait(T);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}
