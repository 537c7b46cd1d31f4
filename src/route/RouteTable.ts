// Matches (method, canonical segments) to a route through a trie over path
// segments: each node has literal children (by text), parameter children with a
// literal prefix/suffix ("{model}:predict"), one whole-segment parameter child
// and tails ("{path*}", or "{server*}/mcp": a tail followed by literal segments,
// which must be the last ones of the path). A lookup walks one node per segment, so its cost
// depends on the path and the few alternatives at each node, never on the
// number of routes; even when it backtracks it visits no node twice (a tree).
//
// Most specific wins, decided segment by segment from the left: at the first
// segment where two candidate routes differ, a literal beats a prefix/suffix
// parameter (longer literal text first), which beats a whole-segment
// parameter, which beats a tail (a tail with more literal segments after it
// first). If the more specific branch leads nowhere
// (or to no route for the method), the walk backtracks to the next one, so
// "GET /v1/training/jobs/j1:cancel" still reaches "GET .../jobs/{job}" when
// only POST is routed for "{job}:cancel".
//
// Two routes with the same shape (same literals and parameter positions,
// whatever the parameter names) and a common method are a conflict and the
// table refuses to build: nothing is left to declaration order.
import type { RouteMatch } from '../types/Route.ts';
import { RouteConfigError, type RouteSpec } from './RouteSpec.ts';
import { parseTemplate, type TemplateSegment } from './RouteTemplate.ts';
import { compileFields, type FieldPlan } from './BodyFields.ts';

export interface RouteTableOptions {
  /** Entrypoint of routes that name none (config policy.decision). */
  readonly defaultEntrypoint: string;
}

interface ParamSlot {
  readonly name: string;
  /** Segment index the value is read from. */
  readonly index: number;
  readonly prefix: number;
  readonly suffix: number;
  readonly tail: boolean;
  /** For a tail: how many literal segments follow it. */
  readonly after: number;
}

interface CompiledRoute {
  readonly spec: RouteSpec;
  // Copied from spec so building a match touches one object less.
  readonly name: string;
  readonly api: string;
  readonly action: string;
  readonly template: readonly TemplateSegment[];
  readonly slots: readonly ParamSlot[];
  readonly entrypoint: string;
  readonly fields: FieldPlan | null;
  readonly anyMethod: boolean;
  readonly methods: ReadonlySet<string>;
}

// Both the trie nodes and the leaves keep their first child inline and only
// the rest in a Map: almost every node below the first segment has exactly one
// literal child and one method, and with thousands of routes a lookup's cost
// is memory touched (objects visited), not steps taken.

/** The routes that end at one trie position, by method. */
class Leaf {
  method: string | null = null;
  route: CompiledRoute | null = null;
  more: Map<string, CompiledRoute> | null = null;
  any: CompiledRoute | null = null;

  pick(method: string): CompiledRoute | null {
    if (method === this.method) return this.route;
    return this.more?.get(method) ?? this.any;
  }

  add(route: CompiledRoute): void {
    const clash = this.any ?? (route.anyMethod ? this.route : this.#firstClash(route.methods));
    if (clash) {
      const common = route.anyMethod || clash.anyMethod ? 'every method' : `method ${[...route.methods].filter((m) => clash.methods.has(m)).join(', ')}`;
      throw new RouteConfigError(
        `route "${route.spec.name}" (${route.spec.path}) conflicts with route "${clash.spec.name}" (${clash.spec.path}): same path shape and ${common}`,
      );
    }
    if (route.anyMethod) {
      this.any = route;
      return;
    }
    for (const m of route.methods) {
      if (this.method === null) {
        this.method = m;
        this.route = route;
      } else {
        (this.more ??= new Map()).set(m, route);
      }
    }
  }

  #firstClash(methods: ReadonlySet<string>): CompiledRoute | null {
    for (const m of methods) {
      const r = m === this.method ? this.route : (this.more?.get(m) ?? null);
      if (r) return r;
    }
    return null;
  }
}

/** A tail and the literal segments that must end the path after it (none for a plain "{path*}"). */
interface TailEdge {
  readonly after: readonly string[];
  readonly leaf: Leaf;
}

interface AffixEdge {
  readonly prefix: string;
  readonly suffix: string;
  readonly node: TrieNode;
}

class TrieNode {
  /** The first literal child; the others are in `more`. */
  key: string | null = null;
  kid: TrieNode | null = null;
  more: Map<string, TrieNode> | null = null;
  /** Sorted most specific (longest literal text) first. */
  affix: AffixEdge[] | null = null;
  param: TrieNode | null = null;
  /** Sorted most literal segments after the tail first. */
  tails: TailEdge[] | null = null;
  leaf: Leaf | null = null;

