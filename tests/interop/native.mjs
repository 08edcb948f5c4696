#!/usr/bin/env node
// danemsg's native message format (docs/envelope.md), done independently with the npm
// package `jose` (pinned in package.json): the interop peer of tests/envelope_interop_test.sh.
// The same command line as native.py:
//
//   native.mjs open --as NAME --key KEY.pem [--cert CERT.pem] --from NAME --sender-cert CERT.pem
//        stdin message -> stdout payload (decrypt, verify, check typ/x5u/x5t#S256/aud/iat/exp/jti)
//   native.mjs seal --from NAME --key KEY.pem --cert CERT.pem --to NAME=CERT.pem [--to ...]
//        [--aud NAME,...] [--alg ALG] [--typ TYP] [--iat-offset S] [--exp S] [--x5c] [--tamper]
//        stdin payload -> stdout message (one recipient: flattened JSON; several: general)
//   native.mjs reencrypt --as NAME --key KEY.pem --to NAME=CERT.pem
// Exit 0 ok, 1 failure, 3 not supported by this jose (reason on stderr).
import { createHash, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  FlattenedSign, flattenedVerify, compactVerify,
  FlattenedEncrypt, GeneralEncrypt, flattenedDecrypt, generalDecrypt, compactDecrypt,
} from 'jose';

const TYP = 'danemsg+jws';
const MAX_AGE = 300;
const MAX_SKEW = 60;
const SIG_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'PS256'];

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const locator = (name) => `dns://${name.replace(/\.$/, '')}?type=TLSA`;
const canon = (name) => `${name.toLowerCase().replace(/\.$/, '')}.`;
const loadKey = (path) => createPrivateKey(readFileSync(path));
const loadCert = (path) => new X509Certificate(readFileSync(path));
const x5t = (cert) => b64url(createHash('sha256').update(cert.raw).digest());

// dns://NAME?type=TLSA, dns:NAME?type=TLSA, dns://SERVER/NAME?type=TLSA -> canonical name
function locatorName(uri) {
  if (typeof uri !== 'string' || !uri.toLowerCase().startsWith('dns:')) {
    throw new Error(`x5u ${uri} is not a dns: locator`);
  }
  const [path, query] = uri.slice(4).split('?');
  if (query !== undefined && query.toLowerCase() !== 'type=tlsa') {
    throw new Error(`x5u ${uri} asks for something other than TLSA`);
  }
  return canon(path.split('/').pop());
}

