//! Bulk data between synack and the Linux kernel: 64 MiB each way with synack as server and as
//! client, and a file fetched from `python3 -m http.server`, all checked with SHA-256.
//!
//! Run these with `--release`: the stack in a debug build moves 64 MiB slowly.

use std::ffi::OsString;
use std::time::Duration;
use synack_tests::netns::{
    file_with, kernel_script, random_file, require_program, sha256_hex, Finished, Netns, NsChild,
    StdinFrom, StdoutTo, TestFile, KERNEL_V4, SYNACK_V4,
};
use synack_tests::synack_nc;

const MIB: u64 = 1 << 20;
/// Generous for 64 MiB (a debug build moves a few MiB/s); a release build takes about a second.
const BULK: Duration = Duration::from_secs(240);
const T: Duration = Duration::from_secs(30);

/// Starts xfer.py (`connect HOST PORT` or `listen HOST PORT`), sending `send` if given.
fn xfer(ns: &Netns, mode: &str, host: &str, port: u16, send: Option<&TestFile>) -> NsChild {
    require_program("python3");
    let mut argv: Vec<OsString> = vec![
        "python3".into(),
        kernel_script("xfer.py").into(),
        mode.into(),
        host.into(),
        port.to_string().into(),
    ];
    if let Some(file) = send {
        argv.push("--send".into());
        argv.push(file.path().into());
    }
    let child = ns.spawn(&argv, StdinFrom::Null, StdoutTo::Collect);
    if mode == "listen" {
        child.wait_stderr(&format!("listening {port}"), T);
    }
    child
}

/// xfer.py's report: (bytes received, their SHA-256).
fn xfer_report(done: &Finished) -> (u64, String) {
    assert!(done.status.success(), "xfer.py failed: {}", done.stderr);
    let report = done.stdout_text();
    let field = |key: &str| {
        let start = report
            .find(&format!("\"{key}\": "))
            .unwrap_or_else(|| panic!("no {key} in {report}"))
            + key.len()
            + 4;
        report[start..]
            .split([',', '}'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .to_string()
    };
    (
        field("received").parse().expect("received is a number"),
        field("sha256"),
    )
}

#[test]
fn kernel_client_sends_64_mib_to_synack_server() {
    let ns = Netns::with_tun("bulk-k2s-server");
    let file = random_file(64 * MIB, 1);
    let server = synack_nc!().stdout(StdoutTo::Hash).listen(&ns, 9000);
    let client = xfer(&ns, "connect", SYNACK_V4, 9000, Some(&file));
    let server = server.wait(BULK);
    server.assert_clean_exit("synack nc -l");
    assert_eq!(server.stdout_len, file.len);
    assert_eq!(server.stdout_sha256, file.sha256);
    // synack's stdin was empty: the kernel received nothing but the FIN.
    assert_eq!(xfer_report(&client.wait(T)), (0, sha256_hex(b"")));
}

#[test]
fn synack_server_sends_64_mib_to_kernel_client() {
    let ns = Netns::with_tun("bulk-s2k-server");
    let file = random_file(64 * MIB, 2);
    let server = synack_nc!()
        .stdin(StdinFrom::File(file.path().to_path_buf()))
        .listen(&ns, 9001);
    let client = xfer(&ns, "connect", SYNACK_V4, 9001, None);
    assert_eq!(
        xfer_report(&client.wait(BULK)),
        (file.len, file.sha256.clone())
    );
    let server = server.wait(T);
    server.assert_clean_exit("synack nc -l");
    assert_eq!(server.stdout_len, 0);
}

#[test]
fn synack_client_sends_64_mib_to_kernel_server() {
    let ns = Netns::with_tun("bulk-s2k-client");
    let file = random_file(64 * MIB, 3);
    let server = xfer(&ns, "listen", KERNEL_V4, 9002, None);
    let client = synack_nc!()
        .stdin(StdinFrom::File(file.path().to_path_buf()))
        .connect(&ns, KERNEL_V4, 9002);
    assert_eq!(
        xfer_report(&server.wait(BULK)),
        (file.len, file.sha256.clone())
    );
    client.wait(T).assert_clean_exit("synack nc");
}

#[test]
fn kernel_server_sends_64_mib_to_synack_client() {
    let ns = Netns::with_tun("bulk-k2s-client");
    let file = random_file(64 * MIB, 4);
    let server = xfer(&ns, "listen", KERNEL_V4, 9003, Some(&file));
    let client = synack_nc!()
        .stdout(StdoutTo::Hash)
        .connect(&ns, KERNEL_V4, 9003);
    let client = client.wait(BULK);
    client.assert_clean_exit("synack nc");
    assert_eq!(client.stdout_len, file.len);
    assert_eq!(client.stdout_sha256, file.sha256);
    assert_eq!(xfer_report(&server.wait(T)), (0, sha256_hex(b"")));
}

#[test]
fn synack_fetches_a_file_from_python_http_server() {
    require_program("python3");
    let ns = Netns::with_tun("bulk-http");
    let file = random_file(4 * MIB, 5);
    let dir = file.dir().as_os_str().to_owned();
    let server = ns.spawn(
        &[
            OsString::from("python3"),
            "-m".into(),
            "http.server".into(),
            "8000".into(),
            "--bind".into(),
            KERNEL_V4.into(),
            "--directory".into(),
            dir,
        ],
        StdinFrom::Null,
        StdoutTo::Collect,
    );
    ns.wait_listening(8000, T);
    let request = file_with(b"GET /random.bin HTTP/1.0\r\nHost: 10.7.0.1:8000\r\n\r\n");
    let client = synack_nc!()
        .stdin(StdinFrom::File(request.path().to_path_buf()))
        .connect(&ns, KERNEL_V4, 8000)
        .wait(BULK);
    client.assert_clean_exit("synack nc");
    let response = &client.stdout;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header ends with a blank line");
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", file.len)),
        "{head}"
    );
    assert_eq!(body.len() as u64, file.len);
    assert_eq!(sha256_hex(body), file.sha256);
    // http.server logged the request it served.
    let log = server.kill().stderr;
    assert!(log.contains("\"GET /random.bin HTTP/1.0\" 200"), "{log}");
}
