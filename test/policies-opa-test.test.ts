// The Rego tests under policies/ (opa test), run by the real opa binary as
// part of `npm test`. Each policy directory is its own policy (they share
// opa-envoy-plugin's package name), so each is tested on its own.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { opaBinary } from '../src/policy/OpaCompiler.ts';

function dirsWithRegoTests(root: string): string[] {
  const dirs = new Set<string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('_test.rego')) dirs.add(entry.parentPath);
  }
  return [...dirs].sort();
}

const DIRS = dirsWithRegoTests('policies');

describe('opa test', () => {
  it('finds the policy test suites', () => {
    expect(DIRS).toContain(join('policies', 'demo'));
  });

  it.each(DIRS)('%s passes every Rego test', (dir) => {
    let out: string;
    try {
      out = execFileSync(opaBinary(), ['test', dir, '--format', 'json'], { encoding: 'utf8' });
    } catch (err) {
      out = (err as { stdout?: string }).stdout ?? '';
    }
    const results = JSON.parse(out) as Array<{ package: string; name: string; fail?: boolean; error?: unknown }>;
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.fail || r.error).map((r) => `${r.package}.${r.name}`)).toEqual([]);
  });
});
