// json.verify_schema and json.match_schema. OPA validates with its fork of
// gojsonschema (drafts 4, 6 and 7, chosen by "$schema", formats checked,
// patterns checked when the schema is compiled); ztauthz with ajv (draft 7,
// which also reads draft 6 schemas) or ajv-draft-04, plus ajv-formats. Errors
// are rebuilt in gojsonschema's shape, {error, type, field, desc}, with its
// type names and description texts for each keyword. What stays different
// (docs/builtins.md): the order of several errors, anyOf/oneOf detail (OPA
// adds the errors of the closest branch only), the message of an invalid
// schema, and ajv's format definitions.

import { createRequire } from 'node:module';
import type { BuiltinFn } from './index.ts';
import { BuiltinError } from './util.ts';

interface AjvError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  schema?: unknown;
  data?: unknown;
}
interface Validate {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}
interface AjvLike {
  compile(schema: unknown): Validate;
}

let ajv7: AjvLike | undefined;
let ajv4: AjvLike | undefined;

/** ajv instances, made on first use (ajv costs ~20 ms to load). */
function validator(draft4: boolean): AjvLike {
  const load = createRequire(import.meta.url);
  const make = (mod: string): AjvLike => {
    const Ajv = load(mod) as new (o: object) => AjvLike;
    const formats = load('ajv-formats') as (a: AjvLike) => void;
    // strict off: gojsonschema ignores unknown keywords; allErrors: it reports every failure;
    // code.regExp: RE2-like patterns through the u flag, as gojsonschema compiles them with Go's regexp.
    const a = new Ajv({ allErrors: true, strict: false, verbose: true, validateSchema: true });
    formats(a);
    return a;
  };
  if (draft4) return (ajv4 ??= make('ajv-draft-04'));
  if (ajv7 === undefined) {
    ajv7 = make('ajv');
    (ajv7 as unknown as { addMetaSchema(s: unknown): void }).addMetaSchema(load('ajv/dist/refs/json-schema-draft-06.json'));
  }
  return ajv7;
}

/** Compiled schemas by their JSON text, least recently used dropped first (OPA caches them too). */
const compiled = new Map<string, Validate>();
const MAX_COMPILED = 64;
/** Largest schema or document text accepted. */
const MAX_TEXT = 1 << 20;

class SchemaInvalid extends Error {}

function loadJson(v: unknown, what: string): unknown {
  if (typeof v === 'string') {
    if (v.length > MAX_TEXT) throw new SchemaInvalid(`${what} larger than ${MAX_TEXT} bytes`);
    try {
      return JSON.parse(v) as unknown;
    } catch {
      throw new SchemaInvalid('invalid JSON string');
    }
  }
  if (v !== null && typeof v === 'object') return v;
  throw new SchemaInvalid('wrong type, expected string or object');
}

function compile(schema: unknown): Validate {
  const text = JSON.stringify(schema);
  const hit = compiled.get(text);
  if (hit) {
    compiled.delete(text);
    compiled.set(text, hit);
    return hit;
  }
  const s = schema as { $schema?: unknown };
  const draft4 = typeof s.$schema === 'string' && s.$schema.includes('draft-04');
  let v: Validate;
  try {
    // ajv refuses a "$schema" it has not loaded; gojsonschema takes drafts 4, 6, 7 and guesses otherwise.
    const known = typeof s.$schema !== 'string' || /draft-0[467]\/schema#?$/.test(s.$schema);
    let given = schema;
    if (!known) {
      const { $schema: _unknown, ...rest } = schema as Record<string, unknown>;
      given = rest;
    }
    v = validator(draft4).compile(given);
  } catch (e) {
    throw new SchemaInvalid(e instanceof Error ? e.message : String(e));
  }
  compiled.set(text, v);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  return v;
}

