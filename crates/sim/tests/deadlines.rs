//! Node deadlines, the stall guard, polling discipline and the run_* helpers.

mod common;

use std::cell::Cell;
use std::time::Duration;

use common::*;
use synack_core::Instant;
use synack_sim::{CaptureEvent, LinkConfig, Network, Node, RawNode};

#[test]
fn deadlines_fire_at_their_virtual_time_and_time_jumps() {
    let mut net = Network::new(1);
    let mut node = RawNode::new();
    for ms in [7, 3, 1000] {
        node.wake_at(Instant::from_millis(ms));
    }
    let h = net.add_host(node, &[A.into()]);
    let mut steps = 0;
    while net.step() {
        steps += 1;
    }
    assert_eq!(steps, 3, "one step per deadline, no idle polling");
    assert_eq!(
        net.host(h).timeouts(),
        &[
            Instant::from_millis(3),
            Instant::from_millis(7),
            Instant::from_millis(1000)
        ]
    );
    assert_eq!(net.now(), Instant::from_millis(1000));
    assert_eq!(net.stats().timeouts_fired, 3);
}

#[test]
fn scheduled_sends_leave_at_their_deadline() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    net.host_mut(a)
        .send_at(Instant::from_millis(250), packet(A, B, 1, 64));
    net.host_mut(a)
        .send_at(Instant::from_millis(100), packet(A, B, 2, 64));
    net.run_for(Duration::from_secs(1));
    let rx = net.host(b).received();
    assert_eq!(rx.len(), 2);
    assert_eq!(
        (seq_of(&rx[0].packet), rx[0].time),
        (2, Instant::from_millis(110))
    );
    assert_eq!(
        (seq_of(&rx[1].packet), rx[1].time),
        (1, Instant::from_millis(260))
    );
}

/// A node with one settable deadline that records when it fired.
#[derive(Default)]
struct Alarm {
    deadline: Option<Instant>,
    fired: Vec<Instant>,
    /// On a packet, set the deadline to the arrival time.
    wake_on_packet: bool,
    polls: Cell<u32>,
    transmit_polls: u32,
}

impl Node for Alarm {
    fn handle_packet(&mut self, now: Instant, _: &[u8]) {
        if self.wake_on_packet {
            self.deadline = Some(now);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.fired.push(now);
        self.deadline = None;
    }
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> {
        self.transmit_polls += 1;
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.polls.set(self.polls.get() + 1);
        self.deadline
    }
}

#[test]
fn a_changed_deadline_replaces_the_old_one() {
    let mut net = Network::new(1);
    let h = net.add_host(Alarm::default(), &[A.into()]);
    net.host_mut(h).deadline = Some(Instant::from_millis(10));
    net.flush();
    net.host_mut(h).deadline = Some(Instant::from_millis(5));
    net.flush();
    net.host_mut(h).deadline = Some(Instant::from_millis(20));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.host(h).fired, vec![Instant::from_millis(20)]);
}

#[test]
fn a_cleared_deadline_never_fires() {
    let mut net = Network::new(1);
    let h = net.add_host(Alarm::default(), &[A.into()]);
    net.host_mut(h).deadline = Some(Instant::from_millis(10));
    net.flush();
    net.host_mut(h).deadline = None;
    net.run_for(Duration::from_secs(1));
    assert!(net.host(h).fired.is_empty());
    assert_eq!(net.stats().timeouts_fired, 0);
}

#[test]
fn a_past_deadline_fires_immediately() {
    let mut net = Network::new(1);
    let h = net.add_host(Alarm::default(), &[A.into()]);
    net.run_until(Instant::from_millis(50));
    net.host_mut(h).deadline = Some(Instant::from_millis(1));
    assert!(net.step());
    assert_eq!(net.host(h).fired, vec![Instant::from_millis(50)]);
    assert_eq!(net.now(), Instant::from_millis(50));
}

#[test]
fn a_deadline_of_now_set_by_a_packet_fires_at_that_instant() {
    let mut net: Network<Box<dyn Node>> = Network::new(1);
    let mut sender = RawNode::new();
    sender.send_at(Instant::from_millis(30), packet(A, B, 1, 64));
    let a = net.add_host(Box::new(sender), &[A.into()]);
    let alarm = Alarm {
        wake_on_packet: true,
        ..Alarm::default()
    };
    let b = net.add_host(Box::new(alarm), &[B.into()]);
    net.link(
        a,
        b,
        LinkConfig::default().with_delay(Duration::from_millis(2)),
    );
    // Fire at 30 ms (send), arrival at 32 ms, deadline at 32 ms.
    let fired = net.run_until_cond(Duration::from_secs(1), |n| n.stats().timeouts_fired == 2);
    assert!(fired);
    assert_eq!(net.now(), Instant::from_millis(32));
    assert_eq!(net.stats().stalled_timeouts, 0);
}

