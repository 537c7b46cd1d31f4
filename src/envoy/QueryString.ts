// Query-string parsing with Go's net/url ParseQuery semantics, which
// opa-envoy-plugin policies were written against: '&'-separated pairs, '+' is
// a space, pairs with ';' or a bad escape are dropped (Go's Query() ignores them).
// The same {name: [values]} shape serves urlencoded and multipart form bodies,
// which are bounded like JSON bodies (request.max_body_keys for names,
// request.max_body_elements for values): a million names would stall a Check
// for seconds.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';

export interface FormLimits {
  /** Most distinct names. */
  readonly maxKeys: number;
  /** Most values, all names together. */
  readonly maxElements: number;
}

/** `limits`: for a form body; the query string is bounded by request.max_path_bytes instead. */
export function parseQueryString(query: string, limits?: FormLimits): Record<string, JsonValue> {
  const form = new FormValues(limits, 'form body');
  if (query === '') return form.values;
  // Pair by pair with indexOf rather than split('&'): a bound stops the loop
  // before the rest of a huge body is even cut into strings.
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const pair = query.slice(start, end);
    start = end + 1;
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const key = unescapeQuery(rawKey);
    const value = unescapeQuery(rawValue);
    if (key === undefined || value === undefined) continue;
    form.add(key, value);
  }
  return form.values;
}

/**
 * {name: [values]}, built so that any name is just a name: "__proto__",
 * "toString" or "constructor" become own keys like any other (a plain
 * `out[name] ??= []` finds Object.prototype's members instead, and threw).
 */
export class FormValues {
  readonly values: Record<string, JsonValue[]> = {};
  readonly #limits: FormLimits | undefined;
  readonly #what: string;
  #keys = 0;
  #count = 0;

  constructor(limits: FormLimits | undefined, what: string) {
    this.#limits = limits;
    this.#what = what;
  }

  add(key: string, value: JsonValue): void {
    const limits = this.#limits;
    if (limits && ++this.#count > limits.maxElements) {
      throw new CheckError(Reason.bodyTooManyElements, `${this.#what} has more than ${limits.maxElements} values (request.max_body_elements)`);
    }
    if (Object.hasOwn(this.values, key)) {
      (this.values[key] as JsonValue[]).push(value);
      return;
    }
    if (limits && ++this.#keys > limits.maxKeys) {
      throw new CheckError(Reason.bodyTooManyKeys, `${this.#what} has more than ${limits.maxKeys} names (request.max_body_keys)`);
    }
    if (key === '__proto__') Object.defineProperty(this.values, key, { value: [value], writable: true, enumerable: true, configurable: true });
    else this.values[key] = [value];
  }
}

function unescapeQuery(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
