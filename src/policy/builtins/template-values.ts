// The values strings.render_template works on, as Go's text/template sees
// OPA's variables (decoded with json.Number) and template literals.

import { compareGoStrings } from './util.ts';

/** Go's reflect.Value of an interface holding nothing: a missing key, or a JSON null once unwrapped. */
export const NO_VALUE = Symbol('no value');
export type Val = unknown;

/** A json.Number: Go's string type for a number kept as its text. */
export class GoNumber {
  readonly num: string;
  constructor(num: string) {
    this.num = num;
  }
}
/** A number written in the template: an int (bigint) or a float64. */
export class GoLiteral {
  readonly value: bigint | number;
  constructor(value: bigint | number) {
    this.value = value;
  }
}

export const isNum = (v: Val): v is GoNumber => v instanceof GoNumber;
export const isObj = (v: Val): v is Record<string, Val> => v !== null && typeof v === 'object' && !Array.isArray(v) && !isNum(v) && !(v instanceof GoLiteral);

/** JSON values as Go sees them after decoding with json.Number. */
export function fromJson(v: Val): Val {
  if (typeof v === 'number') return new GoNumber(String(v));
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, Val>).map(([k, x]) => [k, fromJson(x)]));
  return v;
}

function goFloat(n: number): string {
  const s = String(n);
  const e = /e([+-])(\d+)$/.exec(s);
  if (e) return s.replace(/e[+-]\d+$/, `e${e[1]}${(e[2] as string).padStart(2, '0')}`);
  const exp = n === 0 ? 0 : Math.floor(Math.log10(Math.abs(n)));
  return exp >= 21 || exp < -4 ? n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

/** fmt.Sprint of a value (fmt's %v). */
export function sprint(v: Val): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (isNum(v)) return v.num;
  if (v instanceof GoLiteral) return typeof v.value === 'bigint' ? v.value.toString() : goFloat(v.value);
  if (Array.isArray(v)) return `[${v.map((x) => sprint(x)).join(' ')}]`;
  const o = v as Record<string, Val>;
  return `map[${Object.keys(o)
    .sort(compareGoStrings)
    .map((k) => `${k}:${sprint(o[k])}`)
    .join(' ')}]`;
}

/** text/template's truth: the zero value of its type (and no value) is false. */
export function truthy(v: Val): boolean {
  if (v === NO_VALUE || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'boolean') return v;
  if (isNum(v)) return v.num.length > 0;
  if (v instanceof GoLiteral) return v.value !== 0n && v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  return Object.keys(v as object).length > 0;
}

/** The Go type name text/template reports. */
export function goType(v: Val): string {
  if (isObj(v)) return 'map[string]interface {}';
  if (Array.isArray(v)) return '[]interface {}';
  if (isNum(v)) return 'json.Number';
  if (v instanceof GoLiteral) return typeof v.value === 'bigint' ? 'int' : 'float64';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return 'interface {}';
}
