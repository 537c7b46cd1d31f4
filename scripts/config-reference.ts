// The README's configuration reference table, generated from the schema:
//   node scripts/config-reference.ts           prints it
//   node scripts/config-reference.ts --write   rewrites it in README.md
// test/readme.test.ts fails when the README's table differs from this output.
import { readFileSync, writeFileSync } from 'node:fs';
import { SCHEMA, envName, flagName } from '../src/config/schema.ts';

export function configReference(): string {
  const rows = SCHEMA.map((s) => {
    const flags = [`--${flagName(s.key)}`, ...(s.aliases ?? []).map((a) => `--${a}`)].map((f) => `\`${f}\``).join(' ');
    const def = Array.isArray(s.default) ? (s.default.length ? s.default.map((d) => `\`${d}\``).join('<br>') : '(none)') : `\`${JSON.stringify(s.default)}\``;
    return `| \`${s.key}\` | ${flags} | \`${envName(s.key)}\` | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | flag | environment | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

export const README_BLOCK = /(<!-- config-reference:start[^\n]*-->\n)[\s\S]*?(\n<!-- config-reference:end -->)/;

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === '--write') {
    const readme = new URL('../README.md', import.meta.url);
    writeFileSync(readme, readFileSync(readme, 'utf8').replace(README_BLOCK, (_m, start: string, end: string) => start + configReference() + end));
  } else {
    process.stdout.write(configReference() + '\n');
  }
}
