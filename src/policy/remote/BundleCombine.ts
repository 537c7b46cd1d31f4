// Several bundles (bundles.<name>, each read and verified by BundleParts.ts)
// joined into the one policy the server evaluates, as OPA activates several
// bundles into one store: roots must not overlap and each bundle's data must
// lie within its roots. Rego bundles are compiled together by `opa build -b`
// (which checks their roots too) into one wasm, or a prebuilt wasm bundle is
// used as it is; the data-only bundles' data is merged beside the policy's. A
// prebuilt wasm cannot be linked with other policy, so a wasm bundle next to
// a Rego bundle, or two wasm bundles, are refused with a line saying so.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import type { JsonObject, JsonValue } from '../../types/Json.ts';
import { BundleError, loadBundleArchive, mergeAt, readArchiveFiles, type BundleFiles } from '../Bundle.ts';
import { compileBundlesAsync, CompileError, opaBinary } from '../OpaCompiler.ts';
import type { PolicyEngine } from '../PolicyEngine.ts';
import { instantiate, type LoaderOptions } from '../PolicyLoader.ts';
import { checkDataWithinRoots, checkRootsDisjoint, partFiles, type BundlePart } from './BundleParts.ts';

/** The revision of a combination: each bundle's, by name, in the configured order. */
export function combinedRevision(parts: readonly BundlePart[]): string {
  return parts.map((p) => `${p.name}:${p.revision}`).join(',');
}

/**
 * Joins bundles into one policy. It remembers the last policy it compiled
 * from the Rego bundles (by their content), so a change to a data-only bundle
 * (grants published every minute) only merges data and instantiates, without
 * running opa again.
 */
export class BundleCombiner {
  readonly #opts: LoaderOptions;
  #compiled: { readonly key: string; readonly files: BundleFiles } | undefined;

  constructor(opts: LoaderOptions) {
    this.#opts = opts;
  }

