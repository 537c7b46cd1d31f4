// io.jwt.encode_sign and io.jwt.encode_sign_raw: JWS compact serialisation
// signed with a JWK. encode_sign serialises header and payload as Go's
// encoding/json does (keys sorted, <, >, & and U+2028/9 escaped), so HS*,
// RS* and EdDSA tokens are byte for byte OPA's; PS* and ES* signatures are
// randomised in both.

import { createHmac, createPrivateKey, createSecretKey, sign, constants } from 'node:crypto';
import type { BuiltinFn } from './index.ts';
import { BuiltinError, objectOperand, stringOperand } from './util.ts';

/** Go's json.Marshal of a JSON value (maps with sorted keys). */
export function goJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return `{${keys.map((k) => `${goString(k)}:${goJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  if (typeof v === 'string') return goString(v);
  return JSON.stringify(v);
}

/** Go's json.MarshalIndent (without the prefix of the first line, as Go). */
export function goJsonIndent(v: unknown, prefix: string, indent: string, depth = 0): string {
  const nl = (d: number): string => `\n${prefix}${indent.repeat(d)}`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${v.map((x) => nl(depth + 1) + goJsonIndent(x, prefix, indent, depth + 1)).join(',')}${nl(depth)}]`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (keys.length === 0) return '{}';
    const items = keys.map((k) => `${nl(depth + 1)}${goString(k)}: ${goJsonIndent((v as Record<string, unknown>)[k], prefix, indent, depth + 1)}`);
    return `{${items.join(',')}${nl(depth)}}`;
  }
  return goJson(v);
}

function marshalWithOptions(x: unknown, o: unknown): string {
  const b = 'json.marshal_with_options';
  const opts = objectOperand(b, o, 2);
  let indent = '\t';
  let prefix = '';
  let implicit = false;
  let explicit: boolean | undefined;
  for (const [k, v] of Object.entries(opts)) {
    if (k === 'prefix' || k === 'indent') {
      if (typeof v !== 'string') throw new BuiltinError(b, `operand 2 key ${k} failed cast to string`);
      if (k === 'prefix') prefix = v;
      else indent = v;
      implicit = true;
    } else if (k === 'pretty') {
      if (typeof v !== 'boolean') throw new BuiltinError(b, `operand 2 key ${k} failed cast to bool`);
      explicit = v;
    } else throw new BuiltinError(b, `operand 2 object contained unknown key ${k}`);
  }
  return (explicit ?? implicit) ? prefix + goJsonIndent(x, prefix, indent) : goJson(x);
}

function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

function signToken(builtin: string, headerText: string, payloadText: string, jwk: Record<string, unknown>): string {
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    throw new BuiltinError(builtin, 'invalid JWS header');
  }
  const alg = (header as { alg?: unknown } | null)?.alg;
  if (typeof alg !== 'string') throw new BuiltinError(builtin, 'missing alg in header');
  const input = `${Buffer.from(headerText).toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`;
  const m = /^(HS|RS|PS|ES)(256|384|512)$|^(EdDSA)$/.exec(alg);
  if (m === null) throw new BuiltinError(builtin, `unsupported signature algorithm ${alg}`);
  let sig: Buffer;
  try {
    if (m[1] === 'HS') {
      if (typeof jwk.k !== 'string') throw new Error('oct key expected');
      sig = createHmac(HASH[m[2] as string] as string, createSecretKey(Buffer.from(jwk.k, 'base64url')))
        .update(input)
        .digest();
    } else {
      const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
      const data = Buffer.from(input);
      if (m[3] === 'EdDSA') sig = sign(null, data, key);
      else if (m[1] === 'RS') sig = sign(HASH[m[2] as string] as string, data, key);
      else if (m[1] === 'PS') sig = sign(HASH[m[2] as string] as string, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(m[2]) / 8 });
      else sig = sign(HASH[m[2] as string] as string, data, { key, dsaEncoding: 'ieee-p1363' });
    }
  } catch (e) {
    throw new BuiltinError(builtin, `failed to sign: ${(e as Error).message}`);
  }
  return `${input}.${sig.toString('base64url')}`;
}

export function jwtSignBuiltins(): Record<string, BuiltinFn> {
  return {
    'io.jwt.encode_sign': (h: unknown, p: unknown, k: unknown) => {
      const b = 'io.jwt.encode_sign';
      const header = objectOperand(b, h, 1);
      const payload = objectOperand(b, p, 2);
      const key = objectOperand(b, k, 3);
      return signToken(b, goJson(header), goJson(payload), key);
    },
    'json.marshal_with_options': marshalWithOptions,
    'io.jwt.encode_sign_raw': (h: unknown, p: unknown, k: unknown) => {
      const b = 'io.jwt.encode_sign_raw';
      const header = stringOperand(b, h, 1);
      const payload = stringOperand(b, p, 2);
      let key: Record<string, unknown>;
      try {
        key = JSON.parse(stringOperand(b, k, 3)) as Record<string, unknown>;
      } catch {
        throw new BuiltinError(b, 'invalid JWK');
      }
      return signToken(b, header, payload, key);
    },
  };
}
