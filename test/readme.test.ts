import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { configReference } from '../scripts/config-reference.ts';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('opens with the setup-and-run and test commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it('has the configuration reference the schema generates', () => {
    const m = /<!-- config-reference:start[^\n]*-->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    expect(m?.[1]).toBe(configReference());
  });

  it('documents every reason code', async () => {
    const { ALL_REASONS } = await import('../src/types/Reason.ts');
    for (const reason of ALL_REASONS) expect(readme).toContain(`\`${reason}\``);
  });
});
