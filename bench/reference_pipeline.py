#!/usr/bin/python3
"""Part 4: the reference system's pipeline, timed: messages/s for seal + open.

As the reference does it (tests/interop/reference.py: sign_and_encrypt(),
decrypt_and_verify(), python3-jwcrypto): for every message the sender reloads its
private key from PEM and looks up the recipient's certificate in DNS, and the receiver
reloads its key and looks up the sender's certificate in DNS. No cache, no DNSSEC.

DNS lookups go to the lab's knot over UDP with a minimal query written here (the
reference uses dnspython through dane-discovery, which is slower: so the reference's
figure is, if anything, flattered).

  reference_pipeline.py --dir DIR --from NAME --to NAME --server ADDR@PORT
                        [--count N] [--size BYTES] [--runs N] [--smoke]
Prints "M ref.pipeline.msg_ns NS" per run and "M size.reference BYTES" (an 11-byte
message, sealed).
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "interop"))
import reference  # noqa: E402
from cryptography import x509  # noqa: E402

TYPE_TLSA = 52


def _qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _skip_name(msg, pos):
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n


def udp_cert(server):
    """A lookup: the first TLSA 3 0 0 record's certificate at a name, one UDP query."""
    addr, _, port = server.partition("@")
    port = int(port or 53)

    def lookup(name):
        qid = random.getrandbits(16)
        # header (RD), question, and an OPT record for 1232-byte answers
        query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1) + _qname(name) + \
            struct.pack(">HH", TYPE_TLSA, 1) + b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(query, (addr, port))
            msg = s.recv(65535)
        rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
        if rid != qid or flags & 0x000F:
            raise LookupError("DNS error for " + name)
        pos = 12
        for _ in range(qd):
            pos = _skip_name(msg, pos) + 4
        for _ in range(an):
            pos = _skip_name(msg, pos)
            rtype, _, _, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
            pos += 10
            rdata = msg[pos:pos + rdlen]
            pos += rdlen
            if rtype == TYPE_TLSA and rdata[:3] == b"\x03\x00\x00":
                return x509.load_der_x509_certificate(rdata[3:])
        raise LookupError("no TLSA 3 0 0 record at " + name)
    return lookup


def main(argv):
    p = argparse.ArgumentParser(prog="reference_pipeline.py")
    p.add_argument("--dir", required=True)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)

    lookup = udp_cert(a.server)
    sender_key = os.path.join(a.dir, a.sender + ".key.pem")
    my_key = os.path.join(a.dir, a.to + ".key.pem")
    text = ("x" * a.size)

    def one(message):
        token = reference.sign_and_encrypt(a.sender, reference.pem_key(sender_key), a.to,
                                           message, lookup)
        sender, got = reference.decrypt_and_verify(token, reference.pem_key(my_key), lookup)
        if sender != a.sender or got != message:
            raise RuntimeError("the reference pipeline did not round-trip")
        return token

    small = one("hello world")
    print("M size.reference %d" % len(small), flush=True)
    count = a.count
    if not count:
        t0 = time.perf_counter()
        for _ in range(3):
            one(text)
        per = (time.perf_counter() - t0) / 3
        count = 3 if a.smoke else max(3, int(a.seconds / per))
    for _ in range(a.runs):
        t0 = time.perf_counter()
        for _ in range(count):
            one(text)
        print("M ref.pipeline.msg_ns %.1f" % ((time.perf_counter() - t0) * 1e9 / count),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
