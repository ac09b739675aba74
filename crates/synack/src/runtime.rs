//! The runtime: the sans-IO core on its own thread, fed by a device and a real clock.
//!
//! One driver thread waits on the device's fd and on a wake-up eventfd, with the core's next
//! deadline as the timeout (no busy polling). When it wakes it reads every waiting packet
//! (without holding the lock), then under the lock hands them to the stack, fires due timers,
//! writes what the stack wants to send, and wakes user threads that wait for a change.
//!
//! User threads (the socket API) call the stack under the same lock and then flush its output
//! themselves, so a `write` goes on the wire without a thread switch; they signal the driver only
//! when the stack's next deadline moved earlier than the one the driver sleeps until.

use crate::cidr::IpCidr;
use crate::device::Device;
use crate::sys::{self, EventFd};
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};
use synack_core::{Config, ConnId, Event, Instant, Stack, State, Stats};

/// Packets read from the device per wake-up before they are handed to the stack.
const RX_BATCH: usize = 64;
/// Largest packet the runtime reads or writes (a 64 KB IP datagram, with room to spare).
const MAX_PACKET: usize = 65536 + 256;
/// Packets written per flush while holding the lock. Each TUN write runs the kernel's receive
/// path inline, which queues the kernel's answers (ACKs) for us on the device's queue (500
/// packets by default, dropped beyond). Bounding the burst lets the driver read those answers
/// between bursts; the rest of the output waits in the stack for the driver's next turn.
const TX_BURST: usize = 64;

/// Which way a packet went.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// From the device into the stack.
    In,
    /// From the stack out of the device.
    Out,
}

/// Sees every packet in and out, and every event the stack reports, in order: the hook for
/// traces, pcap capture and metrics. Called with the runtime's lock held: keep it quick.
pub trait Observer: Send {
    /// A packet, at stack time `at` (wall clock `wall`).
    fn packet(&mut self, at: Instant, wall: SystemTime, dir: Direction, packet: &[u8]);
    /// An event from the stack.
    fn event(&mut self, at: Instant, wall: SystemTime, event: &Event);
    /// The driver is about to sleep: write out anything buffered.
    fn flush(&mut self) {}
}

/// How to run a stack.
pub struct NetConfig {
    /// The stack's own addresses (at least one).
    pub addresses: Vec<IpCidr>,
    /// Core settings. `mtu` is replaced by the device's MTU.
    pub core: Config,
    /// Seed for every secret (ISNs, ports, timestamp offsets). None: 32 bytes from the OS.
    pub seed: Option<[u8; 32]>,
    /// Packet and event observers (trace printers, pcap writers).
    pub observers: Vec<Box<dyn Observer>>,
}

impl NetConfig {
    /// Default core settings with these addresses, a random seed, and no observers.
    pub fn new(addresses: Vec<IpCidr>) -> NetConfig {
        NetConfig {
            addresses,
            core: Config::default(),
            seed: None,
            observers: Vec::new(),
        }
    }
}

/// The state shared by the driver thread and the socket handles.
pub(crate) struct Shared {
    pub(crate) state: Mutex<Inner>,
    /// Notified whenever the stack reported events: waiting sockets re-check their condition.
    pub(crate) changed: Condvar,
    wake: EventFd,
    device: Arc<dyn Device>,
}

/// What the lock protects.
pub(crate) struct Inner {
    pub(crate) stack: Stack,
    clock: Clock,
    observers: Vec<Box<dyn Observer>>,
    /// The deadline the driver thread sleeps until (None: no timeout).
    driver_deadline: Option<Instant>,
    stopping: bool,
    tx_buf: Vec<u8>,
    pub(crate) device_stats: DeviceStats,
}

/// Counters of the device side of the runtime.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct DeviceStats {
    /// Packets read from the device.
    pub rx_packets: u64,
    /// Packets written to the device.
    pub tx_packets: u64,
    /// Packets the device refused (queue full, device down).
    pub tx_dropped: u64,
    /// Read or write errors.
    pub errors: u64,
}

/// Converts the OS monotonic clock to the core's microsecond `Instant`, and to wall-clock time.
struct Clock {
    start: std::time::Instant,
    start_wall: SystemTime,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: std::time::Instant::now(),
            start_wall: SystemTime::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn wall(&self, at: Instant) -> SystemTime {
        self.start_wall + Duration::from_micros(at.total_micros())
    }

    fn until(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.now())
    }
}

