// Prints the README's configuration reference table from the schema:
//   node scripts/config-reference.ts
// test/readme.test.ts fails when the README's table differs from this output.
import { SCHEMA, envName, flagName } from '../src/config/schema.ts';

export function configReference(): string {
  const rows = SCHEMA.map((s) => {
    const flags = [`--${flagName(s.key)}`, ...(s.aliases ?? []).map((a) => `--${a}`)].map((f) => `\`${f}\``).join(' ');
    const def = Array.isArray(s.default) ? (s.default.length ? s.default.map((d) => `\`${d}\``).join('<br>') : '(none)') : `\`${JSON.stringify(s.default)}\``;
    return `| \`${s.key}\` | ${flags} | \`${envName(s.key)}\` | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | flag | environment | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configReference() + '\n');
