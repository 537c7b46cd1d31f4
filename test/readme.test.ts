// Keeps the README's commands honest (and the generated reference in docs/
// current): the commands it shows are run, or named here as placeholders.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { README_BLOCK, configReference } from '../scripts/config-reference.ts';
import { ROOT, runCli } from './support/servers.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = (lang: string) => [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
const shLines = blocks('sh')
  .flatMap((b) => b.split('\n'))
  .filter((l) => l.trim() !== '');

// README commands that name a file the reader supplies; the rest are run below.
const PLACEHOLDERS = [
  'npm run ztauthz -- serve --policy ./my-policy',
  'npm run ztauthz -- test --policy ./my-policy',
  'npm run ztauthz -- check --policy ./my-policy --input record.json',
];

describe('README', () => {
  it('opens with the setup-and-run and test commands', () => {
    const firstBlock = blocks('sh')[0] ?? '';
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it('stays short: details belong in docs/', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it('runs every ztauthz command it shows, with the exit status its comment gives', async () => {
    const commands = shLines.filter((l) => l.startsWith('npm run ztauthz -- '));
    const runnable = commands.filter((l) => !PLACEHOLDERS.includes(l.replace(/\s+#.*$/, '')));
    expect(commands.length - runnable.length, 'every placeholder is still in the README').toBe(PLACEHOLDERS.length);
    expect(runnable.length).toBeGreaterThan(0);
    for (const line of runnable) {
      const m = /^npm run ztauthz -- (.*?)\s+# exit (\d)\b/.exec(line);
      expect(m, `${line}: needs a "# exit N" comment, or a place in PLACEHOLDERS`).not.toBeNull();
      const r = await runCli(m![1]!.split(/\s+/));
      expect(r.code, `${line}\n${r.stderr}`).toBe(Number(m![2]));
    }
  }, 60_000);

  it('names only files that exist in its commands', () => {
    const paths = shLines.flatMap((l) => [...l.matchAll(/(?:^|[\s<])((?:test|proto|policies|deploy|envoy)\/[\w./-]+)/g)].map((m) => m[1]!));
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(existsSync(join(ROOT, 'proto', p)) || existsSync(join(ROOT, p)), p).toBe(true);
  });

  it('shows a minimal policy that allows the frontend and denies the training job', async () => {
    const [rego] = blocks('rego');
    expect(rego).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'ztauthz-readme-'));
    try {
      writeFileSync(join(dir, 'policy.rego'), rego!);
      const allow = await runCli(['check', '--policy', dir, '--request', 'test/fixtures/requests/frontend-infer.json']);
      expect(allow.code, allow.stderr).toBe(0);
      const deny = await runCli(['check', '--policy', dir, '--request', 'test/fixtures/requests/trainer-infer.json']);
      expect(deny.code, deny.stderr).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('lists the common reason codes, each one a real one', async () => {
    const { ALL_REASONS } = await import('../src/types/Reason.ts');
    const section = readme.slice(readme.indexOf('## Debugging a denial'), readme.indexOf('## Settings most people change'));
    const listed = [...section.matchAll(/^\| `(\w+)`(?:, `(\w+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter((r): r is string => !!r));
    expect(listed.length).toBeGreaterThan(5);
    for (const reason of listed) expect(ALL_REASONS).toContain(reason);
  });
});

describe('docs/configuration.md', () => {
  it('has the configuration reference the schema generates', () => {
    const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    const m = README_BLOCK.exec(doc);
    expect(m, 'docs/configuration.md has the config-reference markers').not.toBeNull();
    expect(m![0].slice(m![1]!.length, m![0].length - m![2]!.length), 'run: node scripts/config-reference.ts --write').toBe(configReference());
  });
});

describe('docs/policy.md', () => {
  it('documents every reason code', async () => {
    const { ALL_REASONS } = await import('../src/types/Reason.ts');
    const doc = readFileSync(join(ROOT, 'docs/policy.md'), 'utf8');
    for (const reason of ALL_REASONS) expect(doc).toContain(`\`${reason}\``);
  });
});