impl Inner {
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Writes up to [`TX_BURST`] packets the stack wants to send and reports events to the
    /// observers.
    fn flush(&mut self, device: &dyn Device) -> Flushed {
        let now = self.clock.now();
        // Events first: a user call's transition (ESTABLISHED -> FIN_WAIT_1) precedes the
        // segment it sends (the FIN), as in `synack demo`.
        let mut events = self.report_events(now);
        let wall = self.clock.wall(now);
        let mut sent = 0;
        while sent < TX_BURST {
            let Some(t) = self.stack.poll_transmit(now, &mut self.tx_buf) else {
                break;
            };
            sent += 1;
            let Some(packet) = self.tx_buf.get(..t.len) else {
                break;
            };
            for o in &mut self.observers {
                o.packet(now, wall, Direction::Out, packet);
            }
            match device.send(packet) {
                Ok(true) => self.device_stats.tx_packets += 1,
                Ok(false) => self.device_stats.tx_dropped += 1,
                Err(_) => self.device_stats.errors += 1,
            }
        }
        events |= self.report_events(now);
        Flushed {
            events,
            more: sent == TX_BURST,
        }
    }

    /// Hands the stack's pending events to the observers; true if there were any.
    fn report_events(&mut self, now: Instant) -> bool {
        let mut any = false;
        let wall = self.clock.wall(now);
        while let Some(e) = self.stack.poll_event() {
            any = true;
            for o in &mut self.observers {
                o.event(now, wall, &e);
            }
        }
        any
    }
}

/// What a flush did.
struct Flushed {
    /// The stack reported events: waiting threads should look again.
    events: bool,
    /// The burst limit was reached; the stack may have more to send.
    more: bool,
}

impl Shared {
    /// Locks the stack. A panic in another holder does not make the stack unusable: its state is
    /// only ever changed through the core's own calls, which leave it consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a user call: send what it produced, wake waiters, and wake the driver if the stack
    /// now needs it earlier than it planned to wake.
    pub(crate) fn after_user_call(&self, inner: &mut Inner) {
        let flushed = inner.flush(&*self.device);
        if flushed.events {
            self.changed.notify_all();
        }
        let next = inner.stack.poll_timeout();
        let earlier = match (next, inner.driver_deadline) {
            (Some(n), Some(d)) => n < d,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if flushed.more {
            // The driver sends the rest, between reads.
            inner.driver_deadline = Some(inner.now());
            self.wake.signal();
        } else if earlier {
            inner.driver_deadline = next;
            self.wake.signal();
        }
    }

    /// Blocks until `ready` gives an answer, re-checking whenever the stack reports events, or
    /// until `deadline` (then `on_timeout`'s error).
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<std::time::Instant>,
        timeout_kind: io::ErrorKind,
        mut ready: impl FnMut(&mut Inner) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let mut inner = self.lock();
        loop {
            if let Some(result) = ready(&mut inner) {
                self.after_user_call(&mut inner);
                return result;
            }
            if inner.stopping {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the synack runtime has stopped",
                ));
            }
            inner = match deadline {
                None => self.changed.wait(inner).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(timeout_kind, "timed out"));
                    }
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

/// A running stack: the core on its own thread, attached to a device. Sockets are opened on it
/// ([`crate::TcpListener::bind`], [`crate::TcpStream::connect`]). Dropping it stops the thread
/// (connections still open are dropped without a word, as when a process dies).
pub struct Net {
    pub(crate) shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Net {
    /// Starts a stack on `device`.
    pub fn new(device: impl Device + 'static, mut config: NetConfig) -> io::Result<Net> {
        if config.addresses.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the stack needs at least one address of its own (e.g. 10.7.0.2/24)",
            ));
        }
        let seed = match config.seed {
            Some(s) => s,
            None => os_seed()?,
        };
        config.core.mtu = device.mtu();
        let mut stack = Stack::new(Arc::new(config.core), seed);
        for a in &config.addresses {
            stack.add_address(a.addr);
        }
        let device: Arc<dyn Device> = Arc::new(device);
        let shared = Arc::new(Shared {
            state: Mutex::new(Inner {
                stack,
                clock: Clock::new(),
                observers: config.observers,
                driver_deadline: None,
                stopping: false,
                tx_buf: vec![0; MAX_PACKET],
                device_stats: DeviceStats::default(),
            }),
            changed: Condvar::new(),
            wake: EventFd::new()?,
            device,
        });
        let driver = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("synack-driver".into())
            .spawn(move || drive(&driver))?;
        Ok(Net {
            shared,
            thread: Some(thread),
        })
    }

    /// Runs `f` with the stack locked (for tools: connection tables, statistics).
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        let mut inner = self.shared.lock();
        let r = f(&mut inner.stack);
        self.shared.after_user_call(&mut inner);
        r
    }

    /// The stack's counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stack.stats().clone()
    }

    /// The device side's counters.
    pub fn device_stats(&self) -> DeviceStats {
        self.shared.lock().device_stats
    }

    /// The device's name.
    pub fn device_name(&self) -> String {
        self.shared.device.name().to_string()
    }

    /// Blocks until no connection is left in the stack (every close finished, TIME_WAIT
    /// included) or `timeout` passes; true if none is left.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        self.shared
            .wait_for(Some(deadline), io::ErrorKind::TimedOut, |inner| {
                (inner.stack.connection_count() == 0).then_some(Ok(()))
            })
            .is_ok()
    }
}

