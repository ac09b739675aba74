//! A SYN flood from the kernel side: a raw socket in the namespace sends spoofed SYNs at
//! `synack nc -l -k --echo` while kernel clients connect and echo (RFC 4987 §3.6: once the SYN
//! queue is full, SYN cookies keep the listener open to real clients without keeping state).
//!
//! Network safety: the spoofed sources (10.7.128.0/17) belong to nobody; synack's SYN-ACKs to
//! them go out of tun0 into the test's namespace, where the kernel (not a router) drops them.

use std::time::Duration;
use synack_tests::netns::{echo_clients, kernel_script, Netns, StdinFrom, StdoutTo, SYNACK_V4};
use synack_tests::synack_nc;

const T: Duration = Duration::from_secs(60);

/// Peak resident memory of a process, from /proc (kB).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

#[test]
fn real_clients_connect_through_a_spoofed_syn_flood() {
    let ns = Netns::with_tun("synflood");
    let server = synack_nc!().arg("-k").arg("--echo").listen(&ns, 7);
    let idle_rss = peak_rss_kib(server.pid());

    let script = kernel_script("syn_flood.py");
    let mut flood = ns.spawn(
        &[
            "python3",
            script.to_str().expect("utf-8 path"),
            SYNACK_V4,
            "7",
            "--src-net",
            "10.7.128.0/17",
            "--seed",
            "11",
        ],
        StdinFrom::Piped,
        StdoutTo::Lines,
    );
    assert_eq!(
        flood.next_stdout_line(T),
        "flooding",
        "{}",
        flood.stderr_text()
    );

    // 100 real clients, 10 at a time, each echoing about 20 KB, while the flood goes on.
    let report = echo_clients(&ns, SYNACK_V4, 7, 100, 10, 20_000);
    assert!(
        flood.is_running(),
        "the flood ended before the clients did, so they did not meet it: {report}"
    );
    // Once the SYN queue is full, more SYNs must cost nothing: flood two more seconds alone and
    // compare the peak before and after.
    let peak_with_clients = peak_rss_kib(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let peak_after_more = peak_rss_kib(server.pid());
    flood.close_stdin();
    let summary = flood.next_stdout_line(T);
    let flood = flood.wait(T);
    assert!(
        flood.status.success(),
        "syn_flood.py failed: {}",
        flood.stderr
    );
    let sent: u64 = summary
        .split("\"sent\": ")
        .nth(1)
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no count in the flood's report: {summary}"));
    eprintln!(
        "flood: {summary}; synack nc peak RSS: {idle_rss} kB listening, {peak_with_clients} kB \
         after the clients, {peak_after_more} kB after 2 s more of flood"
    );
    // The SYN queue holds 1024 entries: a flood many times that size must have needed cookies.
    assert!(sent >= 20_000, "the flood sent only {sent} SYNs: {summary}");
    // A fixed bound for the whole run: 1024 half-open connections, 10 echo connections with
    // their buffers, and the allocator's slack fit well inside 32 MiB.
    assert!(
        peak_with_clients - idle_rss < 32 * 1024,
        "synack grew from {idle_rss} kB to {peak_with_clients} kB"
    );
    // No state per spoofed SYN: tens of thousands more SYNs leave the peak where it was, give
    // or take 2 MiB of allocator and page noise (even 64 bytes per SYN would be more; one Tcb
    // per SYN would be tens of megabytes).
    assert!(
        peak_after_more - peak_with_clients < 2048,
        "the peak grew from {peak_with_clients} kB to {peak_after_more} kB while only spoofed \
         SYNs arrived"
    );
    let server = server.kill();
    assert!(
        server.stderr.contains("connection from"),
        "{}",
        server.stderr
    );
}
