// Compiles a directory of .rego (and data) files to a wasm bundle with the
// installed opa binary. Used at start and on reload when --policy names Rego.
//
// Sources that define OPA's decision-log rules (package system.log, rules
// mask and drop) get them compiled as more wasm entrypoints, LOG_MASK_ENTRYPOINT
// and LOG_DROP_ENTRYPOINT, so the decision log can run them as OPA does
// (observe/PolicyMask.ts). Found by reading the sources (cheap) rather than by
// a second opa build. When a build with them fails (a false find: no such
// rule, or a function of that name), it runs again without them, and that
// build's error, if any, is the policy's.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_OPA = fileURLToPath(new URL('../../.tools/bin/opa', import.meta.url));

/** The opa binary: ZTAUTHZ_OPA, else the project's pinned one (scripts/toolchain.sh), else PATH. */
export function opaBinary(configured?: string): string {
  if (configured) return configured;
  if (process.env['ZTAUTHZ_OPA']) return process.env['ZTAUTHZ_OPA'];
  return existsSync(PROJECT_OPA) ? PROJECT_OPA : 'opa';
}

/** OPA's default mask_decision: a rule that names what to remove from (or replace in) each decision-log record. */
export const LOG_MASK_ENTRYPOINT = 'system/log/mask';
/** OPA's default drop_decision: a rule true for the records not to log. */
export const LOG_DROP_ENTRYPOINT = 'system/log/drop';

export class CompileError extends Error {
  override name = 'CompileError';
}

/** Rego syntax: "v1" (OPA 1.x) or "v0" (before OPA 1.0, `opa build --v0-compatible`). */
export type RegoVersion = 'v1' | 'v0';

/** Runs `opa build -t wasm` with one -e per entrypoint; returns the .tar.gz bytes. */
export function compileRegoDirectory(dir: string, entrypoints: readonly string[], opa = opaBinary(), regoVersion: RegoVersion = 'v1'): Uint8Array {
  return opaBuild('wasm', dir, entrypoints, opa, regoVersion);
}

/**
 * Runs `opa build -t plan` with the same entrypoints and returns the bundle
 * (its /plan.json is the policy's IR, what cache/PolicyReads.ts analyses).
 */
export function compileRegoPlan(dir: string, entrypoints: readonly string[], opa = opaBinary(), regoVersion: RegoVersion = 'v1'): Uint8Array {
  return opaBuild('plan', dir, entrypoints, opa, regoVersion);
}

/**
 * As compileRegoDirectory and compileRegoPlan, but opa runs without blocking
 * the event loop: a reload (a watched file, a downloaded bundle) compiles
 * while Checks keep being answered on the current policy.
 */
export async function compileRegoAsync(
  target: 'wasm' | 'plan',
  dir: string,
  entrypoints: readonly string[],
  opa = opaBinary(),
  regoVersion: RegoVersion = 'v1',
): Promise<Uint8Array> {
  return await runBuildAsync(target, [dir], false, entrypoints, opa, regoVersion);
}

/**
 * `opa build -b` over several bundle directories (each with its own
 * .manifest): opa checks each bundle's data and packages lie within its
 * manifest roots and that no two bundles' roots overlap, then merges them
 * into one policy, as OPA does when it activates several bundles.
 */
export async function compileBundlesAsync(
  target: 'wasm' | 'plan',
  dirs: readonly string[],
  entrypoints: readonly string[],
  opa = opaBinary(),
  regoVersion: RegoVersion = 'v1',
): Promise<Uint8Array> {
  return await runBuildAsync(target, dirs, true, entrypoints, opa, regoVersion);
}

