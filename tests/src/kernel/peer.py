#!/usr/bin/env python3
"""A kernel TCP endpoint that the interop tests drive one step at a time.

Usage: peer.py listen HOST PORT | peer.py connect HOST PORT

Reads one command per line on stdin and answers with one line on stdout, so a test can put the
kernel socket exactly where it wants it (half-closed, closed, blocked in recv) and look at it
with ss in between. Payloads travel as hex so that any byte survives the line protocol.

Commands and answers:
  accept           -> "accepted HOST PORT"  (listen mode; the listener is closed afterwards)
  send HEX         -> "ok"
  recv_exact N     -> "data HEX", or "eof HEX" if the stream ended first
  recv_eof         -> "eof HEX" with everything up to end of stream
  shut_wr          -> "ok" (shutdown(SHUT_WR): the kernel sends FIN, reading still works)
  close            -> "ok"
  abort            -> "ok" (SO_LINGER 0, then close: the kernel sends RST)
  quit             -> exits
Failures answer "error ERRNO_NAME message" (for example "error ECONNRESET ...").
At start: "listening PORT" (listen mode) or "connected LOCALPORT" (connect mode), or an error.
"""
import errno
import socket
import struct
import sys


def say(line):
    print(line, flush=True)


def error_line(exc):
    name = errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
    return "error %s %s" % (name, exc)


def recv_until(sock, limit):
    """Reads until `limit` bytes (None: until end of stream). Returns (bytes, saw_eof)."""
    chunks = []
    got = 0
    while limit is None or got < limit:
        want = 65536 if limit is None else min(65536, limit - got)
        chunk = sock.recv(want)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks), False


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("listen", "connect"):
        sys.exit(__doc__)
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = None
    conn = None
    try:
        if mode == "listen":
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(8)
            say("listening %d" % listener.getsockname()[1])
        else:
            conn = socket.create_connection((host, port), timeout=20)
            conn.settimeout(None)
            say("connected %d" % conn.getsockname()[1])
    except OSError as exc:
        say(error_line(exc))
        return

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "accept":
                conn, addr = listener.accept()
                listener.close()
                say("accepted %s %d" % (addr[0], addr[1]))
            elif cmd == "send":
                conn.sendall(bytes.fromhex(args[0] if args else ""))
                say("ok")
            elif cmd == "recv_exact":
                data, eof = recv_until(conn, int(args[0]))
                say("%s %s" % ("eof" if eof else "data", data.hex()))
            elif cmd == "recv_eof":
                data, _ = recv_until(conn, None)
                say("eof %s" % data.hex())
            elif cmd == "shut_wr":
                conn.shutdown(socket.SHUT_WR)
                say("ok")
            elif cmd == "close":
                conn.close()
                say("ok")
            elif cmd == "abort":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                say("ok")
            elif cmd == "quit":
                return
            else:
                say("error EINVAL unknown command %r" % cmd)
        except OSError as exc:
            say(error_line(exc))


if __name__ == "__main__":
    main()
