// The configuration schema: one zod schema (sections in ./schema/*.ts) from
// which come the Config type, the validation of the file, environment and
// flags (config/load.ts), each key's flag (--grpc-addr) and environment
// variable (ZTAUTHZ_GRPC_ADDR), and the reference in docs/configuration.md
// (scripts/config-reference.ts), so none of them can disagree.
import { z } from 'zod';
import { FIELD_META, type FieldMeta } from './schema/fields.ts';
import { HANDLING } from './schema/handling.ts';
import { IDENTITY } from './schema/identity.ts';
import { OPA } from './schema/opa.ts';
import { SERVING } from './schema/serving.ts';

export type { FieldKind, FieldMeta } from './schema/fields.ts';

/** The order here is the order of the reference table; the rules that span keys run once every key is valid. */
export const CONFIG_SCHEMA = z.strictObject({ ...SERVING, ...IDENTITY, ...HANDLING, ...OPA }).superRefine((c, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: path.split('.'), message, input: undefined });
  if (c.policy.require_signature && !c.policy.signing_key) issue('policy.require_signature', 'needs policy.signing_key');
  const tls = c.grpc.tls;
  if (tls.mode !== 'off' && tls.allowed_peers.length === 0) {
    issue('grpc.tls.allowed_peers', `must name the callers allowed to ask when grpc.tls.mode is ${tls.mode}`);
  }
  if (tls.mode === 'files') {
    for (const k of ['cert_file', 'key_file', 'ca_file'] as const) if (!tls[k]) issue(`grpc.tls.${k}`, 'required when grpc.tls.mode is files');
  }
});

export type Config = z.output<typeof CONFIG_SCHEMA>;

/** One configuration key (a leaf of the schema). */
export interface Field extends FieldMeta {
  /** Dotted key, e.g. "grpc.addr". */
  readonly key: string;
  readonly schema: z.ZodType;
  readonly default: unknown;
}

function leaves(shape: Readonly<Record<string, z.ZodType>>, prefix: string): Field[] {
  return Object.entries(shape).flatMap(([name, schema]) => {
    const key = prefix + name;
    const meta = FIELD_META.get(schema);
    if (meta) return [{ key, schema, default: (schema as z.ZodDefault).def.defaultValue, ...meta }];
    if (schema instanceof z.ZodPrefault) return leaves((schema.unwrap() as z.ZodObject).shape, `${key}.`);
    throw new Error(`config schema: ${key} is neither a field nor a section`);
  });
}

/** Every key, in schema order. */
export const FIELDS: readonly Field[] = leaves(CONFIG_SCHEMA.shape, '');

export const FIELD_BY_KEY: ReadonlyMap<string, Field> = new Map(FIELDS.map((f) => [f.key, f]));

export function flagName(key: string): string {
  return key.replace(/[._]/g, '-');
}

export function envName(key: string): string {
  return `ZTAUTHZ_${key.replace(/\./g, '_').toUpperCase()}`;
}

/** The schema inside `schema` at a path of object keys and list indexes (for unknown-key suggestions). */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  // Look through defaults, preprocessing, optional and refinements to the object or list below.
  const unwrap = (t: z.ZodType): z.ZodType => {
    for (;;) {
      if (t instanceof z.ZodDefault || t instanceof z.ZodPrefault || t instanceof z.ZodOptional) t = t.unwrap() as z.ZodType;
      else if (t instanceof z.ZodPipe) t = t.out as z.ZodType;
      else return t;
    }
  };
  let s = unwrap(schema);
  for (const step of path) {
    let next: z.ZodType | undefined;
    if (s instanceof z.ZodObject) next = s.shape[step as string] as z.ZodType | undefined;
    else if (s instanceof z.ZodArray) next = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) next = s.valueType as z.ZodType;
    if (next === undefined) return undefined;
    s = unwrap(next);
  }
  return s;
}
