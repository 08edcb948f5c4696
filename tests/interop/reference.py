#!/usr/bin/python3
"""The reference system's sender and receiver, reproduced with python3-jwcrypto.

The reference (the article's proof of concept: Valimail's
dane_jwe_jws + dane-discovery and its MQTT demo) secures a text message so:
  sign     JWS RS256, flattened JSON,
           protected {"alg":"RS256","x5u":"dns://SENDER?type=TLSA"}
  encrypt  JWE RSA-OAEP-256 + A256CBC-HS512, flattened JSON, protected
           {"alg":"RSA-OAEP-256","enc":"A256CBC-HS512","typ":"JWE","x5u":"dns://RECIPIENT?type=TLSA"}
  receive  decrypt with its own key (compact or JSON), read the sender from the inner
           x5u (strip "dns:" and "?type=TLSA", last "/" part), take the first TLSA 3 0 0
           certificate at that name (no DNSSEC check, no cache, no policy: as the
           reference), verify with the header's alg, print "<sender> says: <message>".
  PKIX-CD  with --pkix-cd, a 4 0 0 record is taken too, as dane-discovery 0.20 does: its
           CA is fetched from https://AUTHORITY/.well-known/ca/AKI.pem (AUTHORITY: the
           name from its right-most "_" label on, without the "_"; AKI: lower-case hex
           pairs joined by "-"), walking up to a self-signed CA (100 levels at most); only
           the signatures and that SAN[0] is the name are checked (no dates, no key
           usage, no basic constraints), as the reference does.

  reference.py send --from NAME --key KEY.pem --to NAME
                    (--cert-of-recipient CERT.pem | --dns ADDR@PORT) [--rfc4501]
                    [--message TEXT]          (default: standard input) -> stdout JWE
  reference.py receive --as NAME --key KEY.pem
                    [--dns ADDR@PORT | --cert-of-sender CERT.pem]    stdin JWE -> stdout
  both: [--pkix-cd --ca-file WEBCA.pem [--connect ADDR:PORT]]: 4 0 0 records too, the CA
        fetched with curl verified by WEBCA.pem (and sent to ADDR:PORT, like the lab's)
                    (--as is not checked against the message: the reference does not)
--dns defaults to env DANEMSG_RESOLVER (the lab). --rfc4501 writes x5u as
"dns:NAME?type=TLSA", which the reference reads the same way. Exit 1 on any failure.

Importable (the benchmark's reference pipeline): sign_and_encrypt(), decrypt_and_verify(),
dns_cert() / file_cert() as the certificate lookups.
"""
import argparse
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jwcrypto import jwe, jwk, jws


def build_dns_uri(name, rfc4501=False):
    return ("dns:{}?type=TLSA" if rfc4501 else "dns://{}?type=TLSA").format(name)


def get_name_from_dns_uri(uri):
    """As the reference's Util.get_name_from_dns_uri."""
    if not uri.startswith("dns:") or not uri.endswith("?type=TLSA"):
        raise ValueError("Bad format. See RFC 4501.")
    return uri.replace("dns:", "").replace("?type=TLSA", "").split("/")[-1]


def authority_of(name):
    """The host of a PKIX-CD identity's CA: from the right-most "_" label on, no "_"."""
    labels = name.rstrip(".").split(".")
    for i in range(len(labels) - 1, -1, -1):
        if labels[i].startswith("_"):
            return ".".join([labels[i][1:]] + labels[i + 1:])
    raise ValueError("no underscore label in " + name)


def signed_by(cert, issuer):
    """Raises unless issuer's key made cert's signature."""
    key = issuer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                   cert.signature_hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))
    else:
        raise ValueError("unsupported CA key")


def aki_of(cert):
    return cert.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier


def pkix_cd_cert(name, cert, ca_file, connect):
    """dane-discovery 0.20's PKIX-CD check: the chain's signatures up to a self-signed CA
    fetched over HTTPS by AKI, and SAN[0] == name; nothing else."""
    host = authority_of(name)
    cur = cert
    for _ in range(100):
        url = "https://{}/.well-known/ca/{}.pem".format(
            host, "-".join("%02x" % b for b in aki_of(cur)))
        cmd = ["curl", "-sSf", "--max-time", "10", "--cacert", ca_file, url]
        if connect:
            cmd[1:1] = ["--connect-to", "{}:443:{}".format(host, connect)]
        ca = x509.load_pem_x509_certificate(
            subprocess.run(cmd, capture_output=True, check=True).stdout)
        signed_by(cur, ca)
        if x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest == aki_of(ca):
            break
        cur = ca
    else:
        raise LookupError("no self-signed CA within 100 levels")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if san.get_values_for_type(x509.DNSName)[0] != name.rstrip("."):
        raise LookupError("SAN[0] is not " + name)
    return cert