  child(seg: string): TrieNode | null {
    if (seg === this.key) return this.kid;
    return this.more === null ? null : (this.more.get(seg) ?? null);
  }
}

export class RouteTable {
  readonly #root = new TrieNode();
  readonly #byName = new Map<string, CompiledRoute>();
  readonly #specs: RouteSpec[] = [];
  /** One string object per distinct literal, so lookups compare against a few hot strings, not one copy per route. */
  readonly #strings = new Map<string, string>();

  /** Compiles and indexes the routes; throws RouteConfigError naming the route on a bad template, a duplicate name or a conflict. */
  static build(specs: readonly RouteSpec[], opts: RouteTableOptions): RouteTable {
    const table = new RouteTable();
    for (const spec of specs) table.#add(spec, opts);
    return table;
  }

  /** The routes in the order they were given. */
  get routes(): readonly RouteSpec[] {
    return this.#specs;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The most specific route for the method and canonical segments (see CanonicalPath), or null. */
  match(method: string, segments: readonly string[]): RouteMatch | null {
    const end = effectiveLength(segments);
    const route = walk(this.#root, segments, 0, end, method);
    return route === null ? null : toMatch(route, segments, end);
  }

  /** Matches against the one named route only (context_extensions ztauthz_route); null when it does not fit. */
  matchNamed(name: string, method: string, segments: readonly string[]): RouteMatch | null {
    const route = this.#byName.get(name);
    if (!route || !(route.anyMethod || route.methods.has(method))) return null;
    const end = effectiveLength(segments);
    return fits(route.template, segments, end) ? toMatch(route, segments, end) : null;
  }

  /** The agent protocol whose JSON-RPC body the named route reads, if any. */
  jsonrpc(name: string): RouteSpec['jsonrpc'] {
    return this.#byName.get(name)?.spec.jsonrpc;
  }

  /** How the named route reads body or query fields; null when it reads none. */
  fieldPlan(name: string): FieldPlan | null {
    return this.#byName.get(name)?.fields ?? null;
  }

  #intern(s: string): string {
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    this.#strings.set(s, s);
    return s;
  }

  #add(spec: RouteSpec, opts: RouteTableOptions): void {
    if (this.#byName.has(spec.name)) throw new RouteConfigError(`route "${spec.name}" is defined twice`);
    const template = parseTemplate(spec.name, spec.path);
    const slots: ParamSlot[] = [];
    let node = this.#root;
    let leaf: Leaf | undefined;
    for (let i = 0; i < template.length; i++) {
      const seg = template[i] as TemplateSegment;
      if (seg.kind === 'literal') {
        node = literalChild(node, this.#intern(seg.text));
      } else if (seg.kind === 'tail') {
        const after = template.slice(i + 1).map((t) => this.#intern((t as TemplateSegment & { kind: 'literal' }).text));
        slots.push({ name: seg.name, index: i, prefix: 0, suffix: 0, tail: true, after: after.length });
        leaf = tailLeaf(node, after);
        break;
      } else {
        slots.push({ name: seg.name, index: i, prefix: seg.prefix.length, suffix: seg.suffix.length, tail: false, after: 0 });
        node = seg.prefix === '' && seg.suffix === '' ? (node.param ??= new TrieNode()) : affixChild(node, seg.prefix, seg.suffix);
      }
    }
    const methods = new Set(spec.methods);
    const route: CompiledRoute = {
      spec,
      name: spec.name,
      api: spec.api,
      action: spec.action,
      template,
      slots,
      entrypoint: spec.entrypoint ?? opts.defaultEntrypoint,
      fields: compileFields(spec),
      anyMethod: methods.has('*'),
      methods,
    };
    (leaf ?? (node.leaf ??= new Leaf())).add(route);
    this.#byName.set(spec.name, route);
    this.#specs.push(spec);
  }
}

/** A trailing slash ("/v1/models/") names the same resource for the servers fronted here, so it matches the same route. */
function effectiveLength(segments: readonly string[]): number {
  const n = segments.length;
  return n > 1 && segments[n - 1] === '' ? n - 1 : n;
}

function walk(node: TrieNode, segs: readonly string[], i: number, end: number, method: string): CompiledRoute | null {
  if (i === end) return node.leaf === null ? null : node.leaf.pick(method);
  const seg = segs[i] as string;
  let found: CompiledRoute | null = null;
  const next = node.child(seg);
  if (next !== null && (found = walk(next, segs, i + 1, end, method)) !== null) return found;
  if (node.affix !== null) {
    for (const e of node.affix) {
      if (seg.length > e.prefix.length + e.suffix.length && seg.startsWith(e.prefix) && seg.endsWith(e.suffix)) {
        if ((found = walk(e.node, segs, i + 1, end, method)) !== null) return found;
      }
    }
  }
  // Parameters never match an empty segment (only "/" itself has one).
  if (seg === '') return null;
  if (node.param !== null && (found = walk(node.param, segs, i + 1, end, method)) !== null) return found;
  if (node.tails === null) return null;
  for (const t of node.tails) {
    if (endsWith(segs, end, i + 1, t.after) && (found = t.leaf.pick(method)) !== null) return found;
  }
  return null;
}

/** Whether segs[from..end) has room for `after` and ends with it (one segment at least stays for the tail before). */
function endsWith(segs: readonly string[], end: number, from: number, after: readonly string[]): boolean {
  const start = end - after.length;
  if (start < from) return false;
  for (let k = 0; k < after.length; k++) if (segs[start + k] !== after[k]) return false;
  return true;
}

function tailLeaf(node: TrieNode, after: readonly string[]): Leaf {
  const edges = (node.tails ??= []);
  const existing = edges.find((e) => e.after.length === after.length && e.after.every((s, k) => s === after[k]));
  if (existing) return existing.leaf;
  const edge: TailEdge = { after, leaf: new Leaf() };
  edges.push(edge);
  // More literal segments after the tail first; ties in a fixed (lexical) order, never declaration order.
  edges.sort((a, b) => b.after.length - a.after.length || cmp(a.after.join('/'), b.after.join('/')));
  return edge.leaf;
}

/** Whether one template fits the segments (matchNamed); mirrors walk for a single route. */
function fits(template: readonly TemplateSegment[], segs: readonly string[], end: number): boolean {
  const tailAt = template.findIndex((t) => t.kind === 'tail');
  if (tailAt >= 0) {
    const after = template.slice(tailAt + 1).map((t) => (t as TemplateSegment & { kind: 'literal' }).text);
    return end >= template.length && fits(template.slice(0, tailAt), segs, tailAt) && segs[tailAt] !== '' && endsWith(segs, end, tailAt + 1, after);
  }
  if (end !== template.length) return false;
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as TemplateSegment;
    const seg = segs[i] as string;
    if (t.kind === 'literal') {
      if (seg !== t.text) return false;
    } else if (seg === '' || (t.kind === 'param' && !(seg.length > t.prefix.length + t.suffix.length && seg.startsWith(t.prefix) && seg.endsWith(t.suffix)))) {
      return false;
    }
  }
  return true;
}

/** Shared by every route without path parameters: a match allocates only what it must. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

function toMatch(route: CompiledRoute, segs: readonly string[], end: number): RouteMatch {
  const params: Record<string, string> = route.slots.length === 0 ? (NO_PARAMS as Record<string, string>) : {};
  for (const s of route.slots) {
    const seg = segs[s.index] as string;
    params[s.name] = s.tail ? segs.slice(s.index, end - s.after).join('/') : seg.slice(s.prefix, seg.length - s.suffix);
  }
  return {
    name: route.name,
    api: route.api,
    action: route.action,
    model: params['model'] ?? null,
    version: params['version'] ?? null,
    params,
    entrypoint: route.entrypoint,
  };
}

function literalChild(node: TrieNode, key: string): TrieNode {
  const existing = node.child(key);
  if (existing !== null) return existing;
  const child = new TrieNode();
  if (node.key === null) {
    node.key = key;
    node.kid = child;
  } else {
    (node.more ??= new Map()).set(key, child);
  }
  return child;
}

function affixChild(node: TrieNode, prefix: string, suffix: string): TrieNode {
  const edges = (node.affix ??= []);
  const existing = edges.find((e) => e.prefix === prefix && e.suffix === suffix);
  if (existing) return existing.node;
  const edge: AffixEdge = { prefix, suffix, node: new TrieNode() };
  edges.push(edge);
  // Longest literal text first; ties in a fixed (lexical) order so the result never depends on declaration order.
  edges.sort((a, b) => b.prefix.length + b.suffix.length - (a.prefix.length + a.suffix.length) || cmp(a.prefix, b.prefix) || cmp(a.suffix, b.suffix));
  return edge.node;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
