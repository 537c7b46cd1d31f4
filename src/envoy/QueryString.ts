// Query-string parsing with Go's net/url ParseQuery semantics, which
// opa-envoy-plugin policies were written against: '&'-separated pairs, '+' is
// a space, pairs with ';' or a bad escape are dropped (Go's Query() ignores them).
import type { JsonValue } from '../types/Json.ts';

export function parseQueryString(query: string): Record<string, JsonValue> {
  const out: Record<string, string[]> = {};
  if (query === '') return out;
  for (const pair of query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const key = unescapeQuery(rawKey);
    const value = unescapeQuery(rawValue);
    if (key === undefined || value === undefined) continue;
    (out[key] ??= []).push(value);
  }
  return out;
}

function unescapeQuery(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
