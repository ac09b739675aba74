//! Stack-wide resource accounting: bytes held by connections (state and buffers) and orphaned
//! connections, both kept as running totals so every check is O(1).
//!
//! Memory follows Linux `tcp_mem` pressure in spirit: the stack adds each connection's memory
//! when it is created, the change an operation made when the operation ends, and takes it away
//! when the connection is freed. `Stack::connection_memory()` walks every connection and is the
//! audit the running total must agree with.

/// The running totals.
#[derive(Debug, Default)]
pub(crate) struct MemoryAccount {
    /// Bytes held by all connections, as `Tcb::memory()` plus the slot each sits in.
    used: usize,
    /// Connections the user closed that still finish their close (as Linux `tcp_max_orphans`
    /// counts them): FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK.
    orphans: usize,
    /// In memory-pressure mode (Linux `tcp_memory_pressure`): entered when an allocation is
    /// refused or the limit is reached, left when use falls to the low mark.
    pressure: bool,
}

impl MemoryAccount {
    /// Whether the stack is in memory-pressure mode.
    pub fn under_pressure(&self) -> bool {
        self.pressure
    }

    /// Re-evaluates pressure mode after a change: on at the limit or when `refused` (an
    /// allocation was refused); off again at or below 3/4 of the limit (Linux's default
    /// `tcp_mem` low and pressure marks stand 3:4), so the mode does not flap at the edge.
    pub fn update_pressure(&mut self, limit: usize, refused: bool) {
        if refused || self.used >= limit {
            self.pressure = true;
        } else if self.used <= limit - limit / 4 {
            self.pressure = false;
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Orphans now.
    pub fn orphans(&self) -> usize {
        self.orphans
    }

    /// A connection of `bytes` came into being.
    pub fn add(&mut self, bytes: usize) {
        self.used += bytes;
    }

    /// A connection of `bytes` was freed.
    pub fn remove(&mut self, bytes: usize) {
        debug_assert!(bytes <= self.used, "memory accounting underflow");
        self.used = self.used.saturating_sub(bytes);
    }

    /// An operation changed one connection from `before` to `after` bytes.
    pub fn adjust(&mut self, before: usize, after: usize) {
        self.remove(before);
        self.add(after);
    }

    /// An operation moved one connection into (`true`) or out of (`false`) the orphan states.
    pub fn orphan_changed(&mut self, was: bool, is: bool) {
        match (was, is) {
            (false, true) => self.orphans += 1,
            (true, false) => self.orphans = self.orphans.saturating_sub(1),
            _ => {}
        }
    }

    /// The budget one operation on a connection holding `conn_bytes` runs under.
    pub fn budget(&self, limit: usize, conn_bytes: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            used_at_start: self.used,
            conn_at_start: conn_bytes,
            pressure: self.pressure,
            refused: false,
        }
    }
}

/// What one operation on one connection may still allocate: handed to the connection in its
/// context, so buffers grow only within the stack-wide limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemoryBudget {
    limit: usize,
    used_at_start: usize,
    conn_at_start: usize,
    /// The stack was in pressure mode when the call began.
    pressure: bool,
    /// The call refused an allocation for want of memory (the stack enters pressure mode).
    pub refused: bool,
}

impl MemoryBudget {
    /// No limit (for contexts that allocate nothing).
    #[cfg(test)]
    pub fn unlimited() -> Self {
        MemoryBudget {
            limit: usize::MAX,
            used_at_start: 0,
            conn_at_start: 0,
            pressure: false,
            refused: false,
        }
    }

    /// The stack-wide total if this connection now holds `conn_now` bytes.
    fn used_with(&self, conn_now: usize) -> usize {
        (self.used_at_start - self.conn_at_start.min(self.used_at_start)).saturating_add(conn_now)
    }

    /// As Linux `tcp_under_memory_pressure`: the stack holds its limit or more. New work (new
    /// connections, out-of-order data) is refused.
    pub fn under_pressure(&self, conn_now: usize) -> bool {
        self.pressure || self.refused || self.used_with(conn_now) >= self.limit
    }

    /// Whether idle buffers should give their storage back: the stack has no room left for
    /// `reserve` more bytes (one new connection), so held-but-empty storage is what keeps new
    /// work out (Linux reclaims under `tcp_mem` pressure likewise).
    pub fn reclaim_due(&self, conn_now: usize, reserve: usize) -> bool {
        self.under_pressure(conn_now)
            || self.used_with(conn_now).saturating_add(reserve) > self.limit
    }

    /// Bytes the connection (holding `conn_now`) may still allocate before the stack passes
    /// its limit.
    pub fn headroom(&self, conn_now: usize) -> usize {
        self.limit.saturating_sub(self.used_with(conn_now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_total_follows_adds_changes_and_removals() {
        let mut m = MemoryAccount::default();
        m.add(100);
        m.add(50);
        m.adjust(50, 4146);
        assert_eq!(m.used(), 4246);
        let b = m.budget(5000, 4146);
        assert_eq!(b.headroom(4146), 754);
        assert!(!b.under_pressure(4146));
        assert!(b.under_pressure(5000));
        m.remove(4146);
        assert_eq!(m.used(), 100);
        m.orphan_changed(false, true);
        m.orphan_changed(true, true);
        assert_eq!(m.orphans(), 1);
        m.orphan_changed(true, false);
        assert_eq!(m.orphans(), 0);
        m.add(900);
        m.update_pressure(1000, false);
        assert!(m.under_pressure(), "1000 of 1000: at the limit");
        m.remove(200);
        m.update_pressure(1000, false);
        assert!(
            m.under_pressure(),
            "800 is above the low mark of 750: still on"
        );
        m.remove(100);
        m.update_pressure(1000, false);
        assert!(!m.under_pressure(), "700 is below the low mark");
        m.update_pressure(1000, true);
        assert!(m.under_pressure(), "a refused allocation enters pressure");
        assert_eq!(
            MemoryBudget::unlimited().headroom(1 << 40),
            usize::MAX - (1 << 40)
        );
    }
}
