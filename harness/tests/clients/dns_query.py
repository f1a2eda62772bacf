#!/usr/bin/env python3
"""A DNS client independent of hickory, for the harness's DNS tests.

Python's standard library has no DNS client, so this builds one query by hand (RFC 1035 §4.1)
with struct and socket, sends it over UDP or TCP (two-octet length prefix, RFC 1035 §4.2.2),
and prints one line about each answer:

    id=ok qr=1 aa=1 tc=0 rcode=0 answers=MX 10 mx1.test.example|A 127.0.0.2 authority=SOA

Usage: dns_query.py HOST PORT QUERY...
where each QUERY is TRANSPORT/NAME/TYPE: TRANSPORT udp or tcp, TYPE A, AAAA, MX, SOA or a
number. Several queries per run, because starting Python is the slow part.
"""

import ipaddress
import random
import socket
import struct
import sys

TYPES = {"A": 1, "SOA": 6, "MX": 15, "AAAA": 28}
NAMES = {number: name for name, number in TYPES.items()}


def build_query(qid, name, qtype):
    # Header: id, flags (RD=0: the server is authoritative), 1 question, 0 records.
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    qname = b"".join(
        bytes([len(label)]) + label.encode("ascii") for label in name.strip(".").split(".")
    ) + b"\x00"
    return header + qname + struct.pack("!HH", qtype, 1)


def read_name(message, offset):
    """The name at offset (following compression pointers) and the offset after it."""
    labels = []
    end = None
    for _ in range(128):  # a loop guard: pointers may not loop
        length = message[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack("!H", message[offset : offset + 2])[0] & 0x3FFF
            if end is None:
                end = offset + 2
            offset = pointer
            continue
        offset += 1
        if length == 0:
            break
        labels.append(message[offset : offset + length].decode("ascii"))
        offset += length
    else:
        raise ValueError("name compression loop")
    return ".".join(labels) or ".", (end if end is not None else offset)


def read_record(message, offset):
    name, offset = read_name(message, offset)
    rtype, _rclass, _ttl, rdlength = struct.unpack("!HHIH", message[offset : offset + 10])
    offset += 10
    rdata = message[offset : offset + rdlength]
    if rtype == 1:
        text = "A " + str(ipaddress.IPv4Address(rdata))
    elif rtype == 28:
        text = "AAAA " + str(ipaddress.IPv6Address(rdata))
    elif rtype == 15:
        preference = struct.unpack("!H", rdata[:2])[0]
        exchange, _ = read_name(message, offset + 2)
        text = "MX %d %s" % (preference, exchange)
    else:
        text = NAMES.get(rtype, str(rtype))
    return text, offset + rdlength


def exchange(host, port, transport, query):
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(query, (host, port))
            return s.recv(65535)
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                raise EOFError("connection closed mid-answer")
            data += chunk
        return data[2:]


def describe(message, qid):
    rid, flags, qdcount, ancount, nscount, _arcount = struct.unpack("!HHHHHH", message[:12])
    offset = 12
    for _ in range(qdcount):
        _, offset = read_name(message, offset)
        offset += 4
    answers = []
    for _ in range(ancount):
        text, offset = read_record(message, offset)
        answers.append(text)
    authority = []
    for _ in range(nscount):
        text, offset = read_record(message, offset)
        authority.append(text.split(" ")[0])
    return "id=%s qr=%d aa=%d tc=%d rcode=%d answers=%s authority=%s" % (
        "ok" if rid == qid else "mismatch",
        flags >> 15,
        (flags >> 10) & 1,
        (flags >> 9) & 1,
        flags & 0xF,
        "|".join(answers),
        "|".join(authority),
    )


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    for query in sys.argv[3:]:
        transport, name, qtype = query.split("/")
        qtype = TYPES.get(qtype.upper()) or int(qtype)
        qid = random.randrange(0x10000)
        message = exchange(host, port, transport, build_query(qid, name, qtype))
        print(describe(message, qid))


if __name__ == "__main__":
    main()
