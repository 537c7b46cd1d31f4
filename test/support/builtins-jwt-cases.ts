// io.jwt.* cases for the differential test. Every expression is evaluated by
// `opa eval` and by the wasm + host builtins; the expected value is whatever
// OPA says, so these only need to cover interesting inputs.

import { generateKeyPairSync, sign } from 'node:crypto';
import type { Case } from './builtins-opa.ts';
import { rego } from './builtins-opa.ts';
import { b64u, ecKey, edKey, jwk, rsaKey, selfSignedCert, signRaw, spkiPem, token } from './builtins-keys.ts';

const rsa = rsaKey();
const rsa2 = rsaKey();
const rsa1024 = rsaKey(1024);
const rsa512 = rsaKey(512);
const p256 = ecKey('P-256');
const p384 = ecKey('P-384');
const p521 = ecKey('P-521');
const k1 = ecKey('secp256k1');
const ed = edKey();

const NOW_S = 1_700_000_000;
const NOW_NS = '1700000000000000000'; // the decode_verify time constraint, as a Rego literal

const rsaPem = spkiPem(rsa.publicKey);
const rsaCert = selfSignedCert(rsa);
const ecCert = selfSignedCert(p256);
const edCert = selfSignedCert(ed);

const jwks = (...keys: Record<string, unknown>[]): string => JSON.stringify({ keys });

/** Pads r and s of a P1363 signature with a leading zero each: same numbers, wrong length. */
function widenEcSignature(t: string): string {
  const [h, p, s] = t.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  const half = sig.length / 2;
  const wide = Buffer.concat([Buffer.from([0]), sig.subarray(0, half), Buffer.from([0]), sig.subarray(half)]);
  return `${h}.${p}.${wide.toString('base64url')}`;
}

function tamper(t: string): string {
  const [h, , s] = t.split('.');
  return `${h}.${b64u(JSON.stringify({ sub: 'mallory' }))}.${s}`;
}

function call(fn: string, ...args: unknown[]): string {
  return `${fn}(${args.map(rego).join(', ')})`;
}

