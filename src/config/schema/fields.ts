// Building blocks of the configuration schema (zod). Each leaf is a zod schema
// with its default and a registry entry (doc, flag aliases, kind), so the one
// schema yields the Config type, validation of every source, the flags, the
// ZTAUTHZ_* variables and the reference table in docs/configuration.md.
//
// Flags and environment variables are strings, a YAML file gives typed values:
// each leaf takes both (z.preprocess turns "42", "true", "a,b" and JSON into
// the value), so every source goes through the same checks.
import { z } from 'zod';
import { parseAddr, parseListenAddr } from '../addr.ts';

export type FieldKind = 'string' | 'int' | 'float' | 'bool' | 'enum' | 'addr' | 'grpc_addr' | 'list' | 'objects' | 'mapping' | 'decision_path';

export interface FieldMeta {
  readonly kind: FieldKind;
  readonly doc: string;
  /** Extra flag names, e.g. --policy for policy.path. */
  readonly aliases?: readonly string[] | undefined;
  /** For an enum: its values. */
  readonly values?: readonly string[] | undefined;
  /** For an enum: older spellings of its values still accepted (e.g. true for "all"). */
  readonly valueAliases?: Readonly<Record<string, string>> | undefined;
}

/** Leaf schema -> its documentation and flag aliases. */
export const FIELD_META = z.registry<FieldMeta>();

export const MiB = 1024 * 1024;

interface Extra {
  readonly aliases?: readonly string[];
}

export const DECISION_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

/** An entry of a list that must match `re`; `what` says how it should look. */
export function entry(re: RegExp, what: string): z.ZodType<string> {
  return z.string({ error: `must be ${what}` }).regex(re, { error: `must be ${what}` });
}

const between = (min: number, max: number) => ({ error: `must be between ${min} and ${max}` });

function leaf<S extends z.ZodType>(schema: S, def: z.output<S>, meta: FieldMeta) {
  // prefault would parse the default; default() takes it as valid, which it is by construction.
  const withDefault = schema.default(def as never);
  FIELD_META.add(withDefault as z.ZodType, meta);
  return withDefault;
}

export function str(def: string, doc: string, extra: Extra = {}) {
  return leaf(z.string({ error: 'must be a string' }), def, { kind: 'string', doc, ...extra });
}

export function int(def: number, min: number, max: number, doc: string, extra: Extra = {}) {
  const toInt = (v: unknown) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v);
  const schema = z.preprocess(toInt, z.int({ error: 'must be an integer' }).min(min, between(min, max)).max(max, between(min, max)));
  return leaf(schema, def, { kind: 'int', doc, ...extra });
}

export function float(def: number, min: number, max: number, doc: string, extra: Extra = {}) {
  const toNumber = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v);
  const schema = z.preprocess(toNumber, z.number({ error: 'must be a number' }).min(min, between(min, max)).max(max, between(min, max)));
  return leaf(schema, def, { kind: 'float', doc, ...extra });
}

export function bool(def: boolean, doc: string, extra: Extra = {}) {
  const toBool = (v: unknown) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v);
  return leaf(z.preprocess(toBool, z.boolean({ error: 'must be true or false' })), def, { kind: 'bool', doc, ...extra });
}

export function oneOf<const V extends readonly [string, ...string[]]>(
  values: V,
  def: V[number],
  doc: string,
  extra: Extra & { valueAliases?: Readonly<Record<string, string>> } = {},
) {
  const aliases = extra.valueAliases;
  // A file's `true` arrives as a boolean, a flag's or variable's as "true".
  const toValue = (v: unknown) => {
    const s = typeof v === 'string' || typeof v === 'boolean' ? String(v) : undefined;
    return aliases && s !== undefined && Object.hasOwn(aliases, s) ? aliases[s] : v;
  };
  const error = `must be one of ${values.join(', ')}${aliases ? ` (or ${Object.keys(aliases).join(', ')})` : ''}`;
  return leaf(z.preprocess(toValue, z.enum(values, { error })), def, { kind: 'enum', doc, values, ...extra });
}

/** A list of strings; comma-separated on the command line. `item` checks each entry (default: any string). */
export function list(def: readonly string[], doc: string, extra: Extra & { item?: z.ZodType<string> } = {}) {
  const split = (v: unknown) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v;
  const { item = z.string({ error: 'must be a string' }), ...rest } = extra;
  const schema = z.preprocess(split, z.array(item, { error: 'must be a list of strings' }));
  return leaf(schema, [...def], { kind: 'list', doc, ...rest });
}

/** A list of objects, each validated by `item`; JSON on the command line. */
export function objects<S extends z.ZodType>(item: S, doc: string, extra: Extra = {}) {
  const fromJson = (v: unknown) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v; // left a string: refused below as not a list
    }
  };
  const schema = z.preprocess(fromJson, z.array(item, { error: 'must be a list of objects (JSON on the command line)' }));
  return leaf(schema, [], { kind: 'objects', doc, ...extra });
}

/** A mapping of names to objects, each validated by `item` (OPA's services, bundles, keys); JSON on the command line. */
export function mapping<S extends z.ZodType>(item: S, doc: string, extra: Extra = {}) {
  return record(
    z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { error: 'must be a name of letters, digits, _ . -' }), item, {
      error: 'must be a mapping of names (JSON on the command line)',
    }),
    doc,
    extra,
  );
}

/** A whole mapping schema (`labels`) as one key, empty by default; JSON on the command line. */
export function record<S extends z.ZodType<Record<string, unknown>>>(schema: S, doc: string, extra: Extra = {}) {
  const fromJson = (v: unknown) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v; // left a string: refused below as not a mapping
    }
  };
  const withJson = z.preprocess(fromJson, schema);
  return leaf(withJson, {} as z.output<typeof withJson>, { kind: 'mapping', doc, ...extra });
}

/** A refinement that runs one of the address parsers and reports its complaint. */
function addressCheck(parse: (addr: string, fail: (why: string) => never) => unknown) {
  return (addr: string, ctx: z.core.$RefinementCtx<string>) => {
    const complaint = Symbol('complaint');
    try {
      parse(addr, (why) => {
        ctx.addIssue({ code: 'custom', message: why, input: addr });
        throw complaint;
      });
    } catch (err) {
      if (err !== complaint) throw err;
    }
  };
}

export function addr(def: string, doc: string, extra: Extra = {}) {
  return leaf(z.string({ error: 'must be host:port' }).superRefine(addressCheck(parseAddr)), def, { kind: 'addr', doc, ...extra });
}

export function grpcAddr(def: string, doc: string, extra: Extra = {}) {
  const schema = z.string({ error: 'must be host:port or unix:///path' }).superRefine(addressCheck(parseListenAddr));
  return leaf(schema, def, { kind: 'grpc_addr', doc, ...extra });
}

export function decisionPath(def: string, doc: string, extra: Extra = {}) {
  const error = 'must be a decision path like envoy/authz/allow';
  return leaf(z.string({ error }).regex(DECISION_PATH, { error }), def, { kind: 'decision_path', doc, ...extra });
}

/**
 * A section (grpc, policy, ...) or a nested object: unknown keys are refused
 * (the loader suggests the closest), and a missing section takes its leaves'
 * defaults (prefault parses {}, so those defaults apply).
 */
export function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape).prefault({} as never);
}
