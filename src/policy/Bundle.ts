// Reads OPA bundles (a .tar.gz or a directory) into memory: policy.wasm,
// data.json files merged at their directory path, and .manifest's revision.
// Bounded: a bundle over the size limits is refused, not half-loaded.
import { createGunzip, gunzipSync } from 'node:zlib';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { extract } from 'tar-stream';
import type { JsonObject, JsonValue } from '../types/Json.ts';

export interface BundleFiles {
  readonly wasm: Uint8Array;
  readonly data: JsonObject;
  /** `.manifest` revision, or "" when the bundle has none. */
  readonly revision: string;
  /** Every file of the bundle by path (leading "/"), for signature checks. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /**
   * The policy's plan (OPA IR, plan.json of `opa build -t plan`) when ztauthz
   * compiled the Rego itself: what cache/PolicyReads.ts analyses to keep the
   * cache.ignore fields the policy reads in the key.
   */
  readonly plan?: unknown;
}

export class BundleError extends Error {
  override name = 'BundleError';
}

/** Largest bundle (uncompressed) ztauthz loads. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

/**
 * Reads a .tar.gz bundle, measuring it first: the archive is inflated once
 * as a stream whose 16 KiB output chunks are dropped as soon as they are
 * counted, and only an archive within MAX_BUNDLE_BYTES is inflated for real.
 * Inflating straight into memory held up to the limit (256 MiB) before
 * refusing a gzip bomb, and the process kept that memory (RSS 75 -> 336 MiB
 * for 300 MiB of zeros, still 336 after a full GC); measured, it now stays
 * within the collector's slack for dropped buffers (75 -> ~125 MiB at the
 * refusal, less after a GC). The price is a second inflate of bundles that
 * load: milliseconds for a policy-sized bundle.
 */
export async function loadBundleArchive(archive: Uint8Array): Promise<BundleFiles> {
  await checkInflatedSize(archive, MAX_BUNDLE_BYTES);
  return await readBundleArchive(archive);
}

/** Every file of a .tar.gz (bounded as loadBundleArchive), whatever it holds: e.g. the plan bundle of `opa build -t plan`. */
export async function readArchiveFiles(archive: Uint8Array): Promise<Map<string, Uint8Array>> {
  await checkInflatedSize(archive, MAX_BUNDLE_BYTES);
  return untar(gunzipSync(archive, { maxOutputLength: MAX_BUNDLE_BYTES }));
}

/** Throws a BundleError unless the gzip stream inflates, to at most `limit` bytes; keeps none of the output. */
export function checkInflatedSize(archive: Uint8Array, limit: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const gunzip = createGunzip({ chunkSize: 16 * 1024 });
    let total = 0;
    gunzip.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) gunzip.destroy(new BundleError(`bundle archive inflates to more than ${limit} bytes (refused before it was held in memory)`));
    });
    gunzip.on('error', (err) => reject(err instanceof BundleError ? err : new BundleError(`not a gzip archive: ${err.message}`)));
    gunzip.on('end', () => resolve());
    gunzip.end(archive);
  });
}

/** Reads a .tar.gz bundle in one go (bounded by MAX_BUNDLE_BYTES, but holding up to that much before refusing): loadBundleArchive measures first. */
export async function readBundleArchive(archive: Uint8Array): Promise<BundleFiles> {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: MAX_BUNDLE_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BundleError(`bundle archive inflates to more than ${MAX_BUNDLE_BYTES} bytes`);
    throw new BundleError(`not a gzip archive: ${(err as Error).message}`);
  }
  return filesToBundle(await untar(tar));
}

/**
 * Reads a bundle directory. Symlinks are followed only where they stay
 * inside the directory (by real path): a Kubernetes ConfigMap volume is
 * visible files linking to ..data/<file>, ..data linking to a
 * ..<timestamp> directory beside it, all inside the mount. A link out of
 * the directory (to /etc, to another volume) is refused, not read.
 */
