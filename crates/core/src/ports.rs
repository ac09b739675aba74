//! Ephemeral port selection, RFC 6056 §3.3.3 (Algorithm 3, "simple hash-based").
//!
//! Each destination gets its own secret starting offset into the range, so ports are not
//! predictable across destinations, and a shared counter walks forward from there, so sequential
//! connections to one destination do not collide with ports still in TIME_WAIT.

use crate::secrets::Secrets;
use std::net::{IpAddr, SocketAddr};

/// Picks local ports for active opens.
#[derive(Clone, Debug)]
pub struct PortAllocator {
    low: u16,
    high: u16,
    next_ephemeral: u32,
}

impl PortAllocator {
    /// A range `low..=high` (swapped if given backwards); `start` randomises the counter.
    pub fn new(range: (u16, u16), start: u32) -> Self {
        let (low, high) = if range.0 <= range.1 {
            range
        } else {
            (range.1, range.0)
        };
        PortAllocator {
            low: low.max(1),
            high: high.max(1),
            next_ephemeral: start,
        }
    }

    /// The first port in the sequence for which `in_use` says false, or None if all are taken.
    pub fn allocate(
        &mut self,
        secrets: &Secrets,
        local: IpAddr,
        remote: SocketAddr,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let num = u32::from(self.high - self.low) + 1;
        let offset = secrets.port_offset(local, remote);
        for _ in 0..num {
            let port = self.low as u32 + offset.wrapping_add(self.next_ephemeral) % num;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let port = port as u16;
            if !in_use(port) {
                return Some(port);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_range_and_reports_exhaustion() {
        let (secrets, _) = Secrets::from_seed([1; 32]);
        let mut ports = PortAllocator::new((5000, 5003), 0);
        let remote: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let local: IpAddr = "10.0.0.1".parse().unwrap();
        let mut taken = Vec::new();
        for _ in 0..4 {
            let p = ports
                .allocate(&secrets, local, remote, |p| taken.contains(&p))
                .unwrap();
            assert!((5000..=5003).contains(&p));
            taken.push(p);
        }
        taken.sort_unstable();
        assert_eq!(taken, vec![5000, 5001, 5002, 5003]);
        assert_eq!(
            ports.allocate(&secrets, local, remote, |p| taken.contains(&p)),
            None
        );
    }
}
