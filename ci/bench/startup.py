#!/usr/bin/env python3
"""Start-up timing for ci/bench-startup.sh: exec to `listening` and to a readable 220.

For each server, each run starts it fresh on free loopback ports and measures, from just
before exec: when it first accepts a connection and the client has read a 220 greeting (all
servers), and when fake-smtp printed its `listening` event for the last of its three
listeners (fake-smtp only). fake-smtp runs twice: with its data directory (and the CA in
it) already made, which is every start after the first, and with a new empty one each time
(the CA is generated).
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
FAKE = os.environ["BENCH_FAKE_BIN"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def greeted(port, started, deadline=10.0):
    """Seconds from `started` until a 220 is read on port."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(512)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"220"):
                    return time.perf_counter() - started
        except OSError:
            pass
        if time.perf_counter() - started > deadline:
            raise RuntimeError(f"no greeting on port {port}")
        time.sleep(0.0002)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_fake(data_dir):
    ports = [free_port(), free_port(), free_port()]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [FAKE, "serve", "--smtp", f"127.0.0.1:{ports[0]}", "--submission",
         f"127.0.0.1:{ports[1]}", "--smtps", f"127.0.0.1:{ports[2]}", "--json", "--quiet",
         "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    listening = 0
    for line in proc.stdout:
        if '"event":"listening"' in line:
            listening += 1
            if listening == 3:
                break
    at_listening = time.perf_counter() - started
    at_greeting = greeted(ports[0], started)
    stop(proc)
    return at_listening, at_greeting


def run_sink():
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "128"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at = greeted(port, started)
    stop(proc)
    return None, at


def run_aiosmtpd():
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at = greeted(port, started)
    stop(proc)
    return None, at


def summary(values):
    values = sorted(v * 1000 for v in values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"{statistics.median(values):.1f} ({p90:.1f})"


def main():
    warm = tempfile.mkdtemp(prefix="fake-smtp-startup-")
    run_fake(warm)  # makes the CA once
    results = {name: [] for name in ("fake-warm", "fake-cold", "sink", "aiosmtpd")}
    for _ in range(RUNS):
        results["fake-warm"].append(run_fake(warm))
        cold = tempfile.mkdtemp(prefix="fake-smtp-startup-cold-")
        results["fake-cold"].append(run_fake(cold))
        shutil.rmtree(cold, ignore_errors=True)
        results["sink"].append(run_sink())
        results["aiosmtpd"].append(run_aiosmtpd())
    shutil.rmtree(warm, ignore_errors=True)
    print("| server | exec to listening (all listeners) | exec to first 220 read |")
    print("| --- | ---: | ---: |")
    rows = [
        ("fake-smtp, 3 listeners (TLS on 2), CA already made", "fake-warm"),
        ("fake-smtp, 3 listeners, first start (CA generated)", "fake-cold"),
        ("smtp-sink (Postfix 3.7), 1 listener", "sink"),
        ("aiosmtpd 1.4.6 (python3 -m aiosmtpd -n), 1 listener", "aiosmtpd"),
    ]
    for label, key in rows:
        listening = [l for l, _ in results[key] if l is not None]
        greeting = [g for _, g in results[key]]
        print(f"| {label} | {summary(listening) if listening else '-'} | {summary(greeting)} |")


if __name__ == "__main__":
    main()
