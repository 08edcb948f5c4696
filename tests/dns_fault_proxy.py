#!/usr/bin/python3
"""A DNS forwarder (UDP, loopback) that misbehaves for chosen names, for tests:
  dns_fault_proxy.py PORTFILE UPSTREAM_PORT DROP_LABEL CORRUPT_LABEL FLAGFILE [ONCE_LABEL]
Listens on a free port of 127.0.0.1 (written to PORTFILE) and forwards to
127.0.0.1@UPSTREAM_PORT, except: queries whose name has the label DROP_LABEL are never
answered (a zone that hangs); answers for names with the label CORRUPT_LABEL get a byte
of their last RRSIG's signature flipped while FLAGFILE exists (an attack on the path); a
TLSA question with the label ONCE_LABEL is answered the first time only (a server that goes
silent once it has served records with a TTL of 0), at the last millisecond of a second: a
resolver's cache keeps a TTL of 0 until the second ends, and the next lookup comes after."""
import os
import select
import socket
import sys
import time

portfile, upstream, drop, corrupt, flag = sys.argv[1:6]
once = sys.argv[6] if len(sys.argv) > 6 else None
asked = set()   # questions with the label ONCE_LABEL, lower case


def has_label(packet, label):
    label = label.lower().encode()
    return bytes([len(label)]) + label in packet[12:].lower()


def is_tlsa(packet):
    """Whether the (first) question asks for TLSA records."""
    i = 12
    while i < len(packet) and packet[i]:
        i += 1 + packet[i]
    return packet[i + 1:i + 3] == b"\x00\x34"


def flip_signature(answer):
    # The answer ends with the OPT record (11 bytes, no options); before it, the RRSIG.
    if len(answer) < 64 or answer[-11:-9] != b"\x00\x00" or answer[-10:-8] != b"\x00\x29":
        return answer
    i = len(answer) - 11 - 8
    return answer[:i] + bytes([answer[i] ^ 0x55]) + answer[i + 1:]


client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.bind(("127.0.0.1", 0))
up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
up.connect(("127.0.0.1", int(upstream)))
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % client.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
waiting = {}
while True:
    ready, _, _ = select.select([client, up], [], [])
    if client in ready:
        query, addr = client.recvfrom(65535)
        question = query[12:].lower()
        if once and has_label(query, once) and is_tlsa(query):
            if question in asked:
                continue
            asked.add(question)
        if len(query) > 12 and not has_label(query, drop):
            waiting[query[:2]] = addr
            up.send(query)
    if up in ready:
        answer = up.recv(65535)
        addr = waiting.pop(answer[:2], None)
        if addr and has_label(answer, corrupt) and os.path.exists(flag):
            answer = flip_signature(answer)
        if addr and once and has_label(answer, once) and is_tlsa(answer):
            time.sleep((0.9995 - time.time() % 1) % 1)
        if addr:
            client.sendto(answer, addr)
