// ${VAR} in a config file, as OPA expands it, so secrets and per-replica
// values can come from the environment (`token: "${BUNDLE_TOKEN}"`).
//
// OPA replaces the text before parsing the YAML and keeps a reference to an
// unset variable as it is (the literal "${BUNDLE_TOKEN}" would then go to the
// bundle server as the token). ztauthz expands inside the parsed values
// instead, so a value can never add YAML structure (a token containing ": "
// or "#" stays one string), and refuses an unset variable at start, naming it
// and the line: a missing secret is a deployment error, not a value. `$${`
// writes a literal `${`. An unquoted value that is only a number or
// true/false after expansion is taken as that, as OPA's text replacement
// would give it; a quoted one stays a string.
import type { Document, LineCounter } from 'yaml';
import { ConfigError } from './addr.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `$${` (the escape) or `${...}` with its closing brace if there is one. */
const REFERENCE = /\$\$\{|\$\{([^}]*)(\})?/g;

type Yaml = typeof import('yaml');

/**
 * Parses a config file's YAML text and expands ${VAR} in its values (and
 * keys) from `env`. The caller passes the yaml module, which it loads only
 * when there is a file to read (it costs a few MiB of memory).
 */
export function parseConfigYaml(yaml: Yaml, text: string, file: string, env: Readonly<Record<string, string | undefined>>): unknown {
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const error = doc.errors[0];
  if (error) throw new ConfigError(`config file ${file} is not valid YAML: ${error.message.split('\n')[0]}`);
  expand(yaml, doc, file, env, lines);
  return doc.toJS({ maxAliasCount: 100 }) ?? {};
}

function expand(yaml: Yaml, doc: Document, file: string, env: Readonly<Record<string, string | undefined>>, lines: LineCounter): void {
  yaml.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const at = () => `${file}:${node.range ? lines.linePos(node.range[0]).line : '?'}`;
      const text = node.value.replace(REFERENCE, (ref: string, name: string | undefined, close: string | undefined) => {
        if (ref === '$${') return '${';
        if (close === undefined) throw new ConfigError(`${at()}: "\${" without a closing "}" (write $\${ for the text "\${")`);
        if (!NAME.test(name!))
          throw new ConfigError(
            `${at()}: ${ref} is not an environment variable reference (\${NAME}, NAME of letters, digits and _; write $${ref} for the text itself)`,
          );
        const value = env[name!];
        if (value === undefined)
          throw new ConfigError(`${at()}: environment variable ${name} is not set (referenced as ${ref}; write $${ref} for the text itself)`);
        return value;
      });
      node.value = node.type === 'PLAIN' ? plainValue(text) : text;
    },
  });
}

/** What an unquoted YAML value of this text would be, for numbers and booleans (anything else stays the text). */
function plainValue(text: string): string | number | boolean {
  if (/^[-+]?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}