impl Net {
    /// Blocks until every connection has finished its part of the close (only TIME_WAIT or
    /// CLOSED ones are left, or none) or `timeout` passes; true if so. A program that hosts the
    /// stack calls this before exiting so its last FIN is acknowledged.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        self.shared
            .wait_for(Some(deadline), io::ErrorKind::TimedOut, |inner| {
                let busy = inner
                    .stack
                    .connections()
                    .any(|(_, tcb)| !matches!(tcb.state(), State::TimeWait | State::Closed));
                (!busy).then_some(Ok(()))
            })
            .is_ok()
    }

    /// Writes out what observers buffered (a pcap file's tail). The driver does this whenever it
    /// goes to sleep; a program about to exit calls it so the last packets are not lost.
    pub fn flush_observers(&self) {
        let mut inner = self.shared.lock();
        for o in &mut inner.observers {
            o.flush();
        }
    }

    /// Resets every connection that is open or opening (RST), as a process exit with unread
    /// data makes the kernel do. Returns how many were reset.
    pub fn abort_all(&self) -> usize {
        let mut inner = self.shared.lock();
        let ids: Vec<ConnId> = inner
            .stack
            .connections()
            .filter(|(_, tcb)| !matches!(tcb.state(), State::TimeWait | State::Closed))
            .map(|(id, _)| id)
            .collect();
        for &id in &ids {
            let now = inner.now();
            let _ = inner.stack.abort(now, id);
        }
        self.shared.after_user_call(&mut inner);
        ids.len()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        {
            let mut inner = self.shared.lock();
            inner.stopping = true;
            for o in &mut inner.observers {
                o.flush();
            }
        }
        self.shared.changed.notify_all();
        self.shared.wake.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("device", &self.shared.device.name())
            .finish()
    }
}

/// 32 random bytes from the OS for the stack's secrets.
fn os_seed() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}

/// The driver thread's loop.
fn drive(shared: &Shared) {
    let device = &*shared.device;
    let mut bufs: Vec<Vec<u8>> = (0..RX_BATCH).map(|_| vec![0; MAX_PACKET]).collect();
    let mut lens = Vec::with_capacity(RX_BATCH);
    let fds = [device.poll_fd(), shared.wake.raw()];
    let mut more_to_send = false;
    loop {
        let timeout = {
            let mut inner = shared.lock();
            if inner.stopping {
                return;
            }
            if more_to_send {
                // Output is waiting: only look at the device, do not sleep.
                Some(Duration::ZERO)
            } else {
                for o in &mut inner.observers {
                    o.flush();
                }
                let deadline = inner.stack.poll_timeout();
                inner.driver_deadline = deadline;
                deadline.map(|d| inner.clock.until(d))
            }
        };
        if sys::poll_readable(&fds, timeout).is_err() {
            // poll fails only on bad arguments or no memory; back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
        }
        shared.wake.drain();
        // Read what is waiting, without the lock, so user threads are not held up by syscalls.
        lens.clear();
        let mut errors = 0;
        for buf in bufs.iter_mut() {
            match device.recv(buf) {
                Ok(Some(n)) => lens.push(n),
                Ok(None) => break,
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
        let mut inner = shared.lock();
        inner.device_stats.errors += errors;
        let now = inner.clock.now();
        let wall = inner.clock.wall(now);
        let mut events = false;
        for (buf, &n) in bufs.iter().zip(&lens) {
            let packet = &buf[..n.min(buf.len())];
            inner.device_stats.rx_packets += 1;
            for o in &mut inner.observers {
                o.packet(now, wall, Direction::In, packet);
            }
            inner.stack.handle_packet(now, packet);
            // Each transition is reported under the packet that caused it.
            events |= inner.report_events(now);
        }
        // The answers go out after the whole batch: like the kernel's GRO, a busy receiver
        // acknowledges a burst of segments with one cumulative ACK instead of one per two
        // segments (RFC 9293 §3.8.6.3 makes ACK-every-second-segment a SHOULD). Under light
        // load a batch is one packet and nothing is held back.
        inner.stack.handle_timeout(now);
        let flushed = inner.flush(device);
        more_to_send = flushed.more;
        if flushed.events || events {
            shared.changed.notify_all();
        }
    }
}