async function runBuildAsync(
  target: 'wasm' | 'plan',
  dirs: readonly string[],
  asBundles: boolean,
  entrypoints: readonly string[],
  opa: string,
  regoVersion: RegoVersion,
): Promise<Uint8Array> {
  let extra = target === 'wasm' ? logEntrypoints(dirs) : [];
  for (;;) {
    const { args, bundlePath, out } = buildArgs(target, dirs, asBundles, [...entrypoints, ...extra], regoVersion);
    try {
      await promisify(execFile)(opa, args, { timeout: 120_000, maxBuffer: 4 * 1024 * 1024, encoding: 'buffer' });
      return readFileSync(bundlePath);
    } catch (err) {
      if (extra.length === 0) throw buildError(err, target, dirs.join(' '), opa, regoVersion);
      extra = [];
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
}

/** Most .rego files read looking for the mask rule; a tree with more is compiled without it. */
const MAX_SCANNED_FILES = 10_000;

/** The decision-log entrypoints whose rules (mask, drop) a .rego file under `dirs` (tests aside) in package system.log appears to define. */
export function logEntrypoints(dirs: readonly string[]): string[] {
  const found = new Set<string>();
  let budget = MAX_SCANNED_FILES;
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (budget <= 0) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.rego') && !entry.name.endsWith('_test.rego')) {
        budget--;
        const text = readFileSync(path, 'utf8');
        if (!/^\s*package\s+system\.log\s*(#.*)?$/m.test(text)) continue;
        if (/^\s*mask\b/m.test(text)) found.add(LOG_MASK_ENTRYPOINT);
        if (/^\s*drop\b/m.test(text)) found.add(LOG_DROP_ENTRYPOINT);
      }
    }
  };
  for (const d of dirs) if (existsSync(d) && statSync(d).isDirectory()) visit(d);
  return [LOG_MASK_ENTRYPOINT, LOG_DROP_ENTRYPOINT].filter((e) => found.has(e));
}

function buildArgs(
  target: 'wasm' | 'plan',
  dirs: readonly string[],
  asBundles: boolean,
  entrypoints: readonly string[],
  regoVersion: RegoVersion,
): { args: string[]; bundlePath: string; out: string } {
  const out = mkdtempSync(join(tmpdir(), 'ztauthz-build-'));
  const bundlePath = join(out, 'bundle.tar.gz');
  const args = ['build', '-t', target, '-o', bundlePath, '--ignore', '*_test.rego'];
  if (regoVersion === 'v0') args.push('--v0-compatible');
  if (asBundles) args.push('-b');
  for (const e of entrypoints) args.push('-e', e);
  for (const dir of dirs) args.push(resolve(dir));
  return { args, bundlePath, out };
}

function buildError(err: unknown, target: 'wasm' | 'plan', dir: string, opa: string, regoVersion: RegoVersion): CompileError {
  const e = err as { code?: string; stdout?: Buffer; stderr?: Buffer; message: string };
  if (e.code === 'ENOENT') return new CompileError(`cannot run opa (${opa}): run scripts/toolchain.sh or set ZTAUTHZ_OPA`);
  // opa writes its errors to stdout or stderr depending on the command and version.
  const output = `${e.stderr?.toString() ?? ''}\n${e.stdout?.toString() ?? ''}`.trim() || e.message;
  const detail = output.split('\n').filter(Boolean).slice(0, 3).join(' | ');
  return new CompileError(`opa build${target === 'plan' ? ' -t plan' : ''}${regoVersion === 'v0' ? ' --v0-compatible' : ''} failed for ${dir}: ${detail}`);
}

function opaBuild(target: 'wasm' | 'plan', dir: string, entrypoints: readonly string[], opa: string, regoVersion: RegoVersion): Uint8Array {
  let extra = target === 'wasm' ? logEntrypoints([dir]) : [];
  for (;;) {
    const { args, bundlePath, out } = buildArgs(target, [dir], false, [...entrypoints, ...extra], regoVersion);
    try {
      execFileSync(opa, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 4 * 1024 * 1024 });
      return readFileSync(bundlePath);
    } catch (err) {
      if (extra.length === 0) throw buildError(err, target, dir, opa, regoVersion);
      extra = [];
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
}
