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
}

impl MemoryAccount {
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
}

impl MemoryBudget {
    /// No limit (for contexts that allocate nothing).
    #[cfg(test)]
    pub fn unlimited() -> Self {
        MemoryBudget {
            limit: usize::MAX,
            used_at_start: 0,
            conn_at_start: 0,
        }
    }

    /// The stack-wide total if this connection now holds `conn_now` bytes.
    fn used_with(&self, conn_now: usize) -> usize {
        (self.used_at_start - self.conn_at_start.min(self.used_at_start)).saturating_add(conn_now)
    }

    /// As Linux `tcp_under_memory_pressure`: the stack holds its limit or more. New work (new
    /// connections, out-of-order data) is refused.
    pub fn under_pressure(&self, conn_now: usize) -> bool {
        self.used_with(conn_now) >= self.limit
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
        assert_eq!(
            MemoryBudget::unlimited().headroom(1 << 40),
            usize::MAX - (1 << 40)
        );
    }
}
