// The configuration reference table, generated from the schema:
//   node scripts/config-reference.ts           prints it
//   node scripts/config-reference.ts --write   rewrites it in docs/configuration.md
// test/readme.test.ts fails when the table there differs from this output.
import { readFileSync, writeFileSync } from 'node:fs';
import { FIELDS, envName, flagName } from '../src/config/schema.ts';

export function configReference(): string {
  const rows = FIELDS.map((s) => {
    const flags = [`--${flagName(s.key)}`, ...(s.aliases ?? []).map((a) => `--${a}`)].map((f) => `\`${f}\``).join(' ');
    const def = Array.isArray(s.default) ? (s.default.length ? s.default.map((d) => `\`${d}\``).join('<br>') : '(none)') : `\`${JSON.stringify(s.default)}\``;
    return `| \`${s.key}\` | ${flags} | \`${envName(s.key)}\` | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | flag | environment | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The file that holds the generated table between the markers. */
export const REFERENCE_DOC = new URL('../docs/configuration.md', import.meta.url);

// The markers around the table (named when the table lived in README.md).
export const README_BLOCK = /(<!-- config-reference:start[^\n]*-->\n)[\s\S]*?(\n<!-- config-reference:end -->)/;

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === '--write') {
    const doc = readFileSync(REFERENCE_DOC, 'utf8');
    if (!README_BLOCK.test(doc)) throw new Error(`${REFERENCE_DOC.pathname} has no config-reference markers`);
    writeFileSync(
      REFERENCE_DOC,
      doc.replace(README_BLOCK, (_m, start: string, end: string) => start + configReference() + end),
    );
  } else {
    process.stdout.write(`${configReference()}\n`);
  }
}
