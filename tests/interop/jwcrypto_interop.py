#!/usr/bin/python3
"""Interop peer for danemsg's JOSE layer, on python3-jwcrypto (Debian).

  jwcrypto_interop.py sign ALG KEY.pem          stdin payload    -> stdout flattened JWS
  jwcrypto_interop.py verify KEY.pem            stdin JWS        -> stdout payload
  jwcrypto_interop.py encrypt ALG ENC KEY.pem.. stdin plaintext  -> stdout JWE
                      (one key: flattened JSON; several: general JSON, kid = r0, r1, ...;
                      ALG "auto": RSA-OAEP-256 for RSA keys, ECDH-ES+A256KW for others)
  jwcrypto_interop.py decrypt KEY.pem           stdin JWE        -> stdout plaintext
INTEROP_APU / INTEROP_APV (base64url), when set, go into the protected header of
what is encrypted (ECDH-ES PartyUInfo/PartyVInfo). Exit status 1 on any failure.
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from jwcrypto import jwe, jwk, jws


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load(path):
    with open(path, "rb") as f:
        pem = f.read()
    try:
        return jwk.JWK.from_pem(pem)
    except Exception:  # noqa: BLE001 - jwcrypto 1.1 cannot read X25519 PEM
        pass
    # Build the JWK from the raw key instead (RFC 8037), which jwcrypto 1.1 accepts.
    raw = serialization.Encoding.Raw
    if b"PRIVATE" in pem:
        priv = serialization.load_pem_private_key(pem, None)
        pub = priv.public_key()
    else:
        priv, pub = None, serialization.load_pem_public_key(pem)
    if not isinstance(pub, x25519.X25519PublicKey):
        raise ValueError("unsupported key in " + path)
    members = {"kty": "OKP", "crv": "X25519",
               "x": b64(pub.public_bytes(raw, serialization.PublicFormat.Raw))}
    if priv:
        members["d"] = b64(priv.private_bytes(raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))
    return jwk.JWK(**members)


def kw_alg(alg, key):
    if alg != "auto":
        return alg
    return "RSA-OAEP-256" if key["kty"] == "RSA" else "ECDH-ES+A256KW"


def main(argv):
    cmd, args = argv[1], argv[2:]
    data = sys.stdin.buffer.read()
    if cmd == "sign":
        alg, key = args[0], load(args[1])
        obj = jws.JWS(data)
        obj.add_signature(key, alg=alg, protected=json.dumps({"alg": alg}))
        sys.stdout.write(obj.serialize(compact=False))
    elif cmd == "verify":
        key = load(args[0])
        obj = jws.JWS()
        obj.deserialize(data.decode())
        obj.verify(key)
        sys.stdout.buffer.write(obj.payload)
    elif cmd == "encrypt":
        alg, enc, keys = args[0], args[1], [load(p) for p in args[2:]]
        party = {k: os.environ[v] for k, v in (("apu", "INTEROP_APU"), ("apv", "INTEROP_APV"))
                 if os.environ.get(v)}
        if len(keys) == 1:
            header = {"alg": kw_alg(alg, keys[0]), "enc": enc, **party}
            obj = jwe.JWE(data, protected=json.dumps(header))
            obj.add_recipient(keys[0])
        else:
            obj = jwe.JWE(data, protected=json.dumps({"enc": enc, **party}))
            for i, key in enumerate(keys):
                header = {"alg": kw_alg(alg, key), "kid": "r%d" % i}
                obj.add_recipient(key, header=json.dumps(header))
        sys.stdout.write(obj.serialize(compact=False))
    elif cmd == "decrypt":
        key = load(args[0])
        obj = jwe.JWE()
        obj.deserialize(data.decode(), key)
        sys.stdout.buffer.write(obj.payload)
    else:
        sys.exit("usage: see the module docstring")


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as e:  # noqa: BLE001 - report any failure as exit 1
        sys.stderr.write("jwcrypto: %s: %s\n" % (type(e).__name__, e))
        sys.exit(1)
