// Path templates ("/v2/models/{model}/infer", "/v1/models/{model}:predict",
// "/artifacts/{path*}", "/{server*}/mcp") parsed into segments the route trie is built from.
// Templates are written in the canonical (decoded) form requests are matched
// in, so anything CanonicalPath refuses can never appear in a template either.
import { PARAM_NAME, RouteConfigError } from './RouteSpec.ts';

export type TemplateSegment =
  | { readonly kind: 'literal'; readonly text: string }
  /** One parameter in one segment; prefix and suffix are literal text around it ("" for a whole-segment parameter). */
  | { readonly kind: 'param'; readonly name: string; readonly prefix: string; readonly suffix: string }
  /** One or more segments; only literal segments may follow it (MCP's "…/mcp": "/{server*}/mcp"). */
  | { readonly kind: 'tail'; readonly name: string };

// The characters a canonical segment may hold (RFC 3986 pchar without ";" and
// escapes): templates use the decoded form, so "%" has no place in them.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,=:@]+$/;

/** Parses a template; errors name the route and say what is wrong. */
export function parseTemplate(route: string, template: string): TemplateSegment[] {
  const fail = (why: string): never => {
    throw new RouteConfigError(`route "${route}": path "${template}": ${why}`);
  };
  if (typeof template !== 'string' || !template.startsWith('/')) fail('must start with "/"');
  if (template === '/') return [{ kind: 'literal', text: '' }];
  const parts = template.slice(1).split('/');
  const seen = new Set<string>();
  const out: TemplateSegment[] = [];
  let afterTail = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') fail(i === parts.length - 1 ? 'trailing "/" (a trailing slash matches the same route anyway)' : 'empty segment ("//")');
    const seg = parseSegment(part, fail);
    if (afterTail && seg.kind !== 'literal') fail(`only literal segments may follow a tail parameter, not "${part}"`);
    if (seg.kind === 'tail') afterTail = true;
    if (seg.kind === 'literal') {
      if (seg.text === '.' || seg.text === '..') fail(`dot segment "${seg.text}"`);
    } else {
      if (seen.has(seg.name)) fail(`duplicate parameter "{${seg.name}}"`);
      seen.add(seg.name);
    }
    out.push(seg);
  }
  return out;
}

function parseSegment(part: string, fail: (why: string) => never): TemplateSegment {
  const open = part.indexOf('{');
  const close = part.indexOf('}');
  if (open < 0 && close < 0) {
    if (!LITERAL.test(part)) fail(`segment "${part}" has characters a canonical path cannot hold`);
    return { kind: 'literal', text: part };
  }
  if (open < 0 || close < open) fail(`unbalanced braces in "${part}"`);
  if (part.indexOf('{', open + 1) >= 0 || part.indexOf('}', close + 1) >= 0) {
    fail(`segment "${part}" has more than one parameter or unbalanced braces`);
  }
  const inner = part.slice(open + 1, close);
  const prefix = part.slice(0, open);
  const suffix = part.slice(close + 1);
  if (inner === '' || inner === '*') fail(`empty parameter name in "${part}"`);
  if (inner.endsWith('*')) {
    const name = inner.slice(0, -1);
    if (prefix !== '' || suffix !== '') fail(`tail parameter "{${inner}}" must be a whole segment`);
    if (!PARAM_NAME.test(name)) fail(`parameter name "${name}" must match ${PARAM_NAME.source}`);
    return { kind: 'tail', name };
  }
  if (!PARAM_NAME.test(inner)) fail(`parameter name "${inner}" must match ${PARAM_NAME.source}`);
  for (const lit of [prefix, suffix]) {
    if (lit !== '' && !LITERAL.test(lit)) fail(`segment "${part}" has characters a canonical path cannot hold`);
  }
  return { kind: 'param', name: inner, prefix, suffix };
}