function sigAlg(key) {
  const t = key.asymmetricKeyType;
  if (t === 'rsa') return 'PS256';
  if (t === 'ec') return 'ES256';
  if (t === 'ed25519') return 'EdDSA';
  throw new Error(`no signature alg for a ${t} key`);
}
const kwAlg = (pub) => (pub.asymmetricKeyType === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW');

function parseTo(spec) {
  const i = spec.indexOf('=');
  return { name: spec.slice(0, i).replace(/\.$/, ''), cert: loadCert(spec.slice(i + 1)) };
}

async function encrypt(plaintext, recipients) {
  if (recipients.length === 1) {
    const { name, cert } = recipients[0];
    return new FlattenedEncrypt(plaintext)
      .setProtectedHeader({
        alg: kwAlg(cert.publicKey), enc: 'A256GCM', x5u: locator(name), 'x5t#S256': x5t(cert),
      })
      .encrypt(cert.publicKey);
  }
  const e = new GeneralEncrypt(plaintext).setProtectedHeader({ enc: 'A256GCM' });
  for (const { name, cert } of recipients) {
    e.addRecipient(cert.publicKey).setUnprotectedHeader({
      alg: kwAlg(cert.publicKey), x5u: locator(name), 'x5t#S256': x5t(cert),
    });
  }
  return e.encrypt();
}

async function seal(a, payload) {
  const key = loadKey(a.key);
  const cert = loadCert(a.cert);
  const recipients = a.to.map(parseTo);
  const now = Math.floor(Date.now() / 1000) + Number(a['iat-offset'] || 0);
  const aud = a.aud ? a.aud.split(',') : recipients.map((r) => r.name);
  const header = {
    alg: a.alg || sigAlg(key), typ: a.typ || TYP, x5u: locator(a.from), 'x5t#S256': x5t(cert),
    aud: aud.map((n) => n.replace(/\.$/, '')), iat: now, jti: b64url(randomBytes(16)),
  };
  if (a.exp !== undefined) header.exp = now + Number(a.exp);
  if (a.x5c) header.x5c = [cert.raw.toString('base64')];
  const jws = await new FlattenedSign(payload).setProtectedHeader(header).sign(key);
  if (a.tamper) {
    const sig = Buffer.from(jws.signature, 'base64url');
    sig[0] ^= 1;
    jws.signature = b64url(sig);
  }
  return encrypt(Buffer.from(JSON.stringify(jws)), recipients);
}

// The outer JWE: an entry names me (x5u, and x5t#S256 when --cert is given); decrypts.
async function decrypt(text, me, key, myCert) {
  const options = { contentEncryptionAlgorithms: ['A256GCM'] };
  if (!text.startsWith('{')) return (await compactDecrypt(text, key, options)).plaintext;
  const obj = JSON.parse(text);
  const prot = obj.protected ? JSON.parse(Buffer.from(obj.protected, 'base64url')) : {};
  const entries = obj.recipients || [{ header: obj.header }];
  const mine = entries.some((e) => {
    const h = { ...prot, ...obj.unprotected, ...e.header };
    return locatorName(h.x5u) === canon(me)
      && (!myCert || h['x5t#S256'] === undefined || h['x5t#S256'] === x5t(myCert));
  });
  if (!mine) throw new Error(`no recipient entry names ${me}`);
  const res = obj.recipients ? await generalDecrypt(obj, key, options)
    : await flattenedDecrypt(obj, key, options);
  return res.plaintext;
}

async function open(a, text) {
  const myCert = a.cert && loadCert(a.cert);
  const inner = Buffer.from(await decrypt(text, a.as, loadKey(a.key), myCert)).toString();
  const cert = loadCert(a['sender-cert']);
  const options = { algorithms: SIG_ALGS };
  const res = inner.startsWith('{')
    ? await flattenedVerify(JSON.parse(inner), cert.publicKey, options)
    : await compactVerify(inner, cert.publicKey, options);
  const h = res.protectedHeader;
  const now = Math.floor(Date.now() / 1000);
  const checks = [
    [h.typ === TYP, `typ is ${h.typ}`],
    [locatorName(h.x5u) === canon(a.from), `x5u ${h.x5u} does not name ${a.from}`],
    [h['x5t#S256'] === undefined || h['x5t#S256'] === x5t(cert), 'x5t#S256: not the sender cert'],
    [Array.isArray(h.aud) && h.aud.map(canon).includes(canon(a.as)),
      `aud ${JSON.stringify(h.aud)} does not name ${a.as}`],
    [Number.isInteger(h.iat) && h.iat >= now - MAX_AGE && h.iat <= now + MAX_SKEW,
      `iat ${h.iat} is not within [-${MAX_AGE}, +${MAX_SKEW}] s of now`],
    [h.exp === undefined || (Number.isInteger(h.exp) && h.exp >= now), 'expired'],
    [typeof h.jti === 'string' && h.jti.length > 0 && h.jti.length <= 128, 'no jti'],
  ];
  for (const [ok, why] of checks) if (!ok) throw new Error(why);
  return Buffer.from(res.payload);
}

async function reencrypt(a, text) {
  return encrypt(await decrypt(text, a.as, loadKey(a.key)), a.to.map(parseTo));
}

async function main(argv) {
  const { values: a, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      as: { type: 'string' }, key: { type: 'string' }, cert: { type: 'string' },
      from: { type: 'string' }, 'sender-cert': { type: 'string' },
      to: { type: 'string', multiple: true }, aud: { type: 'string' },
      alg: { type: 'string' }, typ: { type: 'string' },
      'iat-offset': { type: 'string' }, exp: { type: 'string' },
      x5c: { type: 'boolean' }, tamper: { type: 'boolean' },
    },
  });
  const input = readFileSync(0);
  const cmd = positionals[0];
  if (cmd === 'open') process.stdout.write(await open(a, input.toString().trim()));
  else if (cmd === 'seal') process.stdout.write(`${JSON.stringify(await seal(a, input))}\n`);
  else if (cmd === 'reencrypt') {
    process.stdout.write(`${JSON.stringify(await reencrypt(a, input.toString().trim()))}\n`);
  }
  else throw new Error('usage: see the header comment');
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`jose: ${e.code || e.name}: ${e.message}\n`);
  process.exit(e.code === 'ERR_JOSE_NOT_SUPPORTED' ? 3 : 1);
});
