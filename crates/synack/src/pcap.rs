//! pcap capture files: every packet a driver sends or receives, readable by tcpdump and Wireshark.
//!
//! The file is classic libpcap format (not pcapng) with link type `LINKTYPE_RAW` (101): each
//! record is a bare IPv4 or IPv6 packet, exactly the bytes a TUN device with `IFF_NO_PI` carries,
//! so nothing is invented for a link layer the stack never sees.
//!
//! Records keep whole packets: the snapshot length is 262144 (what tcpdump uses by default), so a
//! 64 KB TSO superpacket fits, and a packet longer than that is refused with an error rather
//! than cut short. Timestamps have microsecond resolution and count from the Unix epoch; a
//! simulator passes its virtual time (time zero = 1970-01-01 00:00:00 UTC).

use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// The snapshot length written in the file header: the largest record the file may hold.
/// tcpdump's default, and above the 65535 bytes of the largest IPv4 packet (TSO superpackets).
pub const SNAPLEN: u32 = 262_144;

/// Writes packets to a pcap file as they happen.
///
/// Nothing is buffered here: records go straight to `W` (wrap a file in a `BufWriter`, as
/// [`PcapWriter::create`] does, and call [`PcapWriter::flush`] to see write errors before the
/// writer is dropped).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    packets_written: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the pcap file header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::create(path)?;
        PcapWriter::new(BufWriter::new(file))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Starts a capture on `out`, writing the pcap file header now.
    pub fn new(mut out: W) -> io::Result<Self> {
        file_header().write_to(&mut out).map_err(pcap_to_io_error)?;
        Ok(PcapWriter {
            out,
            packets_written: 0,
        })
    }

    /// Appends one raw IPv4 or IPv6 packet, stamped `timestamp` after the Unix epoch.
    ///
    /// Errors (nothing is written then): the packet is longer than [`SNAPLEN`], or the
    /// timestamp does not fit pcap's 32-bit seconds (after the year 2106); or `W` fails.
    pub fn write_packet(&mut self, timestamp: Duration, packet: &[u8]) -> io::Result<()> {
        let record = record_header(timestamp, packet.len())?;
        self.out.write_all(&record)?;
        self.out.write_all(packet)?;
        self.packets_written += 1;
        Ok(())
    }

    /// Pushes everything written so far to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// How many packets [`PcapWriter::write_packet`] has written.
    pub fn packets_written(&self) -> u64 {
        self.packets_written
    }

    /// Returns the underlying writer (not flushed: call [`PcapWriter::flush`] first if it buffers).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The file header: pcap 2.4, microsecond timestamps, raw IP, in this machine's byte order
/// (readers detect the order from the magic number, as libpcap writes it).
fn file_header() -> PcapHeader {
    PcapHeader {
        snaplen: SNAPLEN,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::MicroSecond,
        endianness: Endianness::native(),
        ..PcapHeader::default()
    }
}

/// The 16-byte record header: seconds, microseconds, captured length, original length (equal:
/// records are never truncated), in the file header's (native) byte order.
///
/// Written here rather than through pcap-file's `PcapWriter`, which offers no way to flush the
/// writer it owns.
fn record_header(timestamp: Duration, len: usize) -> io::Result<[u8; 16]> {
    let secs = u32::try_from(timestamp.as_secs()).map_err(|_| {
        invalid_input(format!(
            "timestamp {timestamp:?} after the epoch does not fit pcap's 32-bit seconds"
        ))
    })?;
    let micros = timestamp.subsec_micros();
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l <= SNAPLEN)
        .ok_or_else(|| {
            invalid_input(format!(
                "a packet of {len} bytes is longer than the pcap snapshot length {SNAPLEN}"
            ))
        })?;
    let mut header = [0u8; 16];
    for (slot, field) in header.chunks_exact_mut(4).zip([secs, micros, len, len]) {
        slot.copy_from_slice(&field.to_ne_bytes());
    }
    Ok(header)
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// pcap-file's errors as `io::Error`, keeping the underlying I/O error when there is one.
fn pcap_to_io_error(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(io) => io,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    fn read_back(bytes: &[u8]) -> (PcapHeader, Vec<(Duration, u32, Vec<u8>)>) {
        let mut reader = PcapReader::new(bytes).expect("pcap-file reads the header");
        let header = reader.header();
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet() {
            let p = p.expect("pcap-file reads every record");
            packets.push((p.timestamp, p.orig_len, p.data.into_owned()));
        }
        (header, packets)
    }

    #[test]
    fn round_trip_through_pcap_file_reader() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let big = vec![0x45u8; 65_535];
        let packets: Vec<(Duration, Vec<u8>)> = vec![
            (Duration::ZERO, vec![0x45, 0, 0, 20]),
            (Duration::from_micros(10_000), vec![0x60; 40]),
            (Duration::new(1_700_000_000, 123_456_789), big.clone()),
        ];
        for (t, p) in &packets {
            w.write_packet(*t, p).unwrap();
        }
        assert_eq!(w.packets_written(), 3);
        w.flush().unwrap();
        let (header, got) = read_back(&w.into_inner());
        assert_eq!(header.datalink, DataLink::RAW);
        assert_eq!(u32::from(header.datalink), 101);
        assert_eq!(header.snaplen, SNAPLEN);
        assert_eq!(header.ts_resolution, TsResolution::MicroSecond);
        assert_eq!(got.len(), packets.len());
        for ((t, len, data), (want_t, want)) in got.iter().zip(&packets) {
            // Microsecond resolution: nanoseconds are cut, not rounded.
            let want_t = Duration::new(want_t.as_secs(), want_t.subsec_micros() * 1000);
            assert_eq!(*t, want_t);
            assert_eq!(
                *len as usize,
                want.len(),
                "original length = captured length"
            );
            assert_eq!(data, want);
        }
    }

    #[test]
    fn empty_capture_is_a_valid_file() {
        let w = PcapWriter::new(Vec::new()).unwrap();
        assert_eq!(w.packets_written(), 0);
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 24, "the file header alone");
        let (header, got) = read_back(&bytes);
        assert_eq!(header.datalink, DataLink::RAW);
        assert!(got.is_empty());
    }

    #[test]
    fn refuses_to_truncate_or_wrap_and_writes_nothing_then() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let too_long = vec![0u8; SNAPLEN as usize + 1];
        let e = w.write_packet(Duration::ZERO, &too_long).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = w
            .write_packet(Duration::from_secs(u64::from(u32::MAX) + 1), &[0x45])
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.packets_written(), 0);
        // A packet of exactly the snapshot length still fits.
        w.write_packet(Duration::ZERO, &vec![1u8; SNAPLEN as usize])
            .unwrap();
        let (_, got) = read_back(&w.into_inner());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2.len(), SNAPLEN as usize);
    }

    /// A writer that fails every call, to check errors come back as `io::Error` unchanged.
    #[derive(Debug)]
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken"))
        }
    }

    #[test]
    fn writer_errors_are_io_errors() {
        let e = PcapWriter::new(Broken).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn create_writes_a_file_that_reads_back() {
        let dir = std::env::temp_dir().join(format!("synack-pcap-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("one.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        w.write_packet(Duration::from_millis(1500), &[0x45, 1, 2, 3])
            .unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let (_, got) = read_back(&bytes);
        assert_eq!(
            got,
            vec![(Duration::from_millis(1500), 4, vec![0x45, 1, 2, 3])]
        );
    }
}
