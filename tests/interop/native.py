#!/usr/bin/python3
"""danemsg's native message format (docs/envelope.md), done independently with
python3-jwcrypto (Debian): the interop peer of tests/envelope_interop_test.sh.

  native.py open --as NAME --key KEY.pem [--cert CERT.pem] --from NAME --sender-cert CERT.pem
        stdin message -> stdout payload. Decrypts (flattened or general JSON; the entry
        must name NAME in x5u and, with --cert, that certificate in x5t#S256), verifies
        the inner JWS with the sender's certificate and checks typ, x5u, x5t#S256, aud
        (names NAME), iat (at most 300 s old, 60 s ahead), exp, jti.
  native.py seal --from NAME --key KEY.pem --cert CERT.pem --to NAME=CERT.pem [--to ...]
        [--aud NAME,...] [--alg ALG] [--typ TYP] [--iat-offset S] [--exp S] [--x5c]
        [--tamper]                                     stdin payload -> stdout message
        One recipient: flattened JSON, alg/x5u/x5t#S256 protected; several: general JSON,
        each entry's header holds them. --aud replaces the audience (default: the --to
        names); --alg and --typ override those; --iat-offset shifts iat; --exp S sets
        exp = now + S; --x5c carries the sender certificate; --tamper corrupts the
        signature.
  native.py reencrypt --as NAME --key KEY.pem --to NAME=CERT.pem
        stdin message -> stdout message: what a dishonest recipient can do: decrypt and
        encrypt the same signed inner JWS to someone else.
  native.py decrypt --as NAME --key KEY.pem
        stdin message -> stdout: the decrypted inner JWS, as it is (any format).
KEY.pem / CERT.pem: for an Ed25519 identity, the signing pair is NAME.key.pem/.crt.pem and
the encryption pair NAME.x25519.key.pem/.crt.pem. Exit 0 ok, 1 failure, 3 not supported
by this jwcrypto (reason on stderr).
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from jwcrypto import jwe, jwk, jws

TYP = "danemsg+jws"
MAX_AGE, MAX_SKEW = 300, 60


class Unsupported(Exception):
    pass


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def locator(name):
    return "dns://%s?type=TLSA" % name.rstrip(".")


def locator_name(uri):
    """dns://NAME?type=TLSA, dns:NAME?type=TLSA, dns://SERVER/NAME?type=TLSA -> name."""
    if not uri.lower().startswith("dns:"):
        raise ValueError("x5u %r is not a dns: locator" % uri)
    rest = uri[4:].split("?", 1)
    if len(rest) == 2 and rest[1].lower() != "type=tlsa":
        raise ValueError("x5u %r asks for something other than TLSA" % uri)
    return canon(rest[0].split("/")[-1])


def canon(name):
    return name.lower().rstrip(".") + "."


def to_jwk(key):
    """A JWK from a pyca key; X25519 by hand (jwcrypto 1.1 cannot import it)."""
    if isinstance(key, (x25519.X25519PrivateKey, x25519.X25519PublicKey)):
        if "X25519" not in jwk.ImplementedOkpCurves:
            raise Unsupported("this jwcrypto has no X25519")
        pub = key.public_key() if isinstance(key, x25519.X25519PrivateKey) else key
        raw = serialization.Encoding.Raw
        members = {"kty": "OKP", "crv": "X25519",
                   "x": b64(pub.public_bytes(raw, serialization.PublicFormat.Raw))}
        if pub is not key:
            members["d"] = b64(key.private_bytes(raw, serialization.PrivateFormat.Raw,
                                                 serialization.NoEncryption()))
        return jwk.JWK(**members)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)) and \
            "Ed25519" not in jwk.ImplementedOkpCurves:
        raise Unsupported("this jwcrypto has no Ed25519")
    return jwk.JWK.from_pyca(key)


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def x5t(cert):
    return b64(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def sig_alg(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise Unsupported("no signature alg for %s" % type(key).__name__)


def kw_alg(pub):
    return "RSA-OAEP-256" if isinstance(pub, rsa.RSAPublicKey) else "ECDH-ES+A256KW"


def parse_to(spec):
    name, _, path = spec.partition("=")
    cert = load_cert(path)
    return name.rstrip("."), cert


def encrypt(plaintext, recipients):
    """Native outer JWE, A256GCM, to [(name, cert)]."""
    if len(recipients) == 1:
        name, cert = recipients[0]
        protected = {"alg": kw_alg(cert.public_key()), "enc": "A256GCM",
                     "x5u": locator(name), "x5t#S256": x5t(cert)}
        token = jwe.JWE(plaintext, protected=json.dumps(protected))
        token.add_recipient(to_jwk(cert.public_key()))
    else:
        token = jwe.JWE(plaintext, protected=json.dumps({"enc": "A256GCM"}))
        for name, cert in recipients:
            header = {"alg": kw_alg(cert.public_key()), "x5u": locator(name),
                      "x5t#S256": x5t(cert)}
            token.add_recipient(to_jwk(cert.public_key()), header=json.dumps(header))
    return token.serialize(compact=False)


def seal(a, payload):
    key, cert = load_key(a.key), load_cert(a.cert)
    recipients = [parse_to(t) for t in a.to]
    now = int(time.time()) + a.iat_offset
    aud = a.aud.split(",") if a.aud else [n for n, _ in recipients]
    header = {"alg": a.alg or sig_alg(key), "typ": a.typ or TYP, "x5u": locator(a.sender),
              "x5t#S256": x5t(cert), "aud": [n.rstrip(".") for n in aud], "iat": now,
              "jti": a.jti if a.jti is not None else b64(os.urandom(16))}
    if a.exp is not None:
        header["exp"] = now + a.exp
    if a.x5c:
        header["x5c"] = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER))
                         .decode()]
    if header["alg"] not in jws.default_allowed_algs:
        raise Unsupported("jwcrypto does not sign %s" % header["alg"])
    signer = jws.JWS(payload)
    signer.add_signature(to_jwk(key), None, json.dumps(header))
    inner = json.loads(signer.serialize(compact=False))
    if a.tamper:
        sig = bytearray(unb64(inner["signature"]))
        sig[0] ^= 1
        inner["signature"] = b64(bytes(sig))
    return encrypt(json.dumps(inner).encode(), recipients)


