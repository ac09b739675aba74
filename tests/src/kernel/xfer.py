#!/usr/bin/env python3
"""Bulk transfer endpoint on the kernel side: sends a file and hashes what it receives.

Usage: xfer.py connect|listen HOST PORT [--send FILE]

Sends FILE (if given) while receiving at the same time, shuts down its write side when the file
is sent, reads until the peer closes, then prints one JSON line on stdout. Without --send it
only receives, and closes after the peer's FIN (it does not half-close first), so that the
peer's sending is not cut short by a FIN it may treat as the end of the conversation.
The report:
  {"sent": N, "received": M, "sha256": "<hex of the received bytes>"}
In listen mode it prints "listening PORT" on stderr once the socket listens, and serves exactly
one connection. Exits 1 with the error on stderr if the connection fails.
"""
import hashlib
import json
import socket
import sys
import threading


def main():
    args = sys.argv[1:]
    send_path = None
    if "--send" in args:
        at = args.index("--send")
        send_path = args[at + 1]
        del args[at : at + 2]
    if len(args) != 3 or args[0] not in ("connect", "listen"):
        sys.exit(__doc__)
    mode, host, port = args[0], args[1], int(args[2])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    if mode == "listen":
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        print("listening %d" % listener.getsockname()[1], file=sys.stderr, flush=True)
        conn, _ = listener.accept()
        listener.close()
    else:
        conn = socket.create_connection((host, port), timeout=20)
    conn.settimeout(60)

    sent = [0]
    send_error = []

    def sender():
        if send_path is None:
            return
        try:
            with open(send_path, "rb") as f:
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    conn.sendall(block)
                    sent[0] += len(block)
            conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            send_error.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    digest = hashlib.sha256()
    received = 0
    try:
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
    except OSError as exc:
        thread.join()
        sys.exit("xfer.py: receive failed after %d bytes: %s" % (received, exc))
    thread.join()
    if send_error:
        sys.exit("xfer.py: send failed after %d bytes: %s" % (sent[0], send_error[0]))
    conn.close()
    print(json.dumps({"sent": sent[0], "received": received, "sha256": digest.hexdigest()}))


if __name__ == "__main__":
    main()
