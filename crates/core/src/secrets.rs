//! Keyed hashes for everything an off-path attacker must not predict: initial sequence numbers,
//! ephemeral ports, timestamp offsets, and the demux table's hash seed.
//!
//! All keys come from the seed given to [`Stack::new`](crate::Stack::new), so a simulation replays
//! exactly, while production seeds from the OS and gets unpredictable values. Tests and production
//! run the same code.

use core::hash::{BuildHasher, Hasher};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use siphasher::sip::SipHasher13;
use siphasher::sip::SipHasher24;
use std::net::{IpAddr, SocketAddr};

/// The stack's secret keys, derived once from its seed.
#[derive(Clone, Debug)]
pub struct Secrets {
    isn_key: [u8; 16],
    port_key: [u8; 16],
    ts_key: [u8; 16],
    demux_key: (u64, u64),
    cookie_key: [u8; 16],
}

fn write_addr(h: &mut impl Hasher, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
}

impl Secrets {
    /// Derives all keys from a 32-byte seed (ChaCha20 as the expander).
    pub fn from_seed(seed: [u8; 32]) -> (Self, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut k = || {
            let mut key = [0u8; 16];
            rng.fill_bytes(&mut key);
            key
        };
        let (isn_key, port_key, ts_key, d) = (k(), k(), k(), k());
        let demux_key = (
            u64::from_le_bytes(d[..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(d[8..].try_into().unwrap_or_default()),
        );
        // The cookie key is derived from the ISN key (SipHash as a PRF with a domain label)
        // rather than drawn from the expander, so adding it moved no other stream value.
        let cookie_key = derive_key(&isn_key, b"synack syncookie key");
        let secrets = Secrets {
            isn_key,
            port_key,
            ts_key,
            demux_key,
            cookie_key,
        };
        (secrets, rng)
    }

    fn tuple_hash(key: &[u8; 16], local: SocketAddr, remote: SocketAddr) -> u64 {
        let mut h = SipHasher24::new_with_key(key);
        write_addr(&mut h, local.ip());
        h.write_u16(local.port());
        write_addr(&mut h, remote.ip());
        h.write_u16(remote.port());
        h.finish()
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
    /// timer that ticks every 4 microseconds and F a keyed hash (SipHash-2-4 here).
    pub fn isn(&self, local: SocketAddr, remote: SocketAddr, now_micros: u64) -> u32 {
        let f = Self::tuple_hash(&self.isn_key, local, remote) as u32;
        let m = (now_micros / 4) as u32;
        f.wrapping_add(m)
    }

    /// RFC 7323 §5.4 / Linux `secure_tcp_ts_off`: a per-connection random offset for TSval, so
    /// timestamps do not reveal uptime or link connections to each other.
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        Self::tuple_hash(&self.ts_key, local, remote) as u32
    }

    /// RFC 6056 §3.3.3 (Algorithm 3): F(local address, remote address, remote port, secret), the
    /// per-destination offset into the ephemeral port range.
    pub fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.port_key);
        write_addr(&mut h, local);
        write_addr(&mut h, remote.ip());
        h.write_u16(remote.port());
        h.finish() as u32
    }

    /// RFC 4987 §3.6: the SYN cookie MAC, a keyed hash of the 4-tuple, the peer's ISN, the
    /// coarse time slot and the MSS index, so a cookie is bound to the connection it answers.
    pub fn cookie_mac(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: u32,
        slot: u32,
        mss_index: u8,
    ) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.cookie_key);
        write_addr(&mut h, local.ip());
        h.write_u16(local.port());
        write_addr(&mut h, remote.ip());
        h.write_u16(remote.port());
        h.write_u32(peer_isn);
        h.write_u32(slot);
        h.write_u8(mss_index);
        h.finish() as u32
    }

    /// A keyed hasher builder for the demux tables, so an attacker cannot aim at one bucket.
    pub fn demux_hasher(&self) -> DemuxHasher {
        DemuxHasher {
            k0: self.demux_key.0,
            k1: self.demux_key.1,
        }
    }
}

/// A 16-byte key derived from `parent` and a label: two SipHash-2-4 outputs keyed with `parent`.
fn derive_key(parent: &[u8; 16], label: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = SipHasher24::new_with_key(parent);
        h.write(label);
        h.write_u8(i as u8);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// Builds SipHash-1-3 hashers with the stack's secret key (deterministic, unlike `RandomState`).
#[derive(Clone, Copy, Debug)]
pub struct DemuxHasher {
    k0: u64,
    k1: u64,
}

impl BuildHasher for DemuxHasher {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn isn_differs_by_tuple_and_advances_with_the_clock() {
        let (s, _) = Secrets::from_seed([7; 32]);
        let (l, r1, r2) = (sa("10.0.0.1:1000"), sa("10.0.0.2:80"), sa("10.0.0.2:81"));
        let a = s.isn(l, r1, 0);
        let b = s.isn(l, r2, 0);
        assert_ne!(a, b, "different 4-tuples must not share an ISN");
        // 1 ms later the same tuple's ISN moved forward by 250 ticks of 4 µs.
        assert_eq!(s.isn(l, r1, 1000).wrapping_sub(a), 250);
        // Another seed gives another secret.
        let (s2, _) = Secrets::from_seed([8; 32]);
        assert_ne!(s2.isn(l, r1, 0), a);
    }
}
