// providers.aws.sign_req: AWS Signature Version 4 of an http.send request
// object, as OPA's topdown/providers.go and internal/providers/aws/
// signing_v4.go compute it (the same canonical request, the same headers
// added: host, x-amz-date, x-amz-content-sha256 for s3 and glacier,
// x-amz-security-token with a session token). Its arguments are read as Rego
// text (overrides.ts REGO_ARGUMENTS) so that a JSON body is signed over Go's
// json.Marshal of the numbers as written.

import { hash } from 'node:crypto';
import type { BuiltinFn } from './index.ts';
import { RegoNumber, RegoObject, goJsonMarshal, type RegoValue } from './regotext.ts';
import { escapedPath, parseGoUrlText, urlText } from './url.ts';
import { BuiltinError, compareGoStrings } from './util.ts';
import { HTTP_SEND_REQUEST_KEYS as REQUEST_KEYS } from '../httpsend/RequestKeys.ts';

const B = 'providers.aws.sign_req';
const REQUIRED_CONFIG = ['aws_access_key', 'aws_region', 'aws_secret_access_key', 'aws_service'];
const IGNORED = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

function get(o: RegoObject, key: string): RegoValue | undefined {
  const e = o.entries.find(([k]) => k === key);
  return e === undefined ? undefined : e[1];
}
const str = (v: RegoValue | undefined): string => (typeof v === 'string' ? v : '');
const keys = (o: RegoObject): string[] => o.entries.map(([k]) => (typeof k === 'string' ? k : '')).filter((k) => k !== '');

/**
 * HMAC-SHA256 (RFC 2104) over crypto.hash: createHmac with a Buffer key builds
 * a KeyObject per call, which made the five chained HMACs of a signature cost
 * about 100 µs; this costs a few.
 */
function hmac(key: Buffer | string, msg: string): Buffer {
  let k = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (k.length > 64) k = hash('sha256', k, 'buffer');
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < k.length; i++) {
    ipad[i] = (ipad[i] as number) ^ (k[i] as number);
    opad[i] = (opad[i] as number) ^ (k[i] as number);
  }
  const inner = hash('sha256', Buffer.concat([ipad, Buffer.from(msg, 'utf8')]), 'buffer');
  return hash('sha256', Buffer.concat([opad, inner]), 'buffer');
}
const sha256 = (b: Buffer | string): string => hash('sha256', b, 'hex');

function utcStamps(ns: bigint): [string, string] {
  const ms = ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n);
  const d = new Date(Number(ms));
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const date = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
  return [date, `${date}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`];
}

