#!/usr/bin/env node
// Interop peer for danemsg's JOSE layer, on the npm package `jose` (panva/jose 5.x).
//
//   jose_interop.mjs sign ALG KEY.pem           stdin payload   -> stdout flattened JWS
//   jose_interop.mjs verify KEY.pem             stdin JWS       -> stdout payload
//   jose_interop.mjs encrypt ALG ENC KEY.pem..  stdin plaintext -> stdout JWE
//                    (one key: flattened JSON; several: general JSON, kid = r0, r1, ...;
//                    ALG "auto": RSA-OAEP-256 for RSA keys, ECDH-ES+A256KW for others)
//   jose_interop.mjs decrypt KEY.pem            stdin JWE       -> stdout plaintext
// INTEROP_APU / INTEROP_APV (base64url), when set, are used as ECDH-ES PartyUInfo and
// PartyVInfo of what is encrypted (jose writes them into the protected header).
// Exit status 1 on any failure.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  FlattenedSign, flattenedVerify, generalVerify, compactVerify,
  FlattenedEncrypt, GeneralEncrypt, flattenedDecrypt, generalDecrypt, compactDecrypt,
} from 'jose';

function loadKey(path, wantPrivate) {
  const pem = readFileSync(path);
  if (pem.includes('PRIVATE KEY')) {
    const key = createPrivateKey(pem);
    return wantPrivate ? key : createPublicKey(key);
  }
  return createPublicKey(pem);
}

function kwAlg(alg, key) {
  if (alg !== 'auto') return alg;
  return key.asymmetricKeyType === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
}

function readStdin() {
  return readFileSync(0);
}

async function main(argv) {
  const [cmd, ...args] = argv;
  const input = readStdin();
  let out;
  if (cmd === 'sign') {
    const jws = await new FlattenedSign(input)
      .setProtectedHeader({ alg: args[0] })
      .sign(loadKey(args[1], true));
    out = JSON.stringify(jws);
  } else if (cmd === 'verify') {
    const text = input.toString().trim();
    const key = loadKey(args[0], false);
    let res;
    if (!text.startsWith('{')) res = await compactVerify(text, key);
    else {
      const obj = JSON.parse(text);
      res = obj.signatures ? await generalVerify(obj, key) : await flattenedVerify(obj, key);
    }
    out = Buffer.from(res.payload);
  } else if (cmd === 'encrypt') {
    const [alg, enc, ...paths] = args;
    const keys = paths.map((p) => loadKey(p, false));
    const party = {};
    if (process.env.INTEROP_APU) party.apu = Buffer.from(process.env.INTEROP_APU, 'base64url');
    if (process.env.INTEROP_APV) party.apv = Buffer.from(process.env.INTEROP_APV, 'base64url');
    if (keys.length === 1) {
      const e = new FlattenedEncrypt(input).setProtectedHeader({ alg: kwAlg(alg, keys[0]), enc });
      if (Object.keys(party).length) e.setKeyManagementParameters(party);
      out = JSON.stringify(await e.encrypt(keys[0]));
    } else {
      const e = new GeneralEncrypt(input).setProtectedHeader({ enc });
      keys.forEach((k, i) => e.addRecipient(k).setUnprotectedHeader({ alg: kwAlg(alg, k), kid: `r${i}` }));
      out = JSON.stringify(await e.encrypt());
    }
  } else if (cmd === 'decrypt') {
    const text = input.toString().trim();
    const key = loadKey(args[0], true);
    let res;
    if (!text.startsWith('{')) res = await compactDecrypt(text, key);
    else {
      const obj = JSON.parse(text);
      res = obj.recipients ? await generalDecrypt(obj, key) : await flattenedDecrypt(obj, key);
    }
    out = Buffer.from(res.plaintext);
  } else {
    throw new Error('usage: see the header comment');
  }
  process.stdout.write(out);
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`jose: ${e.code || e.name}: ${e.message}\n`);
  process.exit(1);
});
