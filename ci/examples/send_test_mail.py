"""An application's mail code, as a CI job would test it with `fake-smtp run`: one message
to the server named by SMTP_HOST and SMTP_PORT, a complete message (Date, Message-ID), and
the usual care: a transient failure (4yz) is retried a few times, a permanent one (5yz) is
reported, and the exit status says which.

It drives MAIL, RCPT and DATA itself instead of calling `send_message`: smtplib's
`sendmail` takes any RCPT reply other than 250 or 251 as a refusal, so a `252` (accepted,
not verified) makes it give up without sending, where RFC 5321 §4.2 asks a client to read
the first digit only (the `basic` suite's rcpt-252 scenario shows it; docs/clients.md).
"""
import email.policy
import os
import smtplib
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
PORT = int(os.environ.get("SMTP_PORT", "1025"))


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "CI <ci@example.com>"
    msg["To"] = "Team <team@example.org>"
    msg["Subject"] = "Build report"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content("The build passed.\n")
    return msg


SENDER = "ci@example.com"
RECIPIENTS = ["team@example.org"]


def send_once() -> None:
    """One attempt; raises smtplib's exceptions as `sendmail` would."""
    with smtplib.SMTP(HOST, PORT, local_hostname="ci.example.com", timeout=30) as smtp:
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(SENDER)
        if code // 100 != 2:
            raise smtplib.SMTPSenderRefused(code, reply, SENDER)
        refused = {}
        for recipient in RECIPIENTS:
            code, reply = smtp.rcpt(recipient)
            if code // 100 != 2:
                refused[recipient] = (code, reply)
        if len(refused) == len(RECIPIENTS):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
        # policy.SMTP: CRLF line ends. `data()` sends bytes as they are, and the default
        # policy's LF would arrive as bare LFs (C-5321-NO-BARE-CR-LF).
        code, reply = smtp.data(message().as_bytes(policy=email.policy.SMTP))
        if code // 100 != 2:
            raise smtplib.SMTPDataError(code, reply)
        if refused:
            print(f"refused recipients: {refused}")


def main() -> int:
    for attempt in range(1, 6):
        try:
            send_once()
            print("sent")
            return 0
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                print(f"attempt {attempt}: transient failure {error.smtp_code}, retrying")
                time.sleep(1.5)
                continue
            print(f"permanent failure: {error.smtp_code} {error.smtp_error!r}")
            return 1
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if all(400 <= code < 500 for code in codes):
                print(f"attempt {attempt}: recipients deferred, retrying")
                time.sleep(1.5)
                continue
            print(f"recipients refused: {error.recipients}")
            return 1
        except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
            print(f"attempt {attempt}: connection lost ({error}), retrying")
            time.sleep(1.5)
    print("gave up after 5 attempts")
    return 1


if __name__ == "__main__":
    sys.exit(main())
