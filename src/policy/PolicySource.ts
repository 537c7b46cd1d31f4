// Resolves --policy PATH into bundle files: an OPA bundle (.tar.gz or a
// directory with policy.wasm), a directory of .rego files (compiled now with
// opa), or a bare .wasm file.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BundleError, loadBundleArchive, readArchiveFiles, readBundleDirectory, walkBundleDirectory, type BundleFiles } from './Bundle.ts';
import { withDemoPlan } from './DemoPolicy.ts';
import { compileRegoAsync, opaBinary, type RegoVersion } from './OpaCompiler.ts';

export interface PolicySourceOptions {
  /** Entrypoints to compile when the source is Rego. */
  readonly entrypoints: readonly string[];
  readonly opa?: string | undefined;
  /** Syntax of a Rego directory (policy.rego_version). */
  readonly regoVersion?: RegoVersion | undefined;
}

export async function readPolicySource(path: string, opts: PolicySourceOptions): Promise<BundleFiles> {
  if (!existsSync(path)) throw new BundleError(`policy ${path} does not exist`);
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, 'policy.wasm'))) return withRevision(readBundleDirectory(path));
    // opa build follows links wherever they point: the same rules as for a bundle directory first.
    const before = directoryDigest(path);
    const compiled = await loadBundleArchive(await compileRegoAsync('wasm', path, opts.entrypoints, opaBinary(opts.opa), opts.regoVersion));
    const plan = await planOf(path, opts);
    // Two builds of files that may change in between (an edit the watcher reloads for anyway): the plan
    // speaks for the wasm only if they did not, since the wasm is given just the fields the plan reads.
    return withRevision({ ...compiled, plan: directoryDigest(path) === before ? plan : undefined });
  }
  const bytes = readFileSync(path);
  if (path.endsWith('.wasm')) {
    return withRevision({ wasm: bytes, data: {}, revision: '', files: new Map([['/policy.wasm', bytes]]) });
  }
  if (path.endsWith('.tar.gz') || path.endsWith('.tgz')) return withRevision(withDemoPlan(path, await loadBundleArchive(bytes)));
  throw new BundleError(`policy ${path} is not a .tar.gz bundle, a .wasm file or a directory`);
}

/**
 * The plan of the Rego just compiled to wasm (same sources, same
 * entrypoints). Undefined if it cannot be had: the policy is then keyed as a
 * prebuilt wasm is (see cache/PolicyReads.ts), never less safely.
 */
async function planOf(path: string, opts: PolicySourceOptions): Promise<unknown> {
  try {
    const plan = (await readArchiveFiles(await compileRegoAsync('plan', path, opts.entrypoints, opaBinary(opts.opa), opts.regoVersion))).get('/plan.json');
    return plan ? JSON.parse(Buffer.from(plan).toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

/** A digest of every file's path and contents under the directory (walked by the bundle directory rules). */
function directoryDigest(dir: string): string {
  const h = createHash('sha256');
  walkBundleDirectory(dir, (shown, real) => {
    h.update(`${shown}\0`).update(readFileSync(real)).update('\0');
  });
  return h.digest('hex');
}

/**
 * A bundle without a manifest revision gets a content digest, so every
 * decision record and cache entry can still name the exact policy it used.
 */
function withRevision(b: BundleFiles): BundleFiles {
  if (b.revision !== '') return b;
  const h = createHash('sha256').update(b.wasm).update(JSON.stringify(b.data));
  return { ...b, revision: `sha256:${h.digest('hex').slice(0, 16)}` };
}
