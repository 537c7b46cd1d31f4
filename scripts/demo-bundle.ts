// The demo policy ships prebuilt, so that serving it needs no opa (nor the Go
// that builds opa): policies/demo.tar.gz, built from policies/demo with the
// pinned opa (scripts/toolchain.sh).
//   node scripts/demo-bundle.ts           says whether the shipped bundle is current
//   node scripts/demo-bundle.ts --write   rebuilds it (after changing policies/demo)
// test/demo-bundle.test.ts fails when the shipped bundle differs from a fresh build.
//
// The bundle is opa build -t wasm's policy.wasm, data.json and .manifest plus
// the plan.json of opa build -t plan (same sources, same entrypoint): the
// plan is what cache/PolicyReads.ts analyses, so the shipped demo keys its
// cache as the demo compiled from Rego does (src/policy/DemoPolicy.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { readArchiveFiles } from '../src/policy/Bundle.ts';
import { DEMO_BUNDLE, DEMO_ENTRYPOINT } from '../src/policy/DemoPolicy.ts';
import { opaBinary } from '../src/policy/OpaCompiler.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Relative, and opa runs in ROOT: opa writes the source path into the wasm and the plan, so an absolute one would differ per checkout. */
export const DEMO_SOURCE = 'policies/demo';
/** What the shipped bundle holds, from which of opa's two builds. */
const FROM_WASM = ['/.manifest', '/data.json', '/policy.wasm'];
const FROM_PLAN = ['/plan.json'];

/** The bundle's files as the pinned opa builds them now, by path in the bundle. */
export async function buildDemoFiles(opa = opaBinary()): Promise<Map<string, Uint8Array>> {
  const out = mkdtempSync(join(tmpdir(), 'ztauthz-demo-'));
  try {
    const files = new Map<string, Uint8Array>();
    for (const [target, names] of [['wasm', FROM_WASM], ['plan', FROM_PLAN]] as const) {
      const archive = join(out, `${target}.tar.gz`);
      execFileSync(opa, ['build', '-t', target, '-e', DEMO_ENTRYPOINT, '--ignore', '*_test.rego', '-o', archive, DEMO_SOURCE], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      const built = await readArchiveFiles(readFileSync(archive));
      for (const name of names) {
        const bytes = built.get(name);
        if (!bytes) throw new Error(`opa build -t ${target} wrote no ${name}`);
        files.set(name, bytes);
      }
    }
    return files;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** A .tar.gz of the files, the same bytes for the same files: sorted, owner root, time 0. */
export async function packFiles(files: ReadonlyMap<string, Uint8Array>): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const name of [...files.keys()].sort()) {
    tar.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, Buffer.from(files.get(name)!));
  }
  tar.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

/** The names of the files where the shipped bundle and a fresh build differ (both ways). */
export function differences(shipped: ReadonlyMap<string, Uint8Array>, fresh: ReadonlyMap<string, Uint8Array>): string[] {
  const names = new Set([...shipped.keys(), ...fresh.keys()]);
  return [...names].filter((n) => {
    const a = shipped.get(n);
    const b = fresh.get(n);
    return !a || !b || !Buffer.from(a).equals(Buffer.from(b));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fresh = await buildDemoFiles();
  if (process.argv[2] === '--write') {
    writeFileSync(DEMO_BUNDLE, await packFiles(fresh));
    process.stdout.write(`wrote ${DEMO_BUNDLE}\n`);
  } else {
    const diff = differences(await readArchiveFiles(readFileSync(DEMO_BUNDLE)), fresh);
    process.stdout.write(diff.length ? `stale (${diff.join(', ')}): node scripts/demo-bundle.ts --write\n` : 'current\n');
    process.exitCode = diff.length ? 1 : 0;
  }
}
