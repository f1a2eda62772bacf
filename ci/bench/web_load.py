"""Fills the web sink with N messages of 10 KiB over SMTP (several sessions at once, many
messages per session), waits until the API lists them all, then times list and search
requests: REPS of each, each on a new connection, p50 and p95 in milliseconds. Last, one SMTP
client's rate and reply times (1 KiB messages, one session) with the API idle, then while
another client runs searches back to back: a long API request must not hold up SMTP replies.

Usage: web_load.py SMTP_HOST:PORT HTTP_HOST:PORT N REPS"""

import http.client
import json
import smtplib
import statistics
import sys
import threading
import time

smtp_host, smtp_port = sys.argv[1].rsplit(":", 1)
http_host, http_port = sys.argv[2].rsplit(":", 1)
total, reps = int(sys.argv[3]), int(sys.argv[4])
SESSIONS = 8
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def body(n):
    text = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(1700))
    lines = [text[i : i + 76] for i in range(0, len(text), 76)]
    return (
        f"From: Sender {n % 97} <sender{n % 97}@example.com>\r\nTo: user{n % 13}@example.org\r\n"
        f"Subject: Message {n} about {WORDS[n % len(WORDS)]}\r\nMessage-ID: <m{n}@example.com>\r\n"
        f"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\ncode {n:06d}\r\n" + "\r\n".join(lines) + "\r\n"
    )[:10240]


def send(first, count):
    with smtplib.SMTP(smtp_host, int(smtp_port)) as s:
        for n in range(first, first + count):
            s.sendmail(f"sender{n % 97}@example.com", [f"user{n % 13}@example.org"], body(n))


def get(path):
    conn = http.client.HTTPConnection(http_host, int(http_port), timeout=60)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return response.status, data, elapsed


for _ in range(100):
    try:
        get("/api/v1/info")
        break
    except OSError:
        time.sleep(0.1)
started = time.time()
per = total // SESSIONS
threads = [threading.Thread(target=send, args=(i * per, per)) for i in range(SESSIONS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
while json.loads(get("/api/v1/messages?limit=1")[1])["total"] < per * SESSIONS:
    time.sleep(0.2)
print(f"filled: {per * SESSIONS} messages of 10 KiB in {time.time() - started:.1f} s")

queries = [
    ("list, first page", "/api/v1/messages"),
    ("list, last page", f"/api/v1/messages?start={per * SESSIONS - 50}"),
    ("search from:", "/api/v1/search?query=from%3Asender42"),
    ("search subject:", "/api/v1/search?query=subject%3Ajuliet"),
    ("search free text, hit", "/api/v1/search?query=code%20031415"),
    ("search free text, miss", "/api/v1/search?query=zzzznotthere"),
    ("search is:unread", "/api/v1/search?query=is%3Aunread"),
]
print(f"{'request':28} {'p50 ms':>8} {'p95 ms':>8} {'matches':>8}")
for label, path in queries:
    times = []
    matches = None
    for _ in range(reps):
        status, data, elapsed = get(path)
        assert status == 200, (path, status, data[:200])
        matches = json.loads(data)["messages_count"]
        times.append(elapsed)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label:28} {statistics.median(times):8.1f} {p95:8.1f} {matches:8}")


# Its subject starts as the fill's do: bench-web.sh's UI timing waits for "Message " in the
# first page, which these messages then fill.
SMALL = (
    "From: rate@example.com\r\nTo: user@example.org\r\nSubject: Message of the rate probe\r\n\r\n"
    + "x" * 1000
    + "\r\n"
)


def smtp_rate(label, seconds=3.0):
    """One SMTP session sending for `seconds`: its rate and each message's time."""
    times = []
    with smtplib.SMTP(smtp_host, int(smtp_port)) as s:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            s.sendmail("rate@example.com", ["user@example.org"], SMALL)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(
        f"{label:40} {len(times) / seconds:7.0f} msg/s  p50 {statistics.median(times):6.2f} ms"
        f"  p99 {p99:6.2f} ms  max {times[-1]:6.1f} ms"
    )


searching = threading.Event()


def search_loop():
    while searching.is_set():
        get("/api/v1/search?query=zzzznotthere")


print()
smtp_rate("one SMTP client, API idle")
searching.set()
searcher = threading.Thread(target=search_loop)
searcher.start()
smtp_rate("one SMTP client, searches back to back")
searching.clear()
searcher.join()
