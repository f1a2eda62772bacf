"""Sends one MIME message the way an application does, with Python's email and smtplib: a
To, a Cc and a Bcc recipient (smtplib's send_message puts the Bcc in the envelope only), a
text and an HTML body, an inline image the HTML shows by Content-ID, and a PDF attachment.

Usage: mime_send.py HOST PORT
Prints one JSON object: the parts sent, for the test to compare with what it parses.
"""
import base64
import json
import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid

host, port = sys.argv[1], int(sys.argv[2])

# A 1x1 PNG and a tiny PDF: binary content, base64 on the wire.
png = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
cid = make_msgid(domain="example.com")

msg = EmailMessage()
msg["From"] = "Alice <alice@example.com>"
msg["To"] = "Bob <bob@example.org>"
msg["Cc"] = "carol@example.org"
msg["Bcc"] = "dave@example.net"
msg["Subject"] = "Caf\u00e9 report"
msg.set_content("Hello Bob,\nthe report is attached.\n")
msg.add_alternative(
    f'<p>Hello Bob,</p><p><img src="cid:{cid[1:-1]}"></p>\n', subtype="html"
)
msg.get_payload()[1].add_related(png, "image", "png", cid=cid, filename="logo.png")
msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="report.pdf")

with smtplib.SMTP(host, port, timeout=10) as smtp:
    refused = smtp.send_message(msg)

print(
    json.dumps(
        {
            "refused": refused,
            "cid": cid[1:-1],
            "png": base64.b64encode(png).decode(),
            "pdf": base64.b64encode(pdf).decode(),
        }
    )
)
