// Differential-testing harness for the host builtins: evaluate the same Rego
// expressions with the real `opa eval` and with `opa build -t wasm` +
// opa-wasm + createHostBuiltins(), and report both outcomes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { loadHostPolicy as loadPolicy } from '../../src/policy/builtins/load.ts';
import type { HostBuiltins } from '../../src/policy/builtins/index.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OPA = join(REPO_ROOT, '.tools/bin/opa');

export type Outcome = { kind: 'value'; value: unknown } | { kind: 'error'; message: string } | { kind: 'undefined' };

export interface Case {
  readonly name: string;
  /** A Rego expression; it becomes the body of one rule. */
  readonly expr: string;
}

function withTempDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-builtins-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runOpa(args: readonly string[], input?: string): string {
  try {
    return execFileSync(OPA, args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024, timeout: 120_000, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: unknown; stderr?: unknown };
    throw new Error(`opa ${args[0]} failed: ${`${String(stderr ?? '')}${String(stdout ?? '')}`.slice(0, 2000)}`);
  }
}

/** One module with rule c<i> per case. Rule names avoid Rego keywords. */
export function casesModule(pkg: string, cases: readonly Case[]): string {
  return [`package ${pkg}`, '', ...cases.map((c, i) => `c${i} := ${c.expr}`), ''].join('\n');
}

/**
 * `opa eval` of every rule at once. OPA's default (non-strict) mode turns a
 * builtin error into an undefined rule, so a missing key means the builtin
 * failed; the cases are chosen so that no builtin is legitimately undefined.
 */
export function opaEvalCases(pkg: string, cases: readonly Case[], extraArgs: readonly string[] = []): Outcome[] {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'cases.rego'), casesModule(pkg, cases));
    const out = JSON.parse(runOpa(['eval', '--format', 'json', ...extraArgs, '-d', dir, `data.${pkg}`])) as {
      result?: { expressions: { value: Record<string, unknown> }[] }[];
    };
    const value = out.result?.[0]?.expressions[0]?.value ?? {};
    return cases.map((_, i) =>
      Object.hasOwn(value, `c${i}`) ? { kind: 'value', value: value[`c${i}`] } : { kind: 'error', message: 'undefined under opa eval' },
    );
  });
}

function untar(buf: Buffer, wanted: string): Buffer {
  for (let off = 0; off + 512 <= buf.length; ) {
    const name = buf
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (name === '') break;
    const size = parseInt(
      buf
        .subarray(off + 124, off + 136)
        .toString('utf8')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    if (name.replace(/^\/+/, '') === wanted) return buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} not found in bundle`);
}

/** `opa build -t wasm` with one entrypoint per rule; returns policy.wasm. */
export function buildWasm(pkg: string, cases: readonly Case[], extraModules: Readonly<Record<string, string>> = {}): Buffer {
  return withTempDir((dir) => {
    const src = join(dir, 'src');
    execFileSync('mkdir', ['-p', src]);
    writeFileSync(join(src, 'cases.rego'), casesModule(pkg, cases));
    for (const [name, text] of Object.entries(extraModules)) writeFileSync(join(src, name), text);
    const bundle = join(dir, 'bundle.tar.gz');
    const entrypoints = cases.flatMap((_, i) => ['-e', `${pkg}/c${i}`]);
    runOpa(['build', '-t', 'wasm', ...entrypoints, '-o', bundle, src]);
    return Buffer.from(untar(gunzipSync(readFileSync(bundle)), 'policy.wasm'));
  });
}

/** Evaluates each rule through its own entrypoint, so one throw cannot mask the others. */
export async function wasmEvalCases(wasm: Buffer, pkg: string, cases: readonly Case[], host: HostBuiltins): Promise<Outcome[]> {
  const policy = await loadPolicy(wasm, undefined, host);
  return cases.map((_, i): Outcome => {
    host.beginEvaluation();
    try {
      const rs = policy.evaluate({}, `${pkg}/c${i}`) as { result: unknown }[];
      return rs.length === 0 ? { kind: 'undefined' } : { kind: 'value', value: rs[0]?.result };
    } catch (e) {
      return { kind: 'error', message: e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e) };
    }
  });
}

/** Outcomes as comparable data: errors compare by kind only (messages differ by design). */
export function comparable(o: Outcome): unknown {
  return o.kind === 'value' ? { value: o.value } : { kind: o.kind === 'undefined' ? 'error' : o.kind };
}

/** Rego source text for a JS string (JSON string syntax is valid Rego). */
export function rego(v: unknown): string {
  return JSON.stringify(v);
}
