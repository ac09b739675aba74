//! Kernel-side client programs run inside a namespace: echo clients and a spoofed-SYN flood.

use super::{kernel_script, require_program, Netns};

/// Runs echo_clients.py in `ns` against `host:port`: `conns` connections, at most `parallel` at
/// a time, about `bytes` each, every echoed byte checked. Panics unless all of them echoed;
/// returns the script's JSON report.
pub fn echo_clients(
    ns: &Netns,
    host: &str,
    port: u16,
    conns: u32,
    parallel: u32,
    bytes: u32,
) -> String {
    require_program("python3");
    let script = kernel_script("echo_clients.py");
    let args = [
        port.to_string(),
        "--conns".into(),
        conns.to_string(),
        "--parallel".into(),
        parallel.to_string(),
        "--bytes".into(),
        bytes.to_string(),
        "--seed".into(),
        "7".into(),
    ];
    let mut argv: Vec<std::ffi::OsString> = vec!["python3".into(), script.into(), host.into()];
    argv.extend(args.iter().map(Into::into));
    let done = ns.exec(&argv);
    let report = done.stdout_text();
    assert!(
        done.status.success(),
        "echo clients failed: {report}\n{}",
        done.stderr
    );
    assert!(
        report.contains(&format!("\"ok\": {conns},")),
        "not every connection echoed: {report}"
    );
    report
}
