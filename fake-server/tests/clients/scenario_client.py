"""Drives the fake server with Python's smtplib, the way applications do, and reports what
smtplib made of it as one JSON object.

Usage: scenario_client.py HOST PORT ACTION [options]
ACTION: send   connect, EHLO, (login), sendmail, QUIT, all inside `with smtplib.SMTP(...)`
        helo   connect, HELO, report the reply, QUIT
        rset   send one message, then RSET on the same connection
        login  connect, EHLO, login
Options: --from A  --to A[,B...]  --body-size N  --login USER PASSWORD  --count N
         --force-auth MECHS (pretend EHLO offered AUTH MECHS)
"""
import argparse
import json
import smtplib
import sys

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("action")
parser.add_argument("--from", dest="sender", default="alice@example.com")
parser.add_argument("--to", default="bob@example.org")
parser.add_argument("--body-size", type=int, default=20)
parser.add_argument("--login", nargs=2)
parser.add_argument("--count", type=int, default=1)
parser.add_argument("--force-auth")
args = parser.parse_args()


def error_json(e):
    out = {"type": type(e).__name__}
    if isinstance(e, smtplib.SMTPResponseException):
        out["code"] = e.smtp_code
        out["message"] = e.smtp_error.decode("latin-1") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    elif isinstance(e, smtplib.SMTPRecipientsRefused):
        out["recipients"] = {k: [v[0], v[1].decode("latin-1")] for k, v in e.recipients.items()}
    else:
        out["message"] = str(e)
    return out


def message():
    return ("From: %s\r\nTo: %s\r\nSubject: scenario test\r\n\r\n" % (args.sender, args.to)) + "x" * args.body_size + "\r\n"


result = {"sent": 0}
try:
    with smtplib.SMTP(args.host, args.port, timeout=20) as smtp:
        if args.action == "helo":
            result["helo"] = [smtp.helo()[0], smtp.helo_resp.decode("latin-1")]
        else:
            smtp.ehlo()
            if args.force_auth:
                smtp.esmtp_features["auth"] = args.force_auth
            if args.login:
                smtp.login(*args.login)
                result["logged_in"] = True
            if args.action in ("send", "rset"):
                for _ in range(args.count):
                    refused = smtp.sendmail(args.sender, args.to.split(","), message())
                    result["refused"] = {k: [v[0], v[1].decode("latin-1")] for k, v in refused.items()}
                    result["sent"] += 1
            if args.action == "rset":
                code, text = smtp.rset()
                result["rset"] = [code, text.decode("latin-1")]
    result["ok"] = True
except Exception as e:  # report every failure, as data
    result["ok"] = False
    result["error"] = error_json(e)
print(json.dumps(result))