/// Always wants a deadline at time zero and never makes progress.
struct Stuck {
    fired: u32,
}

impl Node for Stuck {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {
        self.fired += 1;
    }
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
}

#[test]
fn a_node_stuck_in_the_past_does_not_spin() {
    let mut net = Network::new(1);
    let h = net.add_host(Stuck { fired: 0 }, &[A.into()]);
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.now(), Instant::from_secs(60));
    let fired = net.host(h).fired;
    // Back-off 1, 2, 4 µs ... capped at ~1 s: about 20 fires to reach 1 s,
    // then one per second.
    assert!(fired >= 60, "still fires: {fired}");
    assert!(fired < 120, "backed off: {fired}");
    assert_eq!(net.stats().stalled_timeouts, u64::from(fired));
}

#[test]
fn idle_nodes_are_not_polled() {
    let mut net = Network::new(1);
    let h = net.add_host(Alarm::default(), &[A.into()]);
    net.run_for(Duration::from_secs(3600));
    assert_eq!(net.host(h).transmit_polls, 1, "drained once when added");
    assert_eq!(net.host(h).polls.get(), 1);
    net.host_mut(h).deadline = Some(Instant::from_secs(7200));
    net.run_for(Duration::from_secs(7200));
    // Drained after host_mut, and after the deadline fired.
    assert_eq!(net.host(h).transmit_polls, 3);
    assert_eq!(net.host(h).polls.get(), 3);
    assert_eq!(net.host(h).fired, vec![Instant::from_secs(7200)]);
}

#[test]
fn host_mut_changes_are_sent_without_an_explicit_flush() {
    let (mut net, a, b) = pair(1, LinkConfig::default());
    net.run_until(Instant::from_millis(40));
    net.host_mut(a).send(packet(A, B, 1, 64));
    assert!(net.step());
    assert_eq!(received_seqs(&net, b), vec![1]);
    assert_eq!(net.host(b).received()[0].time, Instant::from_millis(40));
}

#[test]
fn flush_sends_at_the_current_time() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(1)),
    );
    net.set_capture(true);
    net.run_until(Instant::from_millis(40));
    net.host_mut(a).send(packet(A, B, 1, 64));
    net.flush();
    let caps = net.take_captures();
    assert_eq!(caps.len(), 1);
    assert_eq!(
        (caps[0].event, caps[0].time),
        (CaptureEvent::Sent, Instant::from_millis(40))
    );
    assert_eq!((caps[0].from, caps[0].to), (a, Some(b)));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.host(b).received()[0].time, Instant::from_millis(41));
}

#[test]
fn run_until_cond_stops_when_the_predicate_holds() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    for i in 0..5u64 {
        net.host_mut(a)
            .send_at(Instant::from_millis(100 * i), packet(A, B, i as u32, 64));
    }
    let got = net.run_until_cond(Duration::from_secs(10), |n| n.host(b).received().len() == 3);
    assert!(got);
    assert_eq!(
        net.now(),
        Instant::from_millis(210),
        "stopped at the third arrival"
    );
    assert_eq!(net.host(b).received().len(), 3);
}

#[test]
fn run_until_cond_gives_up_at_the_limit() {
    let (mut net, a, b) = pair(
        1,
        LinkConfig::default().with_delay(Duration::from_millis(10)),
    );
    net.host_mut(a)
        .send_at(Instant::from_secs(5), packet(A, B, 1, 64));
    let got = net.run_until_cond(Duration::from_secs(2), |n| !n.host(b).received().is_empty());
    assert!(!got);
    assert_eq!(net.now(), Instant::from_secs(2));
    assert!(
        net.host(b).received().is_empty(),
        "nothing past the limit ran"
    );
    // Checked before stepping: an already-true predicate costs no step.
    let before = net.stats().clone();
    assert!(net.run_until_cond(Duration::from_secs(100), |_| true));
    assert_eq!(net.now(), Instant::from_secs(2));
    assert_eq!(net.stats(), &before);
}

#[test]
fn run_until_never_goes_back_in_time() {
    let (mut net, _, _) = pair(1, LinkConfig::default());
    net.run_until(Instant::from_secs(5));
    net.run_until(Instant::from_secs(1));
    assert_eq!(net.now(), Instant::from_secs(5));
}
