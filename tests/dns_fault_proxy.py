#!/usr/bin/python3
"""A DNS forwarder (UDP, loopback) that misbehaves for chosen names, for tests:
  dns_fault_proxy.py PORTFILE UPSTREAM_PORT DROP_LABEL CORRUPT_LABEL FLAGFILE
Listens on a free port of 127.0.0.1 (written to PORTFILE) and forwards to
127.0.0.1@UPSTREAM_PORT, except: queries whose name has the label DROP_LABEL are never
answered (a zone that hangs); answers for names with the label CORRUPT_LABEL get a byte
of their last RRSIG's signature flipped while FLAGFILE exists (an attack on the path)."""
import os
import select
import socket
import sys

portfile, upstream, drop, corrupt, flag = sys.argv[1:6]


def has_label(packet, label):
    label = label.lower().encode()
    return bytes([len(label)]) + label in packet[12:].lower()


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
        if len(query) > 12 and not has_label(query, drop):
            waiting[query[:2]] = addr
            up.send(query)
    if up in ready:
        answer = up.recv(65535)
        addr = waiting.pop(answer[:2], None)
        if addr and has_label(answer, corrupt) and os.path.exists(flag):
            answer = flip_signature(answer)
        if addr:
            client.sendto(answer, addr)