function signReq(reqV: RegoValue, cfgV: RegoValue, tsV: RegoValue): ArrayBuffer {
  if (!(reqV instanceof RegoObject)) throw new BuiltinError(B, 'operand 1 must be object');
  if (!(cfgV instanceof RegoObject)) throw new BuiltinError(B, 'operand 1 must be object');
  const cfgKeys = new Set(keys(cfgV));
  const missing = REQUIRED_CONFIG.filter((k) => !cfgKeys.has(k));
  if (missing.length > 0)
    throw new BuiltinError(B, `operand 2 missing required AWS config parameters(s): {${missing.map((k) => JSON.stringify(k)).join(', ')}}`);
  const invalid = REQUIRED_CONFIG.filter((k) => typeof get(cfgV, k) !== 'string');
  if (invalid.length > 0)
    throw new BuiltinError(B, `operand 2 invalid values for required AWS config parameters(s): {${invalid.map((k) => JSON.stringify(k)).join(', ')}}`);
  if (!(tsV instanceof RegoNumber)) throw new BuiltinError(B, 'operand 1 must be number');
  if (!/^-?\d+$/.test(tsV.text) || BigInt(tsV.text) > 2n ** 63n - 1n || BigInt(tsV.text) < -(2n ** 63n)) {
    throw new BuiltinError(B, 'operand 3 could not convert time_ns value into a unix timestamp');
  }
  const ns = BigInt(tsV.text);
  const badKeys = keys(reqV).filter((k) => !REQUEST_KEYS.has(k));
  if (badKeys.length > 0) throw new BuiltinError(B, `operand 1 invalid request parameters(s): {${badKeys.map((k) => JSON.stringify(k)).join(', ')}}`);
  const url = get(reqV, 'url');
  const method = get(reqV, 'method');
  if (url === undefined || method === undefined) throw new BuiltinError(B, 'operand 1 missing required request parameters(s)');
  const headersV = get(reqV, 'headers');
  if (headersV !== undefined && !(headersV instanceof RegoObject)) throw new BuiltinError(B, 'operand 0 must be object');
  if (typeof url !== 'string' || typeof method !== 'string') throw new BuiltinError(B, 'operand 1 invalid values for required request parameters(s)');
  let u: ReturnType<typeof parseGoUrlText>;
  try {
    u = parseGoUrlText(url);
  } catch (e) {
    throw new BuiltinError(B, `parse ${JSON.stringify(url)}: ${(e as Error).message}`);
  }
  const rawBody = get(reqV, 'raw_body');
  const bodyV = get(reqV, 'body');
  const body = rawBody !== undefined ? str(rawBody) : bodyV !== undefined ? goJsonMarshal(bodyV) : '';
  const disableV = get(cfgV, 'disable_payload_signing');
  if (disableV !== undefined && typeof disableV !== 'boolean') throw new BuiltinError(B, "operand 2 invalid value for 'disable_payload_signing' in AWS config");
  const service = str(get(cfgV, 'aws_service'));
  const region = str(get(cfgV, 'aws_region'));
  const token = get(cfgV, 'aws_session_token');
  const headers = headersV instanceof RegoObject ? headersV.entries.map(([k, v]) => [str(k), str(v)] as const) : [];

  const contentSha = disableV === true ? 'UNSIGNED-PAYLOAD' : sha256(Buffer.from(body, 'utf8'));
  const [dateNow, isoNow] = utcStamps(ns);
  const aws = new Map<string, string>([
    ['host', urlText(u.host)],
    ['x-amz-date', isoNow],
  ]);
  if (service === 's3' || service === 'glacier') aws.set('x-amz-content-sha256', contentSha);
  if (token !== undefined && str(token) !== '') aws.set('x-amz-security-token', str(token));
  const toSign = new Map(aws);
  for (const [k, v] of headers) if (!IGNORED.has(k.toLowerCase())) toSign.set(k.toLowerCase(), v);
  const ordered = [...toSign.keys()].sort(compareGoStrings);
  const canonical = `${method}\n${escapedPath(u)}\n${urlText(u.rawQuery)}\n${ordered.map((k) => `${k}:${toSign.get(k)}\n`).join('')}\n${ordered.join(';')}\n${contentSha}`;
  const scope = `${dateNow}/${region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${isoNow}\n${scope}\n${sha256(canonical)}`;
  let key = hmac(`AWS4${str(get(cfgV, 'aws_secret_access_key'))}`, dateNow);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = hmac(key, stringToSign).toString('hex');
  const auth = `AWS4-HMAC-SHA256 Credential=${str(get(cfgV, 'aws_access_key'))}/${scope},SignedHeaders=${ordered.join(';')},Signature=${signature}`;

  const signed = new Map<string, string>(headers.map(([k, v]) => [k, v]));
  signed.set('Authorization', auth);
  for (const [k, v] of aws) signed.set(k, v);
  const out = new RegoObject([
    ...reqV.entries.filter(([k]) => k !== 'headers'),
    ['headers', new RegoObject([...signed].map(([k, v]) => [k, v] as [RegoValue, RegoValue]))],
  ]);
  const json = new TextEncoder().encode(goJsonMarshal(out));
  return json.buffer.slice(json.byteOffset, json.byteOffset + json.byteLength) as ArrayBuffer;
}

export function awsBuiltins(): Record<string, BuiltinFn> {
  return { [B]: (r: RegoValue, c: RegoValue, t: RegoValue) => signReq(r, c, t) };
}
