// One downloaded bundle among several (bundles.<name>), read and verified on
// its own before it is combined with the others: bounded inflate, delta
// bundles refused, the signature checked with that bundle's own key, and its
// manifest roots read (OPA's default, no roots, is the whole data tree).
// Which bundle holds the policy (policy.wasm, or .rego files) and which only
// data decides how BundleCombine.ts joins them.
import { createHash } from 'node:crypto';
import { BundleError, readArchiveFiles } from '../Bundle.ts';
import { checkSignature, type LoaderOptions } from '../PolicyLoader.ts';
import type { JsonObject, JsonValue } from '../../types/Json.ts';

export interface BundlePart {
  readonly name: string;
  /** The manifest's revision, else a digest of the archive. */
  readonly revision: string;
  /** Manifest roots, normalised to slash paths without leading or trailing "/"; [""] is the whole tree. */
  readonly roots: readonly string[];
  /** wasm: holds /policy.wasm (used as built); rego: .rego files to compile; data: neither. */
  readonly kind: 'wasm' | 'rego' | 'data';
  /**
   * The archive as downloaded (what is persisted, and what a lone bundle
   * loads from). Only the archive is kept between combinations, not its
   * files as well: a large data bundle is held once, and inflating it again
   * to combine costs milliseconds.
   */
  readonly bytes: Uint8Array;
}

/** The part's files by path ("/..."), signatures left out (already verified). */
export async function partFiles(part: BundlePart): Promise<Map<string, Uint8Array>> {
  const files = await readArchiveFiles(part.bytes);
  files.delete('/.signatures.json');
  return files;
}

/** Reads and verifies one bundle; throws a BundleError naming it when it cannot be used at all. */
export async function readBundlePart(name: string, bytes: Uint8Array, opts: Pick<LoaderOptions, 'signingKey' | 'requireSignature'>): Promise<BundlePart> {
  const what = `bundle ${name}`;
  const all = await readArchiveFiles(bytes);
  const manifest = readManifest(all, what);
  if (manifest['type'] === 'delta') throw new BundleError(`${what} is a delta bundle; ztauthz takes snapshot bundles only`);
  await checkSignature(all, what, opts);
  const kind = all.has('/policy.wasm') ? 'wasm' : [...all.keys()].some((p) => p.endsWith('.rego')) ? 'rego' : 'data';
  const revision = typeof manifest['revision'] === 'string' && manifest['revision'] !== '' ? manifest['revision'] : contentRevision(bytes);
  return { name, revision, roots: readRoots(manifest, what), kind, bytes };
}

export function contentRevision(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

export function readManifest(files: ReadonlyMap<string, Uint8Array>, what: string): Record<string, unknown> {
  const raw = files.get('/.manifest');
  if (!raw) return {};
  try {
    const m = JSON.parse(Buffer.from(raw).toString('utf8')) as unknown;
    if (m !== null && typeof m === 'object' && !Array.isArray(m)) return m as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw new BundleError(`${what}: /.manifest is not a JSON object`);
}

function readRoots(manifest: Record<string, unknown>, what: string): string[] {
  const roots = manifest['roots'];
  if (roots === undefined) return [''];
  if (!Array.isArray(roots) || roots.some((r) => typeof r !== 'string')) throw new BundleError(`${what}: manifest roots must be a list of strings`);
  return (roots as string[]).map((r) => r.replace(/^\/+|\/+$/g, ''));
}

/** OPA's rule: two roots overlap when one is a path prefix of the other, segment by segment ("" overlaps everything). */
export function rootsOverlap(a: string, b: string): boolean {
  if (a === '' || b === '') return true;
  const x = a.split('/');
  const y = b.split('/');
  return x.slice(0, Math.min(x.length, y.length)).every((s, i) => s === y[i]);
}

/** Refuses two bundles whose roots overlap, naming both: each bundle must own its part of the data tree. */
export function checkRootsDisjoint(parts: readonly BundlePart[]): void {
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      for (const a of parts[i]!.roots) {
        for (const b of parts[j]!.roots) {
          if (!rootsOverlap(a, b)) continue;
          const shown = (r: string) => (r === '' ? '"" (no roots in its manifest: the whole data tree)' : JSON.stringify(r));
          throw new BundleError(
            `bundles ${parts[i]!.name} and ${parts[j]!.name} have overlapping roots: ${shown(a)} and ${shown(b)}; give each bundle's .manifest roots that do not overlap`,
          );
        }
      }
    }
  }
}

/**
 * Refuses data outside the bundle's roots, as OPA does: walking down from the
 * top, a path under a root is the bundle's; a path that is only a prefix of
 * roots must be an object whose keys are checked in turn.
 */
export function checkDataWithinRoots(part: BundlePart, data: JsonObject): void {
  const roots = part.roots.map((r) => (r === '' ? [] : r.split('/')));
  const walk = (node: JsonValue, path: string[]): void => {
    if (roots.some((r) => r.length <= path.length && r.every((s, i) => s === path[i]))) return;
    if (node !== null && typeof node === 'object' && !Array.isArray(node) && roots.some((r) => path.every((s, i) => s === r[i]))) {
      for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      return;
    }
    throw new BundleError(`bundle ${part.name}: data at /${path.join('/')} is outside its manifest roots ${JSON.stringify(part.roots)}`);
  };
  walk(data, []);
}