export function readBundleDirectory(dir: string): BundleFiles {
  const files = new Map<string, Uint8Array>();
  // Read by real path, the one the walk checked.
  walkBundleDirectory(dir, (shown, real) => files.set(shown, readFileSync(real)));
  return filesToBundle(files);
}

/**
 * Visits every regular file of a policy directory (bundle or Rego) as
 * ("/path/in/bundle", real path), refusing links that leave the directory,
 * link loops, dangling links and more than MAX_BUNDLE_BYTES in all; see
 * readBundleDirectory for the ConfigMap layout this keeps working.
 */
export function walkBundleDirectory(dir: string, onFile: (shown: string, real: string) => void): void {
  let total = 0;
  let root: string;
  try {
    root = realpathSync(dir);
  } catch (err) {
    throw new BundleError(`bundle directory ${dir} cannot be resolved: ${(err as Error).message}`);
  }
  const inside = (real: string): boolean => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
  // Real paths of the directories being walked: a link back up is a loop.
  const walking = new Set<string>();
  const walk = (d: string, realDir: string): void => {
    walking.add(realDir);
    for (const name of readdirSync(d)) {
      // The kubelet's ..data and ..<timestamp> entries of a ConfigMap volume
      // duplicate the visible files; they are not part of the bundle.
      if (name.startsWith('..')) continue;
      const full = join(d, name);
      const shown = `/${relative(dir, full).split(sep).join('/')}`;
      let real: string;
      try {
        real = realpathSync(full);
      } catch (err) {
        throw new BundleError(`bundle entry ${shown} cannot be resolved (a dangling symlink?): ${(err as Error).message}`);
      }
      if (!inside(real)) throw new BundleError(`bundle entry ${shown} is a symlink to ${real}, outside the bundle directory`);
      const st = statSync(real);
      if (st.isDirectory()) {
        if (walking.has(real)) throw new BundleError(`bundle entry ${shown} links back to a directory it is in (a symlink loop)`);
        walk(full, real);
      } else if (st.isFile()) {
        total += st.size;
        if (total > MAX_BUNDLE_BYTES) throw new BundleError(`bundle directory is larger than ${MAX_BUNDLE_BYTES} bytes`);
        onFile(shown, real);
      }
    }
    walking.delete(realDir);
  };
  walk(dir, root);
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

/** Merges `value` (an object) into `root` at `segments`; throws when it lands on a value that is not an object. */
export function mergeAt(root: JsonObject, segments: string[], value: JsonValue, path: string): void {
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

/** Most entries (files, directories, anything) a bundle archive may hold: each is a header to parse and a map entry to keep. */
export const MAX_BUNDLE_ENTRIES = 100_000;

/**
 * The regular files of a tar (tar-stream: ustar, GNU long names, pax path
 * records), by normalised path. Refused: a bad header or checksum, a
 * truncated archive, more than MAX_BUNDLE_ENTRIES entries, and a path that
 * leaves the bundle root. The size bound is the caller's: the tar is already
 * inflated within MAX_BUNDLE_BYTES.
 */
async function untar(tar: Buffer): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const entries = extract();
  entries.end(tar);
  let count = 0;
  try {
    for await (const entry of entries) {
      if (++count > MAX_BUNDLE_ENTRIES) throw new BundleError(`bundle archive has more than ${MAX_BUNDLE_ENTRIES} entries`);
      const { name, type } = entry.header;
      // Every entry is read to its end (tar-stream moves on only then); only regular files are kept.
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (type === 'file') files.set(normaliseTarPath(name), Buffer.concat(chunks));
    }
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`bundle archive is not a valid tar (truncated or corrupt): ${(err as Error).message}`);
  }
  return files;
}

function normaliseTarPath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new BundleError(`tar entry ${name} escapes the bundle root`);
  return `/${parts.join('/')}`;
}
