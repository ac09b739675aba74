//! The stateless SYN-ACK a listener sends when its SYN queue is full (RFC 4987 §3.6): the
//! same segment a half-open connection would send, with the cookie as its ISN, built without a
//! TCB so a flood of SYNs costs no memory.

use crate::config::Config;
use crate::syncookie::{encode_tsval, CookieOptions};
use crate::tcb::{local_mss_for, rcv_wscale_for, syn_window_for};
use std::net::SocketAddr;
use synack_wire::ip::{emit_ip_header, ip_header_len, protocol};
use synack_wire::{SeqNumber, TcpFlags, TcpOptions, TcpRepr, Timestamps};

/// One cookie SYN-ACK waiting to leave.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct CookieSynAck {
    local: SocketAddr,
    remote: SocketAddr,
    /// The cookie.
    iss: SeqNumber,
    /// The peer's ISN + 1.
    ack: SeqNumber,
    options: TcpOptions,
    window: u16,
}

impl CookieSynAck {
    /// The answer to `syn`: our options limited to what the peer offered (RFC 7323 §1.3 and
    /// §2.2, RFC 2018 §2), and the window scale and SACK-permitted the peer sent carried in our
    /// TSval, since no TCB remembers them. `ts_now` is this connection's timestamp clock.
    pub(crate) fn new(
        config: &Config,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpRepr,
        cookie: SeqNumber,
        ts_now: u32,
    ) -> Self {
        let peer = &syn.options;
        let mut options = TcpOptions {
            mss: Some(local_mss_for(config, local)),
            ..TcpOptions::default()
        };
        // Without timestamps the cookie has nowhere to keep window scale and SACK: offer
        // neither (RFC 4987 §3.6 lists this loss of options as the cost of cookies).
        if let (true, Some(ts)) = (config.timestamps, peer.timestamps) {
            let remembered = CookieOptions {
                window_scale: peer.window_scale.filter(|_| config.window_scale.is_some()),
                sack: peer.sack_permitted && config.sack,
            };
            if remembered.window_scale.is_some() {
                options.window_scale = Some(rcv_wscale_for(config));
            }
            options.sack_permitted = remembered.sack;
            options.timestamps = Some(Timestamps {
                tsval: encode_tsval(ts_now, remembered),
                tsecr: ts.tsval,
            });
        }
        CookieSynAck {
            local,
            remote,
            iss: cookie,
            ack: syn.seq + 1,
            options,
            window: syn_window_for(config),
        }
    }

    /// The segment's destination.
    pub(crate) fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Writes the IP packet into `buf`; None if it does not fit.
    pub(crate) fn emit(&self, hop_limit: u8, buf: &mut [u8]) -> Option<usize> {
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.iss,
            ack: self.ack,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            // RFC 7323 §2.2: the window of a SYN-ACK is never scaled.
            window: self.window,
            urgent_ptr: 0,
            options: self.options,
            payload: &[],
        };
        let ip_len = ip_header_len(self.local.ip());
        let tcp_len = repr.header_len();
        let total = ip_len + tcp_len;
        let out = buf.get_mut(..total)?;
        let (ip_part, tcp_part) = out.split_at_mut(ip_len);
        repr.emit(tcp_part, self.local.ip(), self.remote.ip())
            .ok()?;
        emit_ip_header(
            ip_part,
            self.local.ip(),
            self.remote.ip(),
            protocol::TCP,
            tcp_len,
            hop_limit,
            0,
        )
        .ok()?;
        Some(total)
    }
}
