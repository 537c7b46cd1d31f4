// Reads OPA bundles (a .tar.gz or a directory) into memory: policy.wasm,
// data.json files merged at their directory path, and .manifest's revision.
// Bounded: a bundle over the size limits is refused, not half-loaded.
import { gunzipSync } from 'node:zlib';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { JsonObject, JsonValue } from '../types/Json.ts';

export interface BundleFiles {
  readonly wasm: Uint8Array;
  readonly data: JsonObject;
  /** `.manifest` revision, or "" when the bundle has none. */
  readonly revision: string;
  /** Every file of the bundle by path (leading "/"), for signature checks. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export class BundleError extends Error {
  override name = 'BundleError';
}

/** Largest bundle (uncompressed) ztauthz loads. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

export function readBundleArchive(archive: Uint8Array): BundleFiles {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: MAX_BUNDLE_BYTES });
  } catch (err) {
    throw new BundleError(`not a gzip archive or larger than ${MAX_BUNDLE_BYTES} bytes: ${(err as Error).message}`);
  }
  return filesToBundle(untar(tar));
}

export function readBundleDirectory(dir: string): BundleFiles {
  const files = new Map<string, Uint8Array>();
  let total = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      // The kubelet's ..data and ..<timestamp> entries of a ConfigMap volume
      // duplicate the visible files; they are not part of the bundle.
      if (name.startsWith('..')) continue;
      const full = join(d, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) {
        total += st.size;
        if (total > MAX_BUNDLE_BYTES) throw new BundleError(`bundle directory is larger than ${MAX_BUNDLE_BYTES} bytes`);
        files.set('/' + relative(dir, full).split(sep).join('/'), readFileSync(full));
      }
    }
  };
  walk(dir);
  return filesToBundle(files);
}

function filesToBundle(files: Map<string, Uint8Array>): BundleFiles {
  const wasm = files.get('/policy.wasm');
  if (!wasm) throw new BundleError('bundle has no /policy.wasm (build it with `opa build -t wasm`)');
  const data: JsonObject = {};
  for (const [path, bytes] of files) {
    if (!path.endsWith('/data.json')) continue;
    const value = parseJson(bytes, path);
    const segments = path.split('/').slice(1, -1);
    mergeAt(data, segments, value, path);
  }
  let revision = '';
  const manifest = files.get('/.manifest');
  if (manifest) {
    const m = parseJson(manifest, '/.manifest');
    if (m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m['revision'] === 'string') revision = m['revision'];
  }
  return { wasm, data, revision, files };
}

function parseJson(bytes: Uint8Array, path: string): JsonValue {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as JsonValue;
  } catch (err) {
    throw new BundleError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function mergeAt(root: JsonObject, segments: string[], value: JsonValue, path: string): void {
  let node = root;
  for (const seg of segments) {
    const next = node[seg];
    if (next === undefined) node = node[seg] = {};
    else if (next !== null && typeof next === 'object' && !Array.isArray(next)) node = next;
    else throw new BundleError(`${path} conflicts with data at ${segments.join('/')}`);
  }
  if (segments.length === 0) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BundleError(`${path} must hold an object`);
    Object.assign(root, value);
    return;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) Object.assign(node, value);
  else throw new BundleError(`${path} must hold an object`);
}

/** Minimal ustar reader: regular files only; GNU long names and pax path records honoured. */
function untar(tar: Buffer): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new BundleError(`tar header at ${offset} has a bad checksum (truncated or corrupt archive)`);
    const size = parseOctal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = cString(header.subarray(345, 500));
    let name = cString(header.subarray(0, 100));
    if (prefix) name = `${prefix}/${name}`;
    const start = offset + 512;
    const end = start + size;
    if (end > tar.length) throw new BundleError(`tar entry ${name} runs past the end of the archive (truncated)`);
    const content = tar.subarray(start, end);
    offset = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = cString(content);
      continue;
    }
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(content.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type !== '0' && type !== '\0') continue;
    files.set(normaliseTarPath(name), content);
  }
  return files;
}

function normaliseTarPath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new BundleError(`tar entry ${name} escapes the bundle root`);
  return '/' + parts.join('/');
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function parseOctal(b: Buffer): number {
  const s = cString(b).trim();
  if (!/^[0-7]*$/.test(s)) throw new BundleError('tar header has a bad size field');
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
  return sum === stored;
}
