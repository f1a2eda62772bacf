#!/usr/bin/env python3
"""Opens many connections to a server and holds them, for ci/bench.sh's load rows.

Usage: hold_connections.py MODE HOST PORT COUNT READY_FILE

MODE:
  idle       plain SMTP: connect, read the 220 greeting, then send nothing.
  stall-tls  implicit TLS: connect and send nothing (even-numbered connections) or the first
             octets of a ClientHello whose record says more is coming (odd-numbered ones), so
             that every handshake stalls.

When all COUNT connections are open (and, for idle, greeted), it writes READY_FILE with
"open=N closed_early=M" and waits until SIGTERM; then it reports on stderr how many
connections the server had closed meanwhile, and exits 0. Exits 1 if a connection cannot be
opened. Loopback only: the host must be 127.0.0.1 or ::1.
"""

import os
import selectors
import signal
import socket
import sys

# A TLS record header (handshake, TLS 1.0 record version, 512 octets to follow) and the
# start of a ClientHello (type 1, length 508, version 3.3) and part of its random: the
# server has read a valid prefix and waits for the rest, which never comes.
PARTIAL_CLIENT_HELLO = bytes.fromhex("1603010200" "010001fc" "0303") + bytes(range(16))


def connect(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect((host, port))
    return sock


def read_greeting(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(512)
        if not chunk:
            raise ConnectionError("closed before the greeting")
        data += chunk
    if not data.startswith(b"220"):
        raise ConnectionError(f"greeting was {data[:80]!r}")


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    mode, host, port, count, ready_file = sys.argv[1:]
    port, count = int(port), int(count)
    if host not in ("127.0.0.1", "::1"):
        sys.exit("loopback addresses only")
    if mode not in ("idle", "stall-tls"):
        sys.exit(f"unknown mode {mode}")

    stop = False

    def on_term(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    socks = []
    for i in range(count):
        try:
            sock = connect(host, port)
            if mode == "idle":
                read_greeting(sock)
            elif i % 2 == 1:
                sock.sendall(PARTIAL_CLIENT_HELLO)
        except OSError as error:
            print(f"hold_connections: connection {i}: {error}", file=sys.stderr)
            return 1
        sock.setblocking(False)
        socks.append(sock)

    # A connection the server closes becomes readable (EOF); count those.
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    closed = 0

    def drain(timeout):
        nonlocal closed
        for key, _ in selector.select(timeout):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed += 1
                selector.unregister(key.fileobj)

    drain(0)
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"open={len(socks) - closed} closed_early={closed}\n")
    os.rename(tmp, ready_file)
    while not stop:
        drain(0.2)
    print(f"hold_connections: {mode}: {count} opened, {closed} closed by the server", file=sys.stderr)
    for sock in socks:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
