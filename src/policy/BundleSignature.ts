// Verifies OPA's bundle signature format: `.signatures.json` holds a JWT whose
// payload lists every file of the bundle with its SHA-256. JSON files are
// hashed in OPA's canonical form (sorted keys, compact, Go's escaping), other
// files as raw bytes. A bundle is accepted only when the JWT verifies with a
// configured key AND the listed files are exactly the bundle's files.
import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BundleError } from './Bundle.ts';

export interface SigningKey {
  readonly keyId: string;
  readonly algorithm: string;
  readonly key: KeyObject;
  /** OPA's signing scope: when set, the signature's payload must carry the same `scope`. */
  readonly scope?: string | undefined;
  /** A signature without a kid is for this key (OPA's keyid); otherwise it counts as kid "default". */
  readonly anyKid?: boolean | undefined;
}

const SIGNATURES = '/.signatures.json';
/** A JWT of this size covers tens of thousands of files; anything larger is not a real signature. */
const MAX_SIGNATURE_BYTES = 1024 * 1024;

export function readSigningKey(path: string, keyId: string, algorithm: string): SigningKey {
  const text = readFileSync(path);
  const key = algorithm.startsWith('HS') ? createSecretKey(text) : createPublicKey(text);
  return { keyId, algorithm, key };
}

/** A key given as text (OPA's keys.<id>.key: PEM, or the secret for HS*). */
export function signingKeyFromText(text: string, keyId: string, algorithm: string, scope?: string): SigningKey {
  const key = algorithm.startsWith('HS') ? createSecretKey(Buffer.from(text)) : createPublicKey(text);
  return { keyId, algorithm, key, scope, anyKid: true };
}

export function isSigned(files: ReadonlyMap<string, Uint8Array>): boolean {
  return files.has(SIGNATURES);
}

export async function verifyBundleSignature(files: ReadonlyMap<string, Uint8Array>, key: SigningKey): Promise<void> {
  const raw = files.get(SIGNATURES);
  if (!raw) throw new BundleError('bundle is not signed (no .signatures.json)');
  if (raw.length > MAX_SIGNATURE_BYTES) throw new BundleError('.signatures.json is too large');
  let jwts: unknown;
  try {
    jwts = (JSON.parse(Buffer.from(raw).toString('utf8')) as { signatures?: unknown }).signatures;
  } catch {
    throw new BundleError('.signatures.json is not valid JSON');
  }
  if (!Array.isArray(jwts) || jwts.length !== 1 || typeof jwts[0] !== 'string') {
    throw new BundleError('.signatures.json must hold exactly one signature');
  }
  let payload: Uint8Array;
  try {
    // jose is imported here, not at the top: only signed bundles need it.
    const { compactVerify } = await import('jose');
    const verified = await compactVerify(jwts[0], key.key, { algorithms: [key.algorithm] });
    // A signature without a kid is checked with the configured key, as OPA does for bundles.<name>.signing.keyid.
    const kid = verified.protectedHeader.kid ?? (key.anyKid ? key.keyId : 'default');
    if (kid !== key.keyId) throw new Error(`signed with key id ${kid}, expected ${key.keyId}`);
    payload = verified.payload;
  } catch (err) {
    throw new BundleError(`bundle signature does not verify: ${(err as Error).message}`);
  }
  if (key.scope !== undefined) {
    let scope: unknown;
    try {
      scope = (JSON.parse(Buffer.from(payload).toString('utf8')) as { scope?: unknown }).scope;
    } catch {
      throw new BundleError('bundle signature payload is not valid JSON');
    }
    if (scope !== key.scope)
      throw new BundleError(`bundle signature scope ${JSON.stringify(scope ?? null)} is not the configured ${JSON.stringify(key.scope)}`);
  }
  checkFileList(files, payload);
}

interface SignedFile {
  name: string;
  hash: string;
  algorithm: string;
}

function checkFileList(files: ReadonlyMap<string, Uint8Array>, payload: Uint8Array): void {
  let listed: SignedFile[];
  try {
    listed = (JSON.parse(Buffer.from(payload).toString('utf8')) as { files: SignedFile[] }).files;
  } catch {
    throw new BundleError('bundle signature payload is not valid JSON');
  }
  if (!Array.isArray(listed)) throw new BundleError('bundle signature payload lists no files');
  const expected = new Map<string, SignedFile>();
  for (const f of listed) expected.set(f.name.startsWith('/') ? f.name : `/${f.name}`, f);
  for (const [path, bytes] of files) {
    if (path === SIGNATURES) continue;
    const signed = expected.get(path);
    if (!signed) throw new BundleError(`bundle file ${path} is not covered by the signature`);
    if (signed.algorithm !== 'SHA-256') throw new BundleError(`bundle file ${path}: unsupported hash ${signed.algorithm}`);
    if (fileHash(path, bytes) !== signed.hash) throw new BundleError(`bundle file ${path} does not match its signed hash (tampered?)`);
    expected.delete(path);
  }
  if (expected.size > 0) throw new BundleError(`signed file(s) missing from the bundle: ${[...expected.keys()].join(', ')}`);
}

function fileHash(path: string, bytes: Uint8Array): string {
  const h = createHash('sha256');
  if (path.endsWith('.json') || path.endsWith('/.manifest')) {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      throw new BundleError(`bundle file ${path} is not valid JSON`);
    }
    h.update(canonicalJson(value));
  } else {
    h.update(bytes);
  }
  return h.digest('hex');
}

/** JSON as Go's encoding/json writes it with sorted keys: what OPA hashes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