/** Go's big.Float %v: Text('g', 10). */
function goFloat(n: unknown): string {
  if (typeof n !== 'number') return String(n);
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  const digits = Number(n.toPrecision(10));
  if (exp < -4 || exp >= 10) {
    const [m, e] = digits.toExponential().split('e') as [string, string];
    const ev = Number(e);
    return `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(digits);
}

function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const goJson = (v: unknown): string => JSON.stringify(v).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

interface GoError {
  type: string;
  field: string;
  desc: string;
}

function field(path: string, child?: string): string {
  const parts = path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.length === 0 ? '(Root)' : parts.join('.');
}

/** One ajv error in gojsonschema's words; undefined for ajv's own follow-up errors that gojsonschema does not report. */
function toGo(e: AjvError): GoError | undefined {
  const p = e.params;
  const at = field(e.instancePath);
  const mk = (type: string, desc: string, f = at): GoError => ({ type, field: f, desc });
  switch (e.keyword) {
    case 'required':
      return mk('required', `${String(p['missingProperty'])} is required`);
    case 'type': {
      const t = e.schema;
      const expected = Array.isArray(t) ? `[${t.join(',')}]` : String(t);
      return mk('invalid_type', `Invalid type. Expected: ${expected}, given: ${jsonTypeOf(e.data)}`);
    }
    case 'enum':
      return mk('enum', `${at} must be one of the following: ${(e.schema as unknown[]).map(goJson).join(', ')}`);
    case 'const':
      return mk('const', `${at} does not match: ${goJson(e.schema)}`);
    case 'minLength':
      return mk('string_gte', `String length must be greater than or equal to ${String(p['limit'])}`);
    case 'maxLength':
      return mk('string_lte', `String length must be less than or equal to ${String(p['limit'])}`);
    case 'pattern':
      return mk('pattern', `Does not match pattern '${String(p['pattern'])}'`);
    case 'format':
      return mk('format', `Does not match format '${String(p['format'])}'`);
    case 'multipleOf':
      return mk('multiple_of', `Must be a multiple of ${goFloat(p['multipleOf'])}`);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const c = String(p['comparison']);
      const type = { '>=': 'number_gte', '>': 'number_gt', '<=': 'number_lte', '<': 'number_lt' }[c] ?? 'number';
      const words = { '>=': 'greater than or equal to', '>': 'greater than', '<=': 'less than or equal to', '<': 'less than' }[c] ?? c;
      return mk(type, `Must be ${words} ${goFloat(p['limit'])}`);
    }
    case 'minItems':
      return mk('array_min_items', `Array must have at least ${String(p['limit'])} items`);
    case 'maxItems':
      return mk('array_max_items', `Array must have at most ${String(p['limit'])} items`);
    case 'uniqueItems':
      return mk('unique', `array items[${Math.min(Number(p['i']), Number(p['j']))},${Math.max(Number(p['i']), Number(p['j']))}] must be unique`);
    case 'additionalItems':
      return mk('array_no_additional_items', 'No additional items allowed on array');
    case 'contains':
      return mk('contains', 'At least one of the items must match');
    case 'minProperties':
      return mk('array_min_properties', `Must have at least ${String(p['limit'])} properties`);
    case 'maxProperties':
      return mk('array_max_properties', `Must have at most ${String(p['limit'])} properties`);
    case 'additionalProperties':
      return mk('additional_property_not_allowed', `Additional property ${String(p['additionalProperty'])} is not allowed`);
    case 'propertyNames':
      return mk('invalid_property_name', `Property name of "${String(p['propertyName'])}" does not match`);
    case 'dependencies':
      return mk('missing_dependency', `Has a dependency on ${String(p['missingProperty'])}`);
    case 'anyOf':
      return mk('number_any_of', 'Must validate at least one schema (anyOf)');
    case 'oneOf':
      return mk('number_one_of', 'Must validate one and only one schema (oneOf)');
    case 'not':
      return mk('number_not', 'Must not validate the schema (not)');
    case 'if':
      return mk(
        p['failingKeyword'] === 'else' ? 'condition_else' : 'condition_then',
        `Must validate "${String(p['failingKeyword'])}" as "if" was ${p['failingKeyword'] === 'else' ? 'not valid' : 'valid'}`,
      );
    case 'false schema':
      return mk('false', 'False always fails validation');
    default:
      return mk(e.keyword, e.keyword);
  }
}

const COMPOSITE = new Set(['anyOf', 'oneOf', 'contains', 'if', 'not']);

/**
 * ajv reports a composite keyword (anyOf, contains…) after the errors of its
 * branches, gojsonschema before them; and for anyOf/oneOf gojsonschema keeps
 * only the errors of the branch that came closest (by its score; here: the
 * branch with the fewest errors).
 */
function goOrder(errors: readonly AjvError[]): AjvError[] {
  const out: AjvError[] = [];
  for (const e of errors) {
    if (!COMPOSITE.has(e.keyword)) {
      out.push(e);
      continue;
    }
    const prefix = `${e.schemaPath}/`;
    let first = out.length;
    while (first > 0 && out[first - 1]!.schemaPath.startsWith(prefix)) first--;
    let children = out.splice(first);
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      const branches = new Map<string, AjvError[]>();
      for (const c of children) {
        const b = c.schemaPath.slice(prefix.length).split('/')[0] as string;
        branches.set(b, [...(branches.get(b) ?? []), c]);
      }
      children = [...branches.values()].reduce<AjvError[]>((best, b) => (best.length === 0 || b.length < best.length ? b : best), []);
    }
    out.push(e, ...children);
  }
  return out;
}

function verifySchema(schema: unknown): [boolean, string | null] {
  try {
    compile(loadJson(schema, 'schema'));
    return [true, null];
  } catch (e) {
    if (e instanceof SchemaInvalid) return [false, `jsonschema: ${e.message}`];
    throw e;
  }
}

function matchSchema(document: unknown, schema: unknown): [boolean, { error: string; type: string; field: string; desc: string }[]] {
  const b = 'json.match_schema';
  let doc: unknown;
  let validate: Validate;
  try {
    doc = loadJson(document, 'document');
    validate = compile(loadJson(schema, 'schema'));
  } catch (e) {
    if (e instanceof SchemaInvalid) throw new BuiltinError(b, e.message);
    throw e;
  }
  if (validate(doc)) return [true, []];
  const errors = goOrder(validate.errors ?? [])
    .map(toGo)
    .filter((e): e is GoError => e !== undefined);
  return [false, errors.map((e) => ({ error: `${e.field}: ${e.desc}`, type: e.type, field: e.field, desc: e.desc }))];
}

export function jsonSchemaBuiltins(): Record<string, BuiltinFn> {
  return { 'json.verify_schema': verifySchema, 'json.match_schema': matchSchema };
}
