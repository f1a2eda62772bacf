"""Drives the web sink with the PyPI package mailpit-api-client, unchanged, as a pytest or
unittest suite written for Mailpit would: send mail with smtplib, then list, open, read the
headers and an attachment, mark read, and delete through the client's API object.

Usage: mailpit_client.py SMTP_PORT HTTP_URL. Prints one line per step; exits non-zero on any
failure (an exception from the client, or a value that is not what was sent)."""

import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid, formatdate

import mailpit.client.api as api
import mailpit.client.models as models

smtp_port = int(sys.argv[1])
client = api.API(sys.argv[2], timeout=10)


def send(subject, attachment=None):
    message = EmailMessage()
    message["From"] = "Sender <sender@example.com>"
    message["To"] = "Ann <ann@example.org>"
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="example.com")
    # The client's Headers model requires Delivered-To, which Mailpit shows only when the
    # mail carries it; this sink adds one per envelope recipient, as a delivery agent does.
    message.set_content(f"Body of {subject}\n")
    if attachment:
        message.add_attachment(attachment, maintype="text", subtype="plain", filename="notes.txt")
    with smtplib.SMTP("127.0.0.1", smtp_port) as s:
        s.send_message(message)
    return message["Message-ID"].strip("<>")


first = send("first")
second = send("second, with an attachment", attachment=b"attached text\n")

messages = client.get_messages()
assert isinstance(messages, models.Messages), messages
assert messages.total == 2 and messages.unread == 2, messages
assert [m.message_id for m in messages.messages] == [second, first], messages
print("get_messages: ok")

page = client.get_messages(limit=1, start=1)
assert [m.message_id for m in page.messages] == [first] and page.start == 1, page
print("get_messages(limit, start): ok")

summary = messages.messages[0]
full = client.get_message(summary.id)
assert full.subject == "second, with an attachment", full
assert full.from_.address == "sender@example.com" and full.from_.name == "Sender", full.from_
assert full.to[0].address == "ann@example.org", full.to
assert full.text.startswith("Body of second"), full.text
assert len(full.attachments) == 1 and full.attachments[0].file_name == "notes.txt", full.attachments
print("get_message: ok")

headers = client.get_message_headers(summary.id)
assert headers.delivered_to == ["ann@example.org"], headers.delivered_to
assert headers.message_id == [f"<{second}>"], headers.message_id
print("get_message_headers: ok")

content = client.get_message_attachment(summary.id, full.attachments[0].part_id)
assert content == "attached text\n", repr(content)
print("get_message_attachment: ok")

client.put_messages([messages.messages[1].id], "Read", True)
after = client.get_messages()
assert after.unread == 0, after  # the second was read by get_message, the first now
print("put_messages: ok")

client.delete_messages([messages.messages[1].id])
left = client.get_messages()
assert [m.message_id for m in left.messages] == [second], left
print("delete_messages(ids): ok")

client.delete_messages([])
assert client.get_messages().total == 0
print("delete_messages([]): ok")