function verifyCases(): Case[] {
  const out: Case[] = [];
  const add = (name: string, fn: string, tok: string, key: string): void => {
    out.push({ name: `${fn} ${name}`, expr: call(fn, tok, key) });
  };
  const claims = { sub: 'alice', iat: NOW_S };
  for (const bits of ['256', '384', '512']) {
    const rs = token({ alg: `RS${bits}`, typ: 'JWT' }, claims, rsa.privateKey);
    add('pem', `io.jwt.verify_rs${bits}`, rs, rsaPem);
    add('cert', `io.jwt.verify_rs${bits}`, rs, rsaCert);
    add('wrong key', `io.jwt.verify_rs${bits}`, rs, spkiPem(rsa2.publicKey));
    add('tampered', `io.jwt.verify_rs${bits}`, tamper(rs), rsaPem);
    const ps = token({ alg: `PS${bits}` }, claims, rsa.privateKey);
    add('pem', `io.jwt.verify_ps${bits}`, ps, rsaPem);
    add('wrong key', `io.jwt.verify_ps${bits}`, ps, spkiPem(rsa2.publicKey));
    add('rs token', `io.jwt.verify_ps${bits}`, rs, rsaPem);
    const hs = token({ alg: `HS${bits}` }, claims, 's3cr3t-\u00e9');
    add('right secret', `io.jwt.verify_hs${bits}`, hs, 's3cr3t-\u00e9');
    add('wrong secret', `io.jwt.verify_hs${bits}`, hs, 's3cr3t');
    add('tampered', `io.jwt.verify_hs${bits}`, tamper(hs), 's3cr3t-\u00e9');
  }
  const curves = { '256': p256, '384': p384, '512': p521 } as const;
  for (const [bits, pair] of Object.entries(curves)) {
    const es = token({ alg: `ES${bits}` }, claims, pair.privateKey);
    add('pem', `io.jwt.verify_es${bits}`, es, spkiPem(pair.publicKey));
    add('jwk', `io.jwt.verify_es${bits}`, es, JSON.stringify(jwk(pair.publicKey)));
    add('wrong curve key', `io.jwt.verify_es${bits}`, es, spkiPem(bits === '256' ? p384.publicKey : p256.publicKey));
    add('widened signature', `io.jwt.verify_es${bits}`, widenEcSignature(es), spkiPem(pair.publicKey));
    add('tampered', `io.jwt.verify_es${bits}`, tamper(es), spkiPem(pair.publicKey));
    add('rsa key', `io.jwt.verify_es${bits}`, es, rsaPem);
  }
  const es256 = token({ alg: 'ES256' }, claims, p256.privateKey);
  add('cert', 'io.jwt.verify_es256', es256, ecCert);
  add(
    'der signature',
    'io.jwt.verify_es256',
    es256.replace(/[^.]+$/, b64u(signRaw('RS256', p256.privateKey, es256.split('.').slice(0, 2).join('.')))),
    spkiPem(p256.publicKey),
  );
  add('secp256k1 pem', 'io.jwt.verify_es256', token({ alg: 'ES256' }, claims, k1.privateKey), spkiPem(k1.publicKey));
  const eddsa = token({ alg: 'EdDSA' }, claims, ed.privateKey);
  add('pem', 'io.jwt.verify_eddsa', eddsa, spkiPem(ed.publicKey));
  add('cert', 'io.jwt.verify_eddsa', eddsa, edCert);
  add('jwk', 'io.jwt.verify_eddsa', eddsa, JSON.stringify(jwk(ed.publicKey)));
  add('wrong key', 'io.jwt.verify_eddsa', eddsa, spkiPem(edKey().publicKey));

  const rs = token({ alg: 'RS256', kid: 'k1' }, claims, rsa.privateKey);
  const v = 'io.jwt.verify_rs256';
  add('single jwk', v, rs, JSON.stringify(jwk(rsa.publicKey)));
  add('jwks kid match', v, rs, jwks(jwk(rsa2.publicKey, { kid: 'k2' }), jwk(rsa.publicKey, { kid: 'k1', alg: 'RS256' })));
  add('jwks kid points at wrong key', v, rs, jwks(jwk(rsa.publicKey, { kid: 'k2' }), jwk(rsa2.publicKey, { kid: 'k1' })));
  add('jwks kid unknown, fallback', v, rs, jwks(jwk(rsa2.publicKey, { kid: 'x' }), jwk(rsa.publicKey, { kid: 'y' })));
  add('jwks alg mismatch', v, rs.replace(/^[^.]+/, b64u('{"alg":"RS256"}')), jwks(jwk(rsa.publicKey, { alg: 'RS384' })));
  add('jwks kid match ignores alg', v, rs, jwks(jwk(rsa.publicKey, { kid: 'k1', alg: 'RS384' })));
  add('jwks unknown alg skipped', v, rs, jwks(jwk(rsa.publicKey, { alg: 'RSA-OAEP' })));
  add('jwks private key', v, rs, jwks(jwk(rsa.privateKey)));
  add('jwks empty', v, rs, jwks());
  add('jwks oct key', v, rs, jwks({ kty: 'oct', k: b64u('secret') }));
  add('jwks unknown kty', v, rs, jwks({ kty: 'XYZ' }));
  add('jwks rsa without n', v, rs, jwks({ kty: 'RSA', e: 'AQAB' }));
  add('jwks keys not array', v, rs, '{"keys": {}}');
  add('jwk alg not a string', v, rs, jwks(jwk(rsa.publicKey, { alg: 5 })));
  add('jwk kid not a string', v, rs, jwks(jwk(rsa.publicKey, { kid: 5 })));
  add('jwk use enc', v, rs, jwks(jwk(rsa.publicKey, { use: 'enc' })));
  add('jwk x25519', v, rs, jwks(jwk(generateKeyPairSync('x25519').publicKey)));
  add('jwk secp256k1', v, rs, jwks(jwk(k1.publicKey)));
  add('jwk point off curve', v, rs, jwks({ ...jwk(p256.publicKey), y: jwk(p384.publicKey).x }));
  add('jwks not an object', v, rs, '[1]');
  add('ec key', v, rs, spkiPem(p256.publicKey));
  add('x25519 pem', v, rs, spkiPem(generateKeyPairSync('x25519').publicKey));
  add('ed448 pem', v, rs, spkiPem(generateKeyPairSync('ed448').publicKey));
  const psPlain = `${b64u('{"alg":"PS256"}')}.${b64u('{}')}`;
  for (const saltLength of [0, 20, 222]) {
    const ps = `${psPlain}.${b64u(sign('sha256', Buffer.from(psPlain), { key: rsa.privateKey, padding: 6, saltLength }))}`;
    add(`pss salt ${saltLength}`, 'io.jwt.verify_ps256', ps, rsaPem);
    out.push({ name: `decode_verify pss salt ${saltLength}`, expr: `io.jwt.decode_verify(${rego(ps)}, {"cert": ${rego(rsaPem)}})` });
  }
  add('1024-bit key', v, token({ alg: 'RS256' }, claims, rsa1024.privateKey), spkiPem(rsa1024.publicKey));
  add('512-bit key', v, token({ alg: 'RS256' }, claims, rsa512.privateKey), spkiPem(rsa512.publicKey));
  add('pem trailing newline', v, rs, rsaPem);
  add('pem extra blank line', v, rs, `${rsaPem}\n`);
  add('pem leading text', v, rs, `hello\n${rsaPem}`);
  add('pem no final newline', v, rs, rsaPem.trimEnd());
  add('pem crlf', v, rs, rsaPem.replace(/\n/g, '\r\n'));
  add('pkcs1 pem', v, rs, rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  add('garbage key', v, rs, 'not a key');
  add('empty key', v, rs, '');
  add('two parts', v, rs.split('.').slice(0, 2).join('.'), rsaPem);
  add('no dots', v, 'abc', rsaPem);
  add('bad signature encoding', v, rs.replace(/[^.]+$/, '!!!'), rsaPem);
  add('header not json', v, `${b64u('nope')}.${rs.split('.')[1]}.${rs.split('.')[2]}`, rsaPem);
  add('header alg not string', v, token({ alg: 1 }, claims, rsa.privateKey, 'RS256'), rsaPem);
  add('header crit empty', v, token({ alg: 'RS256', crit: [] }, claims, rsa.privateKey), rsaPem);
  add('header enc (JWE)', v, token({ alg: 'RS256', enc: 'A256GCM' }, claims, rsa.privateKey), rsaPem);
  add('alg none unsigned', v, `${b64u('{"alg":"none"}')}.${b64u(JSON.stringify(claims))}.`, rsaPem);
  add('rs384 on rs256 token', 'io.jwt.verify_rs384', rs, rsaPem);
  const hs = token({ alg: 'HS256' }, claims, 'k');
  add(
    'hs header garbage still verifies',
    'io.jwt.verify_hs256',
    `${b64u('{{{')}.${hs.split('.')[1]}.${b64u(signRaw('HS256', 'k', `${b64u('{{{')}.${hs.split('.')[1]}`))}`,
    'k',
  );
  add('hs bad signature encoding', 'io.jwt.verify_hs256', hs.replace(/[^.]+$/, 'a'), 'k');
  add('hs alg none unsigned', 'io.jwt.verify_hs256', `${b64u('{"alg":"none"}')}.${b64u('{}')}.`, 'k');
  return out;
}

function decodeCases(): Case[] {
  const h = b64u('{"alg":"HS256"}');
  const inner = `${h}.${b64u('{"a":1}')}.${b64u('sig')}`;
  const raw = [
    `${h}.${b64u('{"a":1} x')}.sig`,
    `${h}.${b64u('{"a":1}  ')}.sig`,
    `${h}.${b64u('{"a":1}{"b":2}')}.sig`,
    `${h}.${b64u('{"a":1, "a": 2}')}.sig`,
    `${h}.${b64u('{"a":{"__proto__":{"x":1}}}')}.sig`,
    `${h}.eyJhIjoxfQ==.sig`,
    `${h}.eyJhIjoxfQ=.sig`,
    `${h}.eyJhIjox\nfQ.sig`,
    `${h}.eyJhIjoxfQ.si`,
    `${h}.eyJhIjoxfQ.s`,
    `${h}.eyJhIjoxfQ.`,
    `${h}.eyJhIjoi_yJ9.`, // {"a":"\xff"}
    `${h}.${b64u(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]))}.`, // truncated UTF-8
    `${h}.${b64u('"x"')}.`,
    `${h}.${b64u('[1]')}.`,
    `${b64u('[1]')}.${b64u('{}')}.`,
    `${b64u('{"alg":"HS256","enc":"x"}')}.${b64u('{}')}.`,
    `${b64u('{"alg":"HS256","cty":"JWT"}')}.${b64u(`'"${inner}"'`)}.`,
    `${b64u('{"alg":"HS256","cty":"JWT"}')}.${b64u(inner)}.`,
    `${b64u('{"alg":"HS256","cty":"jwt"}')}.${b64u(inner)}.`,
    `${b64u('{"cty":"JWT"}')}.${b64u('a.b')}.`,
    'a.b',
    'abc',
    'a.b.c.d',
    '..',
  ];
  return raw.map((t, i) => ({ name: `io.jwt.decode #${i}`, expr: call('io.jwt.decode', t) }));
}

function decodeVerifyCases(): Case[] {
  const out: Case[] = [];
  const dv = (name: string, tok: string, constraints: string): void => {
    out.push({ name: `decode_verify ${name}`, expr: `io.jwt.decode_verify(${rego(tok)}, ${constraints})` });
  };
  const cert = (c: string, extra = ''): string => `{"cert": ${rego(c)}, "time": ${NOW_NS}${extra}}`;
  const claims = { iss: 'https://issuer', aud: 'api', sub: 'alice', exp: NOW_S + 60, nbf: NOW_S - 60 };
  const rs = (payload: unknown, header: Record<string, unknown> = { alg: 'RS256' }): string => token(header, payload, rsa.privateKey, 'RS256');
  dv('valid', rs(claims), cert(rsaPem, ', "iss": "https://issuer", "aud": "api"'));
  dv('valid via cert', rs(claims), cert(rsaCert, ', "aud": "api"'));
  dv('aud present, no constraint', rs(claims), cert(rsaPem));
  dv('aud array', rs({ ...claims, aud: ['x', 3, 'api'] }), cert(rsaPem, ', "aud": "api"'));
  dv('aud array miss', rs({ ...claims, aud: ['x'] }), cert(rsaPem, ', "aud": "api"'));
  dv('aud object', rs({ ...claims, aud: { a: 'api' } }), cert(rsaPem, ', "aud": "api"'));
  dv('aud empty string, no constraint', rs({ sub: 'a', aud: '' }), cert(rsaPem));
  dv('aud constraint, no claim', rs({ sub: 'a' }), cert(rsaPem, ', "aud": "api"'));
  dv('iss mismatch', rs(claims), cert(rsaPem, ', "iss": "other", "aud": "api"'));
  dv('iss missing', rs({ sub: 'a' }), cert(rsaPem, ', "iss": "https://issuer"'));
  dv('expired', rs({ exp: NOW_S - 1 }), cert(rsaPem));
  dv('exp equals now', rs({ exp: NOW_S }), cert(rsaPem));
  dv('exp fractional', rs({ exp: NOW_S + 0.5 }), cert(rsaPem));
  dv('exp string', rs({ exp: 'soon' }), cert(rsaPem));
  dv('nbf future', rs({ nbf: NOW_S + 1 }), cert(rsaPem));
  dv('nbf equals now', rs({ nbf: NOW_S }), cert(rsaPem));
  dv('nbf string', rs({ nbf: 'now' }), cert(rsaPem));
  dv('wall clock, far future exp', rs({ exp: 4_000_000_000 }), `{"cert": ${rego(rsaPem)}}`);
  dv('wall clock, past exp', rs({ exp: NOW_S }), `{"cert": ${rego(rsaPem)}}`);
  dv('wrong key', rs(claims), cert(spkiPem(rsa2.publicKey), ', "aud": "api"'));
  dv('alg constraint ok', rs({ a: 1 }), cert(rsaPem, ', "alg": "RS256"'));
  dv('alg constraint mismatch', rs({ a: 1 }), cert(rsaPem, ', "alg": "RS512"'));
  dv('alg none', `${b64u('{"alg":"none"}')}.${b64u('{"a":1}')}.`, cert(rsaPem));
  dv('alg none with secret', `${b64u('{"alg":"none"}')}.${b64u('{"a":1}')}.`, `{"secret": "k", "time": ${NOW_NS}}`);
  dv('header without alg', rs({ a: 1 }, { typ: 'JWT' }), cert(rsaPem));
  dv('crit unknown', rs({ a: 1 }, { alg: 'RS256', crit: ['b64x'], b64x: true }), cert(rsaPem));
  dv('crit known', rs({ a: 1 }, { alg: 'RS256', crit: ['kid'], kid: 'k' }), cert(rsaPem));
  dv('crit not list', rs({ a: 1 }, { alg: 'RS256', crit: 'kid' }), cert(rsaPem));
  dv('kid not string', rs({ a: 1 }, { alg: 'RS256', kid: 5 }), cert(rsaPem));
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    dv(`${alg} secret`, token({ alg }, { a: 1 }, 'topsecret'), `{"secret": "topsecret", "time": ${NOW_NS}}`);
    dv(`${alg} wrong secret`, token({ alg }, { a: 1 }, 'topsecret'), `{"secret": "nope", "time": ${NOW_NS}}`);
  }
  dv('HS256 via jwks oct', token({ alg: 'HS256' }, { a: 1 }, 'topsecret'), cert(jwks({ kty: 'oct', k: b64u('topsecret') })));
  dv('RS256 with secret', rs({ a: 1 }), `{"secret": "k", "time": ${NOW_NS}}`);
  dv('HS256 with rsa cert', token({ alg: 'HS256' }, { a: 1 }, rsaPem), cert(rsaPem));
  for (const bits of ['256', '384', '512']) {
    dv(`PS${bits}`, token({ alg: `PS${bits}` }, { a: 1 }, rsa.privateKey), cert(rsaPem));
    dv(`RS${bits}`, token({ alg: `RS${bits}` }, { a: 1 }, rsa.privateKey), cert(rsaPem));
  }
  dv('ES256', token({ alg: 'ES256' }, { a: 1 }, p256.privateKey), cert(spkiPem(p256.publicKey)));
  dv('ES384', token({ alg: 'ES384' }, { a: 1 }, p384.privateKey), cert(JSON.stringify(jwk(p384.publicKey))));
  dv('ES512', token({ alg: 'ES512' }, { a: 1 }, p521.privateKey), cert(spkiPem(p521.publicKey)));
  dv('ES256 widened signature', widenEcSignature(token({ alg: 'ES256' }, { a: 1 }, p256.privateKey)), cert(spkiPem(p256.publicKey)));
  dv('ES256 token, P-384 key', token({ alg: 'ES256' }, { a: 1 }, p384.privateKey), cert(spkiPem(p384.publicKey)));
  dv('EdDSA', token({ alg: 'EdDSA' }, { a: 1 }, ed.privateKey), cert(edCert));
  dv('RS256 512-bit key', token({ alg: 'RS256' }, { a: 1 }, rsa512.privateKey), cert(spkiPem(rsa512.publicKey)));
  dv('private jwk', rs({ a: 1 }), cert(jwks(jwk(rsa.privateKey))));
  dv('jwks kid selects', rs({ a: 1 }, { alg: 'RS256', kid: 'b' }), cert(jwks(jwk(rsa2.publicKey, { kid: 'a' }), jwk(rsa.publicKey, { kid: 'b' }))));
  dv('jwks kid wrong key', rs({ a: 1 }, { alg: 'RS256', kid: 'a' }), cert(jwks(jwk(rsa2.publicKey, { kid: 'a' }), jwk(rsa.publicKey, { kid: 'b' }))));
  dv('jwks alg filter', rs({ a: 1 }), cert(jwks(jwk(rsa.publicKey, { alg: 'PS256' }))));
  const innerTok = rs({ sub: 'inner' }, { alg: 'RS256', typ: 'JWT' });
  dv('nested', rs(innerTok, { alg: 'RS256', cty: 'jwt' }), cert(rsaPem));
  dv('nested, inner wrong key', rs(token({ alg: 'RS256' }, { sub: 'x' }, rsa2.privateKey), { alg: 'RS256', cty: 'JWT' }), cert(rsaPem));
  dv('payload not json', rs('not json'), cert(rsaPem));
  dv('payload bad encoding, bad sig', `${b64u('{"alg":"RS256"}')}.!!!.${b64u('x')}`, cert(rsaPem));
  dv('cert and secret', rs({ a: 1 }), `{"cert": ${rego(rsaPem)}, "secret": "k"}`);
  dv('no key', rs({ a: 1 }), `{"time": ${NOW_NS}}`);
  dv('empty secret', rs({ a: 1 }), `{"secret": ""}`);
  dv('unknown constraint', rs({ a: 1 }), cert(rsaPem, ', "foo": 1'));
  dv('negative time', rs({ a: 1 }), `{"cert": ${rego(rsaPem)}, "time": -1}`);
  dv('bad cert', rs({ a: 1 }), `{"cert": "nope"}`);
  dv('empty jwks', rs({ a: 1 }), cert(jwks()));
  dv('malformed token', 'a.b', cert(rsaPem));
  return out;
}

export function jwtCases(): Case[] {
  return [...verifyCases(), ...decodeCases(), ...decodeVerifyCases()];
}

/** Cases where ztauthz deliberately differs from OPA, with the value OPA returns. */
export function jwtDivergences(): { name: string; expr: string; opa: unknown; ours: unknown }[] {
  const input = `${b64u('{"alg":"none"}')}.${b64u('{"a":1}')}`;
  return [
    {
      name: 'HS256 MAC over a header claiming alg none',
      expr: call('io.jwt.verify_hs256', `${input}.${b64u(signRaw('HS256', 'k', input))}`, 'k'),
      opa: true,
      ours: false,
    },
    {
      name: 'RS256 signature over a header claiming alg none',
      expr: call('io.jwt.verify_rs256', `${input}.${b64u(signRaw('RS256', rsa.privateKey, input))}`, rsaPem),
      opa: true,
      ours: false,
    },
    {
      name: 'token over 64 KiB',
      expr: call('io.jwt.decode', token({ alg: 'HS256' }, { pad: 'x'.repeat(70_000) }, 'k')),
      opa: 'value',
      ours: 'error',
    },
  ];
}
