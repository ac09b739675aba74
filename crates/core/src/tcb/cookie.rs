//! A connection rebuilt from a SYN cookie (RFC 4987 §3.6): the listener kept no state for the
//! SYN, so the handshake's final ACK carries everything, and the connection starts as if its
//! SYN-ACK had just been acknowledged.

use super::{Cx, Tcb};
use crate::state::State;
use crate::syncookie::CookieOptions;
use synack_wire::TcpRepr;

impl Tcb {
    /// Builds SYN-RECEIVED from a validated cookie ACK (our ISS is the cookie), then processes
    /// the ACK as SYN-RECEIVED would (RFC 9293 §3.10.7.4), which moves to ESTABLISHED and takes
    /// any data it carries. `peer_mss` is the MSS the cookie encoded; `options` the window scale
    /// and SACK the TSecr carried (None without timestamps: neither is available then).
    pub(crate) fn open_from_cookie(
        &mut self,
        cx: &mut Cx,
        ack: &TcpRepr,
        peer_mss: u16,
        options: Option<CookieOptions>,
    ) {
        self.passive = true;
        self.state = State::Listen;
        // The peer's SYN took the sequence number before this ACK's.
        self.irs = ack.seq - 1;
        self.rcv_nxt = ack.seq;
        self.peer_mss = peer_mss;
        match (options, ack.options.timestamps) {
            (Some(opts), Some(ts)) if self.offer.timestamps => {
                // RFC 7323 §3.2: timestamps were agreed in the SYNs, which the TSecr proves.
                self.ts_ok = true;
                self.ts_recent = ts.tsval;
                self.ts_recent_at = cx.now;
                match opts.window_scale {
                    Some(shift) if self.offer.window_scale => {
                        self.wscale_ok = true;
                        self.snd_wscale = shift.min(14);
                    }
                    _ => self.no_window_scale(),
                }
                // RFC 2018 §2: SACK only if both sent SACK-permitted.
                self.sack_ok = self.offer.sack && opts.sack;
            }
            _ => {
                self.ts_ok = false;
                self.sack_ok = false;
                self.no_window_scale();
            }
        }
        // Our SYN-ACK left (statelessly) with SEQ = ISS.
        self.snd_una = self.iss;
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.iss + 1;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = self.iss;
        self.rcv_adv = self.rcv_nxt + self.syn_window();
        self.last_ack_sent = self.rcv_nxt;
        self.set_state(cx, State::SynRcvd);
        self.touch_keepalive(cx.now);
        // The TSecr echoes a TSval whose low bits were options, up to 31 ms older than our
        // clock: no RTT sample (RFC 7323 §4.1) comes from it; the first data ACK gives one.
        let mut ack = *ack;
        if let Some(ts) = ack.options.timestamps.as_mut() {
            ts.tsecr = 0;
        }
        self.on_segment(cx, &ack);
    }

    /// RFC 7323 §2.2: without the option on both sides, neither direction scales.
    fn no_window_scale(&mut self) {
        self.wscale_ok = false;
        self.snd_wscale = 0;
        self.rcv_wscale = 0;
    }
}
