"""Reads a Maildir with Python's mailbox module, as a mail reader would, and reports what it
found: per message its header fields, the parser's defects, and whether a line ends in CR.

Usage: maildir_read.py DIR
Prints one JSON object: {"messages": [{"key", "headers", "return_path", "original_to",
"subject", "defects", "cr_line_ends", "attachments"}]}.
"""
import json
import mailbox
from email.header import decode_header, make_header
import sys

box = mailbox.Maildir(sys.argv[1], create=False)
messages = []
for key, msg in box.items():
    defects = [type(d).__name__ for d in msg.defects]
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
    with box.get_file(key) as f:
        octets = f.read()
    messages.append(
        {
            "key": key,
            "headers": [[name, str(value)] for name, value in msg.items()],
            "return_path": msg.get("Return-Path"),
            "original_to": msg.get_all("X-Original-To", []),
            "subject": str(make_header(decode_header(msg.get("Subject", "")))),
            "defects": defects,
            "cr_line_ends": b"\r\n" in octets,
            "attachments": [p.get_filename() for p in msg.walk() if p.get_filename()],
        }
    )
print(json.dumps({"messages": messages}))
