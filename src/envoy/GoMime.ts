// Go's mime.ParseMediaType, as opa-envoy-plugin reads a multipart body's
// content type (compat: opa-envoy): its error texts, and the parameters
// (lower-cased names, quoted values unquoted). RFC 2231 continuations
// (name*0, name*) are left out: such a parameter is not returned, where Go
// would join or decode it.

const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.includes(c);
}

function consumeToken(v: string): [string, string] {
  let i = 0;
  while (i < v.length && isTokenChar(v[i]!)) i++;
  return [v.slice(0, i), v.slice(i)];
}

function consumeValue(v: string): [string, string] {
  if (v === '') return ['', ''];
  if (v[0] !== '"') return consumeToken(v);
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '"') return [out, v.slice(i + 1)];
    if (c === '\\' && i + 1 < v.length && TSPECIALS.includes(v[i + 1]!)) {
      out += v[++i];
      continue;
    }
    if (c === '\r' || c === '\n') return ['', v];
    out += c;
  }
  return ['', v];
}

const trimLeft = (s: string): string => s.replace(/^\s+/, '');

function consumeMediaParam(v: string): [string, string, string] {
  let rest = trimLeft(v);
  if (!rest.startsWith(';')) return ['', '', v];
  rest = trimLeft(rest.slice(1));
  let param: string;
  [param, rest] = consumeToken(rest);
  param = param.toLowerCase();
  if (param === '') return ['', '', v];
  rest = trimLeft(rest);
  if (!rest.startsWith('=')) return ['', '', v];
  rest = trimLeft(rest.slice(1));
  const [value, rest2] = consumeValue(rest);
  if (value === '' && rest2 === rest) return ['', '', v];
  return [param, value, rest2];
}

function checkMediaType(s: string): string | undefined {
  const [typ, rest] = consumeToken(s);
  if (typ === '') return 'mime: no media type';
  if (rest === '') return undefined;
  if (!rest.startsWith('/')) return 'mime: expected slash after first token';
  const [subtype, after] = consumeToken(rest.slice(1));
  if (subtype === '') return 'mime: expected token after slash';
  if (after !== '') return 'mime: unexpected content after media subtype';
  return undefined;
}

/** The parameters of a media type, or Go's error text. */
export function goMediaTypeParams(v: string): { params: Map<string, string> } | { error: string } {
  const semi = v.indexOf(';');
  const base = semi < 0 ? v : v.slice(0, semi);
  const error = checkMediaType(base.toLowerCase().trim());
  if (error !== undefined) return { error };
  const params = new Map<string, string>();
  const continued = new Map<string, string>();
  let rest = v.slice(base.length);
  while (rest.length > 0) {
    rest = trimLeft(rest);
    if (rest === '') break;
    const [key, value, after] = consumeMediaParam(rest);
    if (key === '') {
      if (after.trim() === ';') break; // a trailing semicolon
      return { error: 'mime: invalid media parameter' };
    }
    const map = key.includes('*') ? continued : params;
    const seen = map.get(key);
    if (seen !== undefined && seen !== value) return { error: 'mime: duplicate parameter name' };
    map.set(key, value);
    rest = after;
  }
  return { params };
}
