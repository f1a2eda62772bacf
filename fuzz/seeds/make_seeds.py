#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus/<target>/ from real material: client dialogs and
replies from the snapshot transcripts, the built-in scenarios, real messages. Run once when
a target is added (then `ci/fuzz.sh` with FUZZ_UPDATE_CORPUS=1 grows and `cargo fuzz cmin`
trims the corpus). Each target's input format is in its doc comment."""
import hashlib, os, re, struct, pathlib

root = pathlib.Path(__file__).resolve().parents[2]
corpus = root / "fuzz" / "corpus"

def put(target, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)

snaps = ["default@auth", "default@relay", "default@submission", "real-mta__postfix@relay",
         "providers__gmail__multiline-535@auth", "providers__qq__quit-garbage@relay",
         "suites__basic__multiline-replies@relay", "suites__submission__oauth-error-challenge@auth",
         "providers__zoho__split-ehlo-packets@relay", "behaviours__tarpit@relay"]
dialogs, replies, lines = [], [], set()
for name in snaps:
    text = (root / "snapshots" / (name + ".snap")).read_text()
    for session in text.split("=== client, session")[1:8]:
        client = [l[3:] for l in session.splitlines() if l.startswith("C: ")]
        server = [l[3:] for l in session.splitlines() if l.startswith("S: ")]
        lines.update(client)
        dialogs.append("".join(c + "\r\n" for c in client).encode())
        # Group server lines into replies (a reply ends at "NNN ").
        cur = []
        for s in server:
            cur.append(s)
            if len(s) < 4 or s[3] != "-":
                replies.append("".join(c + "\r\n" for c in cur).encode())
                cur = []

message = (b"From: Alice <a@example.com>\r\nTo: b@example.org\r\nSubject: =?utf-8?B?5Lit5paH?=\r\n"
           b"Date: Mon, 6 Apr 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9llo\r\n..dot line\r\n--b1\r\n"
           b"Content-Type: application/octet-stream; name*=utf-8''%E4%B8%AD.bin\r\n"
           b"Content-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"AAECAw==\r\n--b1--\r\n")
messages = [message, b"Subject: hi\r\n\r\nbody\n.\nnot the end\r\n", b"From: a@b\r\n\r\n\x00\xff\r\n"]

for l in sorted(lines)[:60]:
    put("command", l.encode())
for r in replies[:40]:
    put("reply", b"\x00" + r)
for d in dialogs[:12]:
    put("framing", struct.pack("<HB", 512, 7) + d)
for i, m in enumerate(messages):
    stuffed = re.sub(rb"(^|\r\n)\.", rb"\1..", m) + b".\r\nQUIT\r\n"
    put("data_decoder", struct.pack("<HHB", 0, 1000, 5 * i) + stuffed)
    put("data_decoder", struct.pack("<HHB", 100, 78, 3) + stuffed)
    half = len(m) // 2
    put("bdat_chunks", struct.pack("<HHBBHH", 0, 1000, 9, 2, half, len(m) - half) + m)
    put("judge_message", bytes([i * 2]) + m)
# Settings: all flags but implicit TLS, every mechanism, defaults, every extension, SIZE 64 KiB-1.
settings = bytes([0b0111110, 0x7f, 0x01]) + struct.pack("<HHB", 0x1ff, 0xffff, 100)
plain = settings
for d in dialogs[:10]:
    cut = d.replace(b"STARTTLS\r\n", b"STARTTLS\r\n\xff\xfeT").replace(b"\r\n.\r\n", b"\r\n.\r\n\xff\xfeS")
    put("session_default", settings + cut)
put("session_default", settings + b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 6 LAST\r\nhi\r\n.\r\n\xff\xfeDRSET\r\nQUIT\r\n")
put("session_default", bytes([1, 0x7f, 0x21]) + struct.pack("<HHB", 0x1ff, 0, 1) + b"EHLO c\r\nAUTH PLAIN AHVzZXIAcGVuY2ls\r\n\xff\xfe|MAIL FROM:<a@b>\r\n\xff\xfeC")
for i, d in enumerate(dialogs[:8]):
    put("session_scenario", bytes([i * 9, i]) + settings + d.replace(b"\r\n.\r\n", b"\r\n.\r\n\xff\xfeS\xff\xfeW"))
for path in sorted((root / "scenarios").rglob("*.yaml"))[::4]:
    put("scenario", path.read_bytes())
