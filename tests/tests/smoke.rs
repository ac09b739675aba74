use std::time::Duration;
use synack_core::Config;
use synack_sim::LinkConfig;
use synack_tests::apps::{Client, Server};
use synack_tests::{pattern, tcpdump_lines, Pair};

#[test]
fn echo_round_trip() {
    let mut p = Pair::new(
        Config::default(),
        Config::default(),
        LinkConfig::default().with_delay(Duration::from_millis(5)),
        1,
    );
    p.net.set_capture(true);
    let data = pattern(100_000, 7);
    let b = p.b_addr(80);
    p.net.host_mut(p.b).app = Some(Box::new(Server::echo(b, 1)));
    p.net.host_mut(p.a).app = Some(Box::new(Client::new(b, data.clone())));
    p.net.flush();
    let done = p.run_until_done(Duration::from_secs(30));
    for l in tcpdump_lines(&p.net.take_captures()).iter().take(30) {
        println!("{l}");
    }
    assert!(done);
    let c: &Client = p.net.host(p.a).app();
    assert_eq!(c.error, None);
    assert_eq!(c.received.len(), data.len());
    assert!(c.received == data);
}
