"""Parses messages back with Python's email package (policy=default), for the round-trip
tests: argv[1] is a folder to write decoded payloads into, the rest are .eml files. Prints
one JSON object per message: its header fields (and those of embedded messages), and every
leaf part in document order with its type, charset, file name, Content-ID and the file
holding its decoded octets (text: the decoded characters as UTF-8)."""

import email
import email.policy
import json
import os
import sys


def utf8(text):
    """Raw UTF-8 in header fields (RFC 6532) comes back as surrogate escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8")


def address(header):
    if header is None:
        return []
    return [
        {"name": utf8(a.display_name) if a.display_name else None, "address": utf8(a.addr_spec)}
        for a in header.addresses
    ]


def filename(part):
    disposition = part.get("content-disposition")
    if disposition is not None and "filename" in disposition.params:
        # The header object decodes RFC 2231 and, with a defect noted, the legacy
        # encoded-words inside a quoted parameter.
        return utf8(disposition.params["filename"])
    name = part.get_filename()
    return utf8(name) if name else None


def main():
    out_dir = sys.argv[1]
    for n, path in enumerate(sys.argv[2:]):
        with open(path, "rb") as f:
            message = email.message_from_binary_file(f, policy=email.policy.default)
        headers = []
        leaves = []
        for part in message.walk():
            if isinstance(part, email.message.EmailMessage) and part.get("message-id"):
                headers.append(
                    {
                        "subject": utf8(str(part.get("subject", ""))),
                        "from": address(part.get("from")),
                        "to": address(part.get("to")),
                    }
                )
            if part.is_multipart():
                continue
            maintype = part.get_content_maintype()
            if maintype == "text":
                octets = part.get_content().encode("utf-8")
            else:
                octets = part.get_payload(decode=True) or b""
            payload = os.path.join(out_dir, f"{n}-{len(leaves)}.bin")
            with open(payload, "wb") as f:
                f.write(octets)
            cid = part.get("content-id")
            leaves.append(
                {
                    "type": part.get_content_type(),
                    "charset": part.get_content_charset() if maintype == "text" else None,
                    "filename": filename(part),
                    "content_id": str(cid).strip().strip("<>") if cid else None,
                    "payload": payload,
                    "cte": part.get("content-transfer-encoding", "7bit").strip().lower(),
                    "defects": [type(d).__name__ for d in part.defects],
                }
            )
        print(json.dumps({"path": path, "headers": headers, "leaves": leaves}))


main()