  /** One policy from several bundles (two or more; a lone bundle loads as RemoteLoader.ts loads it). */
  async combine(parts: readonly BundlePart[]): Promise<PolicyEngine> {
    checkRootsDisjoint(parts);
    const names = (kind: BundlePart['kind']) => parts.filter((p) => p.kind === kind).map((p) => p.name);
    const wasm = names('wasm');
    const rego = names('rego');
    if (wasm.length > 1)
      throw new BundleError(`bundles ${wasm.join(', ')} each hold a policy.wasm; ztauthz evaluates one wasm: build their Rego into one bundle`);
    if (wasm.length === 1 && rego.length > 0) {
      throw new BundleError(
        `bundle ${wasm[0]} holds a prebuilt policy.wasm and ${rego.join(', ')} hold Rego; a prebuilt wasm cannot be linked with other policy: publish the Rego of both, or one wasm bundle with data-only bundles beside it`,
      );
    }
    if (wasm.length === 0 && rego.length === 0)
      throw new BundleError(`none of bundles ${parts.map((p) => p.name).join(', ')} holds a policy (policy.wasm or .rego files)`);
    const policyParts = parts.filter((p) => p.kind !== 'data');
    let policy: BundleFiles;
    if (wasm.length === 1) {
      policy = await loadBundleArchive(policyParts[0]!.bytes);
      checkDataWithinRoots(policyParts[0]!, policy.data);
    } else {
      policy = await this.#compile(policyParts);
    }
    // A copy: the data-only bundles' data is merged into it, and the compiled policy is kept for the next change.
    const data = structuredClone(policy.data);
    for (const part of parts.filter((p) => p.kind === 'data')) {
      const own = await dataOf(part);
      checkDataWithinRoots(part, own);
      mergeDeep(data, own, part.name, []);
    }
    return await instantiate({ ...policy, data, revision: combinedRevision(parts) }, this.#opts);
  }

  async #compile(regoParts: readonly BundlePart[]): Promise<BundleFiles> {
    const key = regoParts.map((p) => `${p.name}:${createHash('sha256').update(p.bytes).digest('hex')}`).join(',');
    if (this.#compiled?.key === key) return this.#compiled.files;
    const files = await compileTogether(regoParts, this.#opts);
    this.#compiled = { key, files };
    return files;
  }
}

/** One policy from several bundles, without remembering a compiled policy (tests, one-off loads). */
export function combineBundles(parts: readonly BundlePart[], opts: LoaderOptions): Promise<PolicyEngine> {
  return new BundleCombiner(opts).combine(parts);
}

/** A data-only bundle's data.json and data.yaml files, each merged at its directory's path. */
async function dataOf(part: BundlePart): Promise<JsonObject> {
  const data: JsonObject = {};
  for (const [path, bytes] of await partFiles(part)) {
    const file = path.slice(path.lastIndexOf('/') + 1);
    if (file !== 'data.json' && file !== 'data.yaml' && file !== 'data.yml') continue;
    const text = Buffer.from(bytes).toString('utf8');
    let value: JsonValue;
    try {
      // yaml is loaded only for bundles that carry YAML data.
      value =
        file === 'data.json' ? (JSON.parse(text) as JsonValue) : ((createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text) as JsonValue);
    } catch (err) {
      throw new BundleError(`bundle ${part.name}: ${path} does not parse: ${(err as Error).message}`);
    }
    const one: JsonObject = {};
    mergeAt(one, path.split('/').slice(1, -1), value, `bundle ${part.name}: ${path}`);
    mergeDeep(data, one, part.name, []);
  }
  return data;
}

/** Merges `from` into `into`, object by object; two values at one path (never with disjoint roots) are refused. */
function mergeDeep(into: JsonObject, from: JsonObject, name: string, path: string[]): void {
  for (const [k, v] of Object.entries(from)) {
    const have = into[k];
    if (have === undefined) into[k] = v;
    else if (isObject(have) && isObject(v)) mergeDeep(have, v, name, [...path, k]);
    else throw new BundleError(`bundle ${name}: data at /${[...path, k].join('/')} is also set by another bundle`);
  }
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `opa build -b` over the Rego bundles, each written to a directory named after
 * it (so opa's messages name the bundle), then the plan of the same sources
 * for the cache's key analysis (cache/PolicyReads.ts), as for a Rego directory.
 */
async function compileTogether(parts: readonly BundlePart[], opts: LoaderOptions): Promise<BundleFiles> {
  const root = mkdtempSync(join(tmpdir(), 'ztauthz-bundles-'));
  try {
    const dirs: string[] = [];
    for (const [i, part] of parts.entries()) {
      const safe = part.name.replace(/[^\w.-]/g, '_');
      const dir = join(root, safe === part.name && parts.findIndex((p) => p.name === part.name) === i ? safe : `${i}_${safe}`);
      for (const [path, content] of await partFiles(part)) {
        const rel = normalize(path.replace(/^\/+/, ''));
        if (rel.startsWith('..') || rel === '.' || rel === '')
          throw new BundleError(`bundle ${part.name}: file path ${JSON.stringify(path)} leaves the bundle`);
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), content);
      }
      mkdirSync(dir, { recursive: true });
      dirs.push(dir);
    }
    const build = async (target: 'wasm' | 'plan') => {
      try {
        return await compileBundlesAsync(target, dirs, opts.entrypoints, opaBinary(opts.opa), opts.regoVersion);
      } catch (err) {
        // opa names each bundle by its directory: show the bundle's name instead.
        if (err instanceof CompileError) throw new CompileError(err.message.split(`${root}/`).join(''));
        throw err;
      }
    };
    const compiled = await loadBundleArchive(await build('wasm'));
    let plan: unknown;
    try {
      const raw = (await readArchiveFiles(await build('plan'))).get('/plan.json');
      plan = raw ? JSON.parse(Buffer.from(raw).toString('utf8')) : undefined;
    } catch {
      // Without a plan the policy is keyed as a prebuilt wasm is, never less safely.
      plan = undefined;
    }
    return { ...compiled, plan };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
