//! Bulk transfer through the `synack-sim` network over a link with finite rate and delay.

use crate::apps::{App, BulkReceiver, BulkSender};
use crate::pattern::Pattern;
use crate::{make_stack, server_addr, BulkParams, BulkResult, Driver, CLIENT_IP, SERVER_IP};
use std::sync::Arc;
use std::time::Duration;
use synack_core::{Instant, Stack};
use synack_sim::{LinkConfig, Network, Node};

/// The application on a simulated host.
pub enum BulkApp {
    /// The data sender.
    Sender(BulkSender),
    /// The data receiver.
    Receiver(BulkReceiver),
}

/// A stack and its application as a simulator node.
pub struct SimHost {
    /// The stack.
    pub stack: Stack,
    /// The application.
    pub app: BulkApp,
}

impl SimHost {
    fn poll_app(&mut self, now: Instant) {
        match &mut self.app {
            BulkApp::Sender(s) => s.poll(&mut self.stack, now),
            BulkApp::Receiver(r) => r.poll(&mut self.stack, now),
        }
    }

    fn sender(&self) -> &BulkSender {
        match &self.app {
            BulkApp::Sender(s) => s,
            BulkApp::Receiver(_) => panic!("not the sender"),
        }
    }

    fn receiver(&self) -> &BulkReceiver {
        match &self.app {
            BulkApp::Receiver(r) => r,
            BulkApp::Sender(_) => panic!("not the receiver"),
        }
    }
}

impl Node for SimHost {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stack.handle_packet(now, packet);
        self.poll_app(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.poll_app(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.stack.poll_transmit(now, buf).map(|t| t.len)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.stack.poll_timeout()
    }
}

/// Bulk transfer over the simulator.
pub fn run_bulk(params: &BulkParams) -> BulkResult {
    let Driver::Sim {
        bandwidth_bps,
        delay,
    } = params.driver
    else {
        panic!("sim::run_bulk needs Driver::Sim");
    };
    let mut config = params.config.clone();
    config.mtu = params.mtu;
    let pattern = Arc::new(Pattern::new());
    let expected_checksum = pattern.checksum(params.bytes);

    let client_stack = make_stack(&config, CLIENT_IP, 1);
    let mut server_stack = make_stack(&config, SERVER_IP, 2);
    let receiver = BulkReceiver::new(&mut server_stack, server_addr());
    let mut net: Network<SimHost> = Network::new(7);
    let a = net.add_host(
        SimHost {
            stack: client_stack,
            app: BulkApp::Sender(BulkSender::new(server_addr(), pattern, params.bytes)),
        },
        &[CLIENT_IP],
    );
    let b = net.add_host(
        SimHost {
            stack: server_stack,
            app: BulkApp::Receiver(receiver),
        },
        &[SERVER_IP],
    );
    net.link(
        a,
        b,
        LinkConfig::default()
            .with_bandwidth_bps(bandwidth_bps)
            .with_delay(delay)
            .with_mtu(params.mtu),
    );

    let timer = crate::Timer::start();
    let t0 = net.now();
    {
        let host = net.host_mut(a);
        if let BulkApp::Sender(s) = &mut host.app {
            s.start(&mut host.stack, t0);
        }
    }
    let limit = Duration::from_secs(3600);
    let finished = net.run_until_cond(limit, |net| {
        let r = net.host(b).receiver();
        r.eof || r.error.is_some() || net.host(a).sender().error.is_some()
    });
    let (wall, cpu) = timer.stop();
    let virtual_time = net.now() - t0;
    let client_packets = net.link_stats(a, b).map_or(0, |s| s.sent);
    let server_packets = net.link_stats(b, a).map_or(0, |s| s.sent);
    let timer_wakeups = net.stats().timeouts_fired;

    let sender = net.host(a).sender();
    let info = sender.conn.and_then(|c| net.host(a).stack.info(c));
    let retransmits = info.as_ref().map_or(0, |i| i.counters.retransmits);
    let snd_mss = info.as_ref().map_or(0, |i| i.snd_mss);

    // Untimed: both ends finish (FIN exchange, TIME_WAIT).
    let closed_cleanly = net.run_until_cond(limit, |net| {
        net.host(a).stack.connection_count() == 0 && net.host(b).stack.connection_count() == 0
    });

    let receiver = net.host(b).receiver();
    let mut error = net
        .host(a)
        .sender()
        .error
        .clone()
        .or(receiver.error.clone());
    if !finished {
        error.get_or_insert("transfer did not finish within an hour of virtual time".into());
    }
    BulkResult {
        params: params.clone(),
        received: receiver.received(),
        expected_checksum,
        received_checksum: receiver.checksum.value(),
        wall,
        cpu,
        virtual_time,
        client_packets,
        server_packets,
        retransmits,
        snd_mss,
        timer_wakeups,
        closed_cleanly,
        error,
    }
}
