import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { README_BLOCK, configReference } from '../scripts/config-reference.ts';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('opens with the setup-and-run and test commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it('has the configuration reference the schema generates', () => {
    const m = README_BLOCK.exec(readme);
    expect(m, 'README has the config-reference markers').not.toBeNull();
    expect(m![0].slice(m![1]!.length, m![0].length - m![2]!.length), 'run: node scripts/config-reference.ts --write').toBe(configReference());
  });

  it('documents every reason code', async () => {
    const { ALL_REASONS } = await import('../src/types/Reason.ts');
    for (const reason of ALL_REASONS) expect(readme).toContain(`\`${reason}\``);
  });
});
