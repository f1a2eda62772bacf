#!/usr/bin/env python3
"""Sends messages over implicit TLS in one session, for ci/bench.sh's stalled-TLS row.

Usage: tls_send.py HOST PORT CA_FILE COUNT

Prints "sent=N seconds=S" on stdout; exits 1 on any failure (a refused message included).
Loopback only.
"""

import smtplib
import ssl
import sys
import time

BODY = "Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * 12


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    host, port, ca_file, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if host not in ("127.0.0.1", "::1"):
        sys.exit("loopback addresses only")
    context = ssl.create_default_context(cafile=ca_file)
    # The server's certificate names localhost; the address is given to avoid any lookup.
    context.check_hostname = False
    start = time.monotonic()
    with smtplib.SMTP_SSL(host, port, context=context, timeout=30) as client:
        client.ehlo("bench.example")
        # The implicit-TLS listener asks for AUTH; with no scenario any user and password pass.
        client.login("bench", "bench")
        for _ in range(count):
            client.sendmail("a@bench.example", ["b@bench.example"], BODY)
    print(f"sent={count} seconds={time.monotonic() - start:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
