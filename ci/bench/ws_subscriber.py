"""A browser-less subscriber of the web sink's events WebSocket (/api/events), for the
benchmark: it connects, reads every frame and counts the `new` events, so that the server
pays for building and sending each event as it does with a UI open. Stdlib only.

Usage: ws_subscriber.py HOST:PORT. On SIGTERM it prints `ws-subscriber: N new events` to
stderr and exits 0."""

import base64
import os
import signal
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
new_events = 0


def stop(*_):
    print(f"ws-subscriber: {new_events} new events", file=sys.stderr, flush=True)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)

for attempt in range(100):
    try:
        sock = socket.create_connection((host, int(port)))
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit(f"ws-subscriber: cannot connect to {host}:{port}")
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(
    f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
)
buffer = b""
while b"\r\n\r\n" not in buffer:
    chunk = sock.recv(4096)
    if not chunk:
        sys.exit("ws-subscriber: closed during the handshake")
    buffer += chunk
head, rest = buffer.split(b"\r\n\r\n", 1)
if not head.startswith(b"HTTP/1.1 101"):
    sys.exit(f"ws-subscriber: no upgrade: {head[:100]!r}")

# Frames are read from one growing buffer with a read position: no octet is copied more
# than once. (Slicing a bytes buffer per frame and concatenating per chunk copied the
# buffer's remainder every time, quadratic in the server's gathered frames: about 1 us a
# message of this process's CPU under row C's load, taken from the server's two CPUs.)
buffer = bytearray(rest)
position = 0
COMPACT_AT = 1 << 20


def need(n):
    """Reads until `n` octets are there from `position`."""
    global buffer, position
    while len(buffer) - position < n:
        chunk = sock.recv(1 << 20)
        if not chunk:
            stop()
        buffer += chunk


NEW_EVENT = b'"Type":"new"'
while True:
    need(2)
    length = buffer[position + 1] & 0x7F
    offset = 2
    if length == 126:
        need(4)
        length = int.from_bytes(buffer[position + 2 : position + 4], "big")
        offset = 4
    elif length == 127:
        need(10)
        length = int.from_bytes(buffer[position + 2 : position + 10], "big")
        offset = 10
    need(offset + length)
    start = position + offset
    position = start + length
    new_events += buffer.count(NEW_EVENT, start, position)
    if position >= COMPACT_AT:
        del buffer[:position]
        position = 0
