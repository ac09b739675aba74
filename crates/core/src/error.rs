//! Errors returned to users of the stack, one enum per operation.

use core::fmt;
use std::io;

/// Why a connection ended abnormally.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ConnectionError {
    /// The peer answered our SYN with RST (nothing listens there).
    Refused,
    /// The peer reset an established connection.
    Reset,
    /// Retransmissions (or keepalives, or persist probes) went unanswered.
    TimedOut,
    /// The local user aborted the connection.
    Aborted,
    /// An ICMP error said the host or network cannot be reached.
    Unreachable,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionError::Refused => "connection refused",
            ConnectionError::Reset => "connection reset by peer",
            ConnectionError::TimedOut => "connection timed out",
            ConnectionError::Aborted => "connection aborted",
            ConnectionError::Unreachable => "host unreachable",
        })
    }
}

impl std::error::Error for ConnectionError {}

impl From<ConnectionError> for io::Error {
    fn from(e: ConnectionError) -> io::Error {
        let kind = match e {
            ConnectionError::Refused => io::ErrorKind::ConnectionRefused,
            ConnectionError::Reset => io::ErrorKind::ConnectionReset,
            ConnectionError::TimedOut => io::ErrorKind::TimedOut,
            ConnectionError::Aborted => io::ErrorKind::ConnectionAborted,
            ConnectionError::Unreachable => io::ErrorKind::HostUnreachable,
        };
        io::Error::new(kind, e)
    }
}

macro_rules! op_error {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $msg:literal, $kind:ident;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// The connection failed; the reason says how.
            Connection(ConnectionError),
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($msg),)*
                    $name::Connection(e) => e.fmt(f),
                }
            }
        }

        impl std::error::Error for $name {}

        impl From<ConnectionError> for $name {
            fn from(e: ConnectionError) -> Self {
                $name::Connection(e)
            }
        }

        impl From<$name> for io::Error {
            fn from(e: $name) -> io::Error {
                match e {
                    $($name::$variant => io::Error::new(io::ErrorKind::$kind, e),)*
                    $name::Connection(c) => c.into(),
                }
            }
        }
    };
}

op_error! {
    /// Why `send` did not queue data.
    SendError {
        /// The handle does not name a live connection.
        InvalidHandle => "invalid connection handle", InvalidInput;
        /// The send buffer is full; wait for `Event::Writable`.
        WouldBlock => "send buffer full", WouldBlock;
        /// The write side was shut down (`shutdown(Write)` or `close`).
        WriteClosed => "write side of the connection is shut down", BrokenPipe;
        /// The connection is not open for sending (e.g. already closed).
        NotConnected => "connection is not open for sending", NotConnected;
    }
}

op_error! {
    /// Why `recv` returned no data.
    RecvError {
        /// The handle does not name a live connection.
        InvalidHandle => "invalid connection handle", InvalidInput;
        /// No data yet; wait for `Event::Readable`.
        WouldBlock => "no data available", WouldBlock;
        /// The connection is not open (still connecting, or never connected).
        NotConnected => "connection is not open for receiving", NotConnected;
    }
}

op_error! {
    /// Why `connect` failed at once.
    ConnectError {
        /// No free ephemeral port for this destination.
        NoFreePorts => "no free local port", AddrNotAvailable;
        /// The requested local address is not one of this stack's addresses.
        AddrNotAvailable => "local address not assigned to this stack", AddrNotAvailable;
        /// The 4-tuple is in use by another connection.
        AddrInUse => "address and port already in use", AddrInUse;
        /// Local and remote addresses are of different families, or the remote is unusable (port 0, unspecified, multicast).
        InvalidAddress => "invalid remote address", InvalidInput;
        /// Too many connections for the configured limit.
        TooManyConnections => "connection limit reached", OutOfMemory;
        /// The stack holds its `memory_limit` (Linux `tcp_mem` pressure): try again later.
        NoMemory => "stack memory limit reached", OutOfMemory;
    }
}

op_error! {
    /// Why `listen` failed.
    ListenError {
        /// Another listener holds this address and port.
        AddrInUse => "address and port already in use", AddrInUse;
        /// The address is not one of this stack's addresses (nor unspecified).
        AddrNotAvailable => "address not assigned to this stack", AddrNotAvailable;
        /// Port 0 or a zero backlog.
        InvalidInput => "invalid listen address or backlog", InvalidInput;
    }
}

/// A handle that names no live connection or listener.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct InvalidHandle;

impl fmt::Display for InvalidHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid handle")
    }
}

impl std::error::Error for InvalidHandle {}

impl From<InvalidHandle> for io::Error {
    fn from(e: InvalidHandle) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}