def decrypt(text, me, key, my_cert=None, enc="A256GCM"):
    """The outer JWE: an entry names me, the enc is as expected (None: any); -> plaintext."""
    obj = json.loads(text)
    protected = json.loads(unb64(obj["protected"])) if "protected" in obj else {}
    entries = obj.get("recipients") or [{"header": obj.get("header", {})}]
    mine = False
    for entry in entries:
        h = dict(protected, **obj.get("unprotected", {}), **entry.get("header", {}))
        if locator_name(h.get("x5u", "")) == canon(me) and \
                (my_cert is None or h.get("x5t#S256") in (None, x5t(my_cert))):
            mine = True
    if not mine:
        raise ValueError("no recipient entry names %s" % me)
    if enc and protected.get("enc") != enc:
        raise ValueError("enc %r is not the native A256GCM" % protected.get("enc"))
    token = jwe.JWE()
    token.deserialize(text, key=to_jwk(key))
    return token.payload


def open_(a, text):
    inner = decrypt(text, a.me, load_key(a.key), load_cert(a.cert) if a.cert else None)
    cert = load_cert(a.sender_cert)
    signed = jws.JWS()
    signed.deserialize(inner.decode())
    h = signed.jose_header
    now = int(time.time())
    checks = [
        (h.get("typ") == TYP, "typ is %r" % h.get("typ")),
        (h.get("alg") in ("ES256", "EdDSA", "Ed25519", "PS256"), "alg %r" % h.get("alg")),
        (locator_name(h.get("x5u", "")) == canon(a.sender), "x5u %r" % h.get("x5u")),
        (h.get("x5t#S256") in (None, x5t(cert)), "x5t#S256 is not the sender's cert"),
        (isinstance(h.get("aud"), list) and canon(a.me) in map(canon, h["aud"]),
         "aud %r does not name %s" % (h.get("aud"), a.me)),
        (isinstance(h.get("iat"), int) and now - MAX_AGE <= h["iat"] <= now + MAX_SKEW,
         "iat %r is not within [-%d, +%d] s of now" % (h.get("iat"), MAX_AGE, MAX_SKEW)),
        ("exp" not in h or (isinstance(h["exp"], int) and h["exp"] >= now), "expired"),
        (isinstance(h.get("jti"), str) and 0 < len(h["jti"]) <= 128, "no jti"),
    ]
    for ok, why in checks:
        if not ok:
            raise ValueError(why)
    if h["alg"] == "Ed25519":
        raise Unsupported("jwcrypto 1.1 does not know the alg name Ed25519 (RFC 9864)")
    signed.verify(to_jwk(cert.public_key()))
    return signed.payload


def reencrypt(a, text):
    return encrypt(decrypt(text, a.me, load_key(a.key), enc=None),
                   [parse_to(t) for t in a.to])


def main(argv):
    p = argparse.ArgumentParser(prog="native.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("open")
    o.add_argument("--as", dest="me", required=True)
    o.add_argument("--key", required=True)
    o.add_argument("--cert")
    o.add_argument("--from", dest="sender", required=True)
    o.add_argument("--sender-cert", required=True)
    s = sub.add_parser("seal")
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--to", action="append", required=True)
    s.add_argument("--aud")
    s.add_argument("--alg")
    s.add_argument("--typ")
    s.add_argument("--iat-offset", type=int, default=0)
    s.add_argument("--exp", type=int)
    s.add_argument("--jti")
    s.add_argument("--x5c", action="store_true")
    s.add_argument("--tamper", action="store_true")
    r = sub.add_parser("reencrypt")
    r.add_argument("--as", dest="me", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--to", action="append", required=True)
    d = sub.add_parser("decrypt")
    d.add_argument("--as", dest="me", required=True)
    d.add_argument("--key", required=True)
    a = p.parse_args(argv)
    data = sys.stdin.buffer.read()
    if a.cmd == "open":
        sys.stdout.buffer.write(open_(a, data.decode()))
    elif a.cmd == "seal":
        sys.stdout.write(seal(a, data) + "\n")
    elif a.cmd == "decrypt":
        sys.stdout.buffer.write(decrypt(data.decode(), a.me, load_key(a.key), enc=None))
    else:
        sys.stdout.write(reencrypt(a, data.decode()) + "\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Unsupported as e:
        sys.stderr.write("jwcrypto: not supported: %s\n" % e)
        sys.exit(3)
    except Exception as e:  # noqa: BLE001 - any failure is exit 1, with its reason
        sys.exit("jwcrypto: %s: %s" % (type(e).__name__, e))
