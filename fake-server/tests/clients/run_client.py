"""A client for `fake-smtp run` tests: sends one message with smtplib to the server the
environment names (SMTP_HOST, SMTP_PORT), as an application's mail code would.

Usage: run_client.py MODE
  careful      a complete message (Date, Message-ID, MIME headers)
  no-date      a message without Date or Message-ID
  fail-after   sends a complete message, then exits 1 (a client that reports failure)
"""
import os
import smtplib
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

mode = sys.argv[1]
msg = EmailMessage()
msg["From"] = "Alice <alice@example.com>"
msg["To"] = "Bob <bob@example.org>"
msg["Subject"] = "hello from run"
if mode != "no-date":
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="example.com")
msg.set_content("Hello Bob.\n")
with smtplib.SMTP(os.environ["SMTP_HOST"], int(os.environ["SMTP_PORT"]), timeout=10) as smtp:
    smtp.send_message(msg)
print("sent")
sys.exit(1 if mode == "fail-after" else 0)
