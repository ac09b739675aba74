#!/usr/bin/env python3
"""Many kernel TCP clients against an echo server; every byte that comes back is checked.

Usage: echo_clients.py HOST PORT --conns N --parallel P --bytes B --seed S

Opens N connections, at most P at a time (P=1: one after the other). When P equals N, every
connection is established before any sends a byte (a barrier), so that all N are open at once.
Connection i sends
B + (i * 7919) % B bytes from a seeded generator (sizes differ so that segment boundaries
differ), shuts down its write side, reads until end of stream, and compares what came back with
what it sent. Prints one JSON line on stdout: {"ok": K, "failures": ["conn 3: ...", ...]}.
Exits 0 only if all N connections echoed every byte.
"""
import json
import random
import socket
import sys
import threading


def one_connection(host, port, index, size, seed, barrier):
    payload = random.Random(seed * 1000003 + index).randbytes(size)
    try:
        conn = socket.create_connection((host, port), timeout=30)
    except OSError:
        if barrier is not None:
            barrier.abort()
        raise
    try:
        if barrier is not None:
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                return "another connection failed before all were open"
        send_error = []

        def sender():
            try:
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
            except OSError as exc:
                send_error.append(exc)

        thread = threading.Thread(target=sender)
        thread.start()
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        thread.join()
        if send_error:
            return "send failed: %s" % send_error[0]
        echoed = b"".join(chunks)
        if echoed == payload:
            return None
        if len(echoed) != len(payload):
            return "echoed %d bytes of %d" % (len(echoed), len(payload))
        first = next(i for i in range(len(payload)) if echoed[i] != payload[i])
        return "echo differs from byte %d on" % first
    finally:
        conn.close()


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) > 2 and args[-2].startswith("--"):
        opts[args[-2][2:]] = int(args[-1])
        del args[-2:]
    if len(args) != 2 or set(opts) != {"conns", "parallel", "bytes", "seed"}:
        sys.exit(__doc__)
    host, port = args[0], int(args[1])
    conns, parallel, base, seed = opts["conns"], opts["parallel"], opts["bytes"], opts["seed"]

    failures = []
    ok = [0]
    lock = threading.Lock()
    next_index = [0]
    barrier = threading.Barrier(conns) if parallel == conns else None

    def worker():
        while True:
            with lock:
                index = next_index[0]
                if index >= conns:
                    return
                next_index[0] += 1
            size = base + (index * 7919) % base
            try:
                problem = one_connection(host, port, index, size, seed, barrier)
            except OSError as exc:
                problem = "%s" % exc
            with lock:
                if problem is None:
                    ok[0] += 1
                else:
                    failures.append("conn %d (%d bytes): %s" % (index, size, problem))

    threads = [threading.Thread(target=worker) for _ in range(max(1, parallel))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"ok": ok[0], "failures": failures}))
    sys.exit(0 if ok[0] == conns else 1)


if __name__ == "__main__":
    main()
