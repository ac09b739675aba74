#!/usr/bin/env python3
"""A lossy wire between two network namespaces, made of two TUN devices and this process.

Usage: lossy_relay.py TUN_HERE OTHER_NETNS TUN_THERE DROP_PERCENT SEED FORCE_DROP

Run it inside the first namespace (`ip netns exec A`); it opens the persistent TUN device
TUN_HERE there, enters OTHER_NETNS (a name under /var/run/netns) to open TUN_THERE, and comes
back. Then it copies every packet from one device to the other, so that the kernels of the two
namespaces talk TCP to each other through it, and drops IPv4/IPv6 TCP segments that carry
data with probability DROP_PERCENT/100 (a seeded generator, so a run's drop pattern by data
packet index is fixed). FORCE_DROP is the index (from 1) of a data packet that is always
dropped, so that a short transfer cannot come through without a loss; 0 turns that off.
Handshake, pure ACKs and FINs without data pass untouched.

The kernel has no netem here, and no nft/iptables program is installed, so this relay is the
loss: both ends stay real Linux TCP.

Prints "ready" on stdout once both devices are open, then one line per dropped packet on
stderr ("drop N proto=6 len=L"), and runs until killed.
"""
import ctypes
import fcntl
import os
import random
import select
import struct
import sys

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    # A persistent TUN keeps its last user's offloads: ask for none, one packet per read.
    fcntl.ioctl(fd, TUNSETOFFLOAD, 0)
    return fd


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def tcp_payload_len(packet):
    """Payload length of an IPv4 or IPv6 TCP segment, or 0 for anything else."""
    if len(packet) < 1:
        return 0
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack("!H", packet[2:4])[0]
        proto = packet[9]
        offset = ihl
    elif version == 6 and len(packet) >= 40:
        total = 40 + struct.unpack("!H", packet[4:6])[0]
        proto = packet[6]
        offset = 40
    else:
        return 0
    if proto != 6 or len(packet) < offset + 13:
        return 0
    data_offset = (packet[offset + 12] >> 4) * 4
    return max(0, total - offset - data_offset)


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    here, other_ns, there = sys.argv[1], sys.argv[2], sys.argv[3]
    drop = float(sys.argv[4]) / 100.0
    rng = random.Random(int(sys.argv[5]))
    force = int(sys.argv[6])

    fd_here = open_tun(here)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    other = os.open("/var/run/netns/" + other_ns, os.O_RDONLY)
    setns(other)
    fd_there = open_tun(there)
    setns(home)
    print("ready", flush=True)

    peer = {fd_here: fd_there, fd_there: fd_here}
    data_packets = 0
    while True:
        readable, _, _ = select.select(list(peer), [], [])
        for fd in readable:
            packet = os.read(fd, 65536)
            if tcp_payload_len(packet) > 0:
                data_packets += 1
                if data_packets == force or rng.random() < drop:
                    print("drop %d len=%d" % (data_packets, len(packet)), file=sys.stderr, flush=True)
                    continue
            try:
                os.write(peer[fd], packet)
            except OSError:
                # The other device is down (the test is tearing down): drop it.
                pass


if __name__ == "__main__":
    main()
