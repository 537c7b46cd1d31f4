// A downloaded bundle (the archive's bytes) to a policy ready to serve,
// through the same checks as a local one: bounded inflate, signature over the
// files as downloaded, then a wasm bundle is used as it is, and a Rego bundle
// (what bundle servers usually carry) is compiled with the pinned opa, as a
// Rego directory given as policy.path would be. Delta bundles are refused: a
// policy is only ever replaced whole.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { BundleError, loadBundleArchive, readArchiveFiles } from '../Bundle.ts';
import type { PolicyEngine } from '../PolicyEngine.ts';
import { checkSignature, instantiate, type LoaderOptions } from '../PolicyLoader.ts';
import { readPolicySource } from '../PolicySource.ts';
import { contentRevision, readManifest } from './BundleParts.ts';

export async function loadRemoteBundle(bytes: Uint8Array, what: string, opts: LoaderOptions): Promise<PolicyEngine> {
  const files = await readArchiveFiles(bytes);
  const manifest = readManifest(files, what);
  if (manifest['type'] === 'delta') throw new BundleError(`${what} is a delta bundle; ztauthz takes snapshot bundles only`);
  await checkSignature(files, what, opts);
  if (files.has('/policy.wasm')) {
    const bundle = await loadBundleArchive(bytes);
    return await instantiate(bundle.revision === '' ? { ...bundle, revision: contentRevision(bytes) } : bundle, opts);
  }
  if (![...files.keys()].some((p) => p.endsWith('.rego'))) throw new BundleError(`${what} holds neither policy.wasm nor .rego files`);
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-remote-'));
  try {
    for (const [path, content] of files) {
      if (path === '/.signatures.json') continue;
      const rel = normalize(path.replace(/^\/+/, ''));
      if (rel.startsWith('..') || rel === '.' || rel === '') throw new BundleError(`${what}: file path ${JSON.stringify(path)} leaves the bundle`);
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
    const bundle = await readPolicySource(dir, { entrypoints: opts.entrypoints, opa: opts.opa, regoVersion: opts.regoVersion });
    // The revision is the manifest's (opa build does not carry it), else the archive's digest.
    const revision = typeof manifest['revision'] === 'string' && manifest['revision'] !== '' ? manifest['revision'] : contentRevision(bytes);
    return await instantiate({ ...bundle, revision }, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
