// The input's JSON text as the policy needs it: only the fields its plan may
// read (cache/PolicyReads.ts), the rest left out before the text reaches the
// wasm. The wasm parses every byte of its input (opa_json_parse) before it
// evaluates, and a Check's input is mostly fields a policy never looks at
// (trace headers, addresses, identity and route details): for the drop-in
// bench policy 1.4 KB of input became about 200 bytes, and a miss went from
// 41 to 33 µs of CPU on Node 24 and from 41 to 34 on Bun (best rounds of
// `node|bun bench/check-cost.ts miss`, alternated with the build before).
//
// Why the answer cannot change: the analysis over-approximates. A path is
// either only dotted into (its existence, or the fields named below it,
// decide) or used whole (scanned, compared, passed to a builtin, returned,
// assigned by a rule defined twice, ...), and anything it does not know is a
// whole use. A field the policy's plan never reaches cannot change its
// result, so leaving it out cannot either. Kept as they are: a path used
// whole, and every value that is not a plain object (arrays, scalars, a
// body's JSON.rawJSON numbers), so array indexes and types stay as sent.
// Only for plans ztauthz compiled from Rego that cover every entrypoint of
// the wasm; prebuilt wasm gets the whole input.
import type { PolicyReads } from '../cache/PolicyReads.ts';

interface Node {
  whole: boolean;
  readonly children: Map<string, Node>;
}

/** A field to write: its key as JSON text with the colon, and what to keep below it. */
interface Field {
  readonly key: string;
  readonly prefix: string;
  readonly node: Compiled;
}
type Compiled = readonly Field[] | 'whole';

const isRawJson = (JSON as unknown as { isRawJSON?: (v: unknown) => boolean }).isRawJSON;

/**
 * The serialiser of the fields a policy may read, or undefined when the whole
 * input must go (no plan, a plan without one of the entrypoints, or the
 * input used whole).
 */
export function inputProjection(reads: PolicyReads, entrypoints: Iterable<string>): ((input: object) => string) | undefined {
  if (reads.kind !== 'plan') return undefined;
  const planned = new Set(reads.plans);
  for (const e of entrypoints) if (!planned.has(e)) return undefined;
  const root: Node = { whole: false, children: new Map() };
  const at = (path: readonly string[]): Node => {
    let node = root;
    for (const key of path) {
      let child = node.children.get(key);
      if (!child) node.children.set(key, (child = { whole: false, children: new Map() }));
      node = child;
    }
    return node;
  };
  for (const path of reads.reads) at(path);
  for (const path of reads.whole) at(path).whole = true;
  const compiled = compile(root);
  if (compiled === 'whole') return undefined;
  return (input) => write(input, compiled) ?? 'null';
}

function compile(node: Node): Compiled {
  if (node.whole) return 'whole';
  return [...node.children].map(([key, child]) => ({ key, prefix: `${JSON.stringify(key)}:`, node: compile(child) }));
}

/** The value's JSON text with only `fields` of a plain object (undefined where JSON.stringify leaves the value out). */
function write(value: unknown, fields: Compiled): string | undefined {
  if (
    fields === 'whole' ||
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    typeof (value as { toJSON?: unknown }).toJSON === 'function' ||
    isRawJson?.(value) === true
  ) {
    return JSON.stringify(value);
  }
  let out = '';
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (!Object.hasOwn(value, f.key)) continue;
    const text = write((value as Record<string, unknown>)[f.key], f.node);
    if (text === undefined) continue;
    out += out === '' ? `{${f.prefix}${text}` : `,${f.prefix}${text}`;
  }
  return out === '' ? '{}' : `${out}}`;
}
