"""Sends mail to the fake server with Python's smtplib, in one of several ways.

Usage: smtplib_send.py HOST PORT MODE
Prints one JSON object: what smtplib reported.
"""
import json
import smtplib
import sys
from email.message import EmailMessage

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
result = {}

with smtplib.SMTP(host, port, timeout=10) as smtp:
    if mode == "one":
        msg = EmailMessage()
        msg["From"] = "alice@example.com"
        msg["To"] = "bob@example.org"
        msg["Subject"] = "hello from smtplib"
        msg.set_content("Hello Bob.\n.a line starting with a dot\n")
        result["refused"] = smtp.send_message(msg)
    elif mode == "many-recipients":
        rcpts = [f"user{i}@example.org" for i in range(150)]
        body = "From: alice@example.com\r\nSubject: to many\r\n\r\nhi all\r\n"
        result["refused"] = smtp.sendmail("alice@example.com", rcpts, body)
    elif mode == "eightbit":
        smtp.ehlo()
        assert smtp.has_extn("8bitmime"), "8BITMIME not advertised"
        body = "From: alice@example.com\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé crème, naïve façade\r\n".encode("utf-8")
        result["refused"] = smtp.sendmail("alice@example.com", ["bob@example.org"], body, mail_options=["BODY=8BITMIME"])
    elif mode == "smtputf8":
        smtp.ehlo()
        assert smtp.has_extn("smtputf8"), "SMTPUTF8 not advertised"
        msg = EmailMessage()
        msg["From"] = "用户@例子.广告"
        msg["To"] = "δοκιμή@παράδειγμα.δοκιμή"
        msg["Subject"] = "unicode everywhere"
        msg.set_content("Γειά σου κόσμε\n")
        # send_message adds SMTPUTF8 and BODY=8BITMIME itself for non-ASCII addresses.
        result["refused"] = smtp.send_message(msg)
    elif mode == "too-big":
        try:
            smtp.sendmail("alice@example.com", ["bob@example.org"], "Subject: big\r\n\r\n" + "x" * 5000 + "\r\n")
            result["error"] = None
        except smtplib.SMTPSenderRefused as e:
            result["error"] = [e.smtp_code, e.smtp_error.decode()]
        except smtplib.SMTPDataError as e:
            result["error"] = [e.smtp_code, e.smtp_error.decode()]
        result["noop"] = smtp.noop()[0]
    else:
        raise SystemExit(f"unknown mode {mode}")

print(json.dumps(result))
