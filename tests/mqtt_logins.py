#!/usr/bin/python3
"""Many MQTT 3.1.1 logins at once against a broker, for the broker-authentication tests and
benchmark (docs/broker-auth.md). Tokens are made here with jwcrypto, an independent JOSE
implementation: --key PEM signs as --name (warm logins of one identity, each with its own
jti); without --key, a fresh P-256 key signs for ghost-N.SUFFIX names (cold logins of names
that do not resolve). --password logs in with a fixed password instead (a password_file
broker). Prints one JSON line: counts of CONNACK return codes, closed connections, seconds.

Also --token NAME: prints one token signed with --key, with --typ/--lifetime/--iat, for
tokens danemsg itself refuses to make (another typ, a lifetime over the maximum).
"""
import argparse
import concurrent.futures
import json
import socket
import struct
import sys
import time
import uuid

from jwcrypto import jwk, jws


def token(key, alg, sub, aud, iat, lifetime, typ="danemsg-login+jwt"):
    claims = {"sub": sub, "aud": aud, "iat": iat, "exp": iat + lifetime,
              "jti": uuid.uuid4().hex}
    s = jws.JWS(json.dumps(claims, separators=(",", ":")).encode())
    s.add_signature(key, None, json.dumps({"alg": alg, "typ": typ}))
    return s.serialize(compact=True)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def remaining_length(n):
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def login(host, port, user, password, timeout):
    """CONNECT, then the CONNACK's return code; -1 when the broker closes the connection."""
    body = utf8("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30)
    # a client id of the user's own (the plugin refuses another identity's)
    body += utf8("%s/%s" % (user, uuid.uuid4().hex[:12])) + utf8(user) + utf8(password)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(bytes([0x10]) + remaining_length(len(body)) + body)
        ack = b""
        while len(ack) < 4:
            chunk = s.recv(4 - len(ack))
            if not chunk:
                return -1
            ack += chunk
        if ack[3] == 0:
            s.sendall(bytes([0xE0, 0]))   # DISCONNECT
        return ack[3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--audience", default="example.net")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--key", help="PEM private key of --name")
    ap.add_argument("--name", help="the identity --key belongs to")
    ap.add_argument("--suffix", default="nx.example.net", help="ghost-N.SUFFIX names")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token", action="store_true", help="print one token and exit")
    ap.add_argument("--typ", default="danemsg-login+jwt")
    ap.add_argument("--lifetime", type=int, default=300)
    ap.add_argument("--iat", type=int, default=0, help="issued at (default: now)")
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()

    now = int(time.time())
    if a.key:
        key = jwk.JWK.from_pem(open(a.key, "rb").read())
        kty = json.loads(key.export_public())["kty"]
        alg = {"EC": "ES256", "OKP": "EdDSA", "RSA": "PS256"}[kty]
    else:
        key, alg = jwk.JWK.generate(kty="EC", crv="P-256"), "ES256"
    if a.token:
        print(token(key, alg, a.name, a.audience, a.iat or now, a.lifetime, a.typ))
        return 0
    if a.password is not None:
        creds = [(a.user, a.password)] * a.n
    elif a.key:
        creds = [(a.name, token(key, alg, a.name, a.audience, a.iat or now, a.lifetime))
                 for _ in range(a.n)]
    else:
        creds = []
        for i in range(a.n):
            name = "ghost-%d-%s.%s" % (i, uuid.uuid4().hex[:6], a.suffix)
            creds.append((name, token(key, alg, name, a.audience, now, a.lifetime)))
    counts = {}
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
        futures = [pool.submit(login, a.host, a.port, u, p, a.timeout) for u, p in creds]
        for f in futures:
            try:
                rc = str(f.result())
            except OSError as e:
                rc = "error:" + type(e).__name__
            counts[rc] = counts.get(rc, 0) + 1
    seconds = time.monotonic() - start
    print(json.dumps({"logins": a.n, "codes": counts, "seconds": round(seconds, 3),
                      "per_second": round(a.n / seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