def dns_cert(server, pkix_cd=None):
    """A lookup: the first TLSA 3 0 0 record's certificate at a name, from server
    ("ADDR@PORT"), with no DNSSEC validation (the reference trusts the answer). With
    pkix_cd (ca_file, connect), a 4 0 0 record's too, checked as the reference does."""
    addr, _, port = server.partition("@")

    def lookup(name):
        out = subprocess.run(["kdig", "@" + addr, "-p", port or "53", "+short", "TLSA", name],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            fields = line.split()
            if fields[:3] == ["3", "0", "0"] or (pkix_cd and fields[:3] == ["4", "0", "0"]):
                cert = x509.load_der_x509_certificate(bytes.fromhex("".join(fields[3:])))
                return pkix_cd_cert(name, cert, *pkix_cd) if fields[0] == "4" else cert
        raise LookupError("no TLSA 3 0 0 record at " + name)
    return lookup


def file_cert(path):
    """A lookup that answers every name with the certificate in a PEM file."""
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return lambda name: cert


def pem_key(path):
    key = jwk.JWK()
    with open(path, "rb") as f:
        key.import_from_pem(f.read())
    return key


def cert_key(cert):
    key = jwk.JWK()
    key.import_from_pyca(cert.public_key())
    return key


def sign_and_encrypt(sender, sender_key, recipient, message, lookup, rfc4501=False):
    """Authentication.sign + Encryption.encrypt: the message text -> JWE JSON text."""
    signer = jws.JWS(message.encode("utf-8"))
    signer.add_signature(sender_key, None, {"alg": "RS256",
                                            "x5u": build_dns_uri(sender, rfc4501)})
    signed = signer.serialize()
    protected = {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "typ": "JWE",
                 "x5u": build_dns_uri(recipient, rfc4501)}
    token = jwe.JWE(signed.encode("utf-8"), recipient=cert_key(lookup(recipient)),
                    protected=protected)
    return token.serialize()


def decrypt_and_verify(content, my_key, lookup):
    """Encryption.decrypt + Authentication.verify: JWE text -> (sender, message)."""
    token = jwe.JWE()
    token.deserialize(content, key=my_key)
    signed = jws.JWS()
    signed.deserialize(token.payload.decode("utf-8"))
    sender = get_name_from_dns_uri(signed.jose_header["x5u"])
    signed.verify(cert_key(lookup(sender)))
    return sender, signed.payload.decode("utf-8")


def main(argv):
    p = argparse.ArgumentParser(prog="reference.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--cert-of-recipient")
    s.add_argument("--dns")
    s.add_argument("--rfc4501", action="store_true")
    s.add_argument("--message")
    r = sub.add_parser("receive")
    r.add_argument("--as", dest="me", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--dns")
    r.add_argument("--cert-of-sender")
    for sp in (s, r):
        sp.add_argument("--pkix-cd", action="store_true")
        sp.add_argument("--ca-file")
        sp.add_argument("--connect")
    a = p.parse_args(argv)
    if a.pkix_cd and not a.ca_file:
        p.error("--pkix-cd needs --ca-file (the Web CA of the CA's server)")
    pkix_cd = (a.ca_file, a.connect) if a.pkix_cd else None

    server = a.dns or os.environ.get("DANEMSG_RESOLVER")
    if not server and not (a.cert_of_recipient if a.cmd == "send" else a.cert_of_sender):
        p.error("no DNS server: give --dns ADDR@PORT (or set DANEMSG_RESOLVER) or a cert")
    if a.cmd == "send":
        lookup = (file_cert(a.cert_of_recipient) if a.cert_of_recipient
                  else dns_cert(server, pkix_cd))
        text = a.message if a.message is not None else sys.stdin.read()
        sys.stdout.write(sign_and_encrypt(a.sender, pem_key(a.key), a.to, text, lookup,
                                          a.rfc4501) + "\n")
    else:
        lookup = file_cert(a.cert_of_sender) if a.cert_of_sender else dns_cert(server, pkix_cd)
        sender, text = decrypt_and_verify(sys.stdin.read().strip(), pem_key(a.key), lookup)
        print("{} says: {}".format(sender, text))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # noqa: BLE001 - any failure is exit 1, with its reason
        sys.exit("reference: %s: %s" % (type(e).__name__, e))
