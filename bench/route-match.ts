// Route matching cost against table size: the trie should make a lookup cost
// the same for 10 routes as for 10,000. Each table is the built-in catalogue
// plus N generated routes (groups of four under /svc-<g>/, the shapes real
// model servers use). Hits are drawn from every route; misses share long
// prefixes with real routes and fail deep, the worst case for a trie.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/route-match.ts
import { CATALOGUE } from '../src/route/Catalogue.ts';
import { RouteTable } from '../src/route/RouteTable.ts';
import { canonicalPath } from '../src/route/CanonicalPath.ts';
import { parseTemplate } from '../src/route/RouteTemplate.ts';
import type { RouteSpec } from '../src/route/RouteSpec.ts';

interface Req {
  readonly method: string;
  readonly path: string;
  readonly segments: string[];
}

const SIZES = [0, 10, 100, 1_000, 10_000];
// Two traffic mixes: requests spread over 4,096 routes (more than a real
// service sees, and at 10,000 routes more trie than fits in CPU cache), and a
// hot set of 64 routes (the usual case: many requests, few routes).
const SPREAD = 4096;
const HOT = 64;
const ITERATIONS = 2_000_000;

function generated(n: number): RouteSpec[] {
  const shapes: Array<[string, string, string]> = [
    ['GET', '/models', 'list_models'],
    ['GET', '/models/{model}', 'model_metadata'],
    ['POST', '/models/{model}/versions/{version}/infer', 'infer'],
    ['POST', '/models/{model}:predict', 'infer'],
  ];
  return Array.from({ length: n }, (_, i) => {
    const [method, path, action] = shapes[i % 4] as [string, string, string];
    return { name: `gen-${i}`, methods: [method], path: `/svc-${Math.floor(i / 4)}${path}`, api: 'bench', action };
  });
}

/** A request that hits `route`: the template with sample values. */
function hitFor(route: RouteSpec, i: number): Req {
  const parts = parseTemplate(route.name, route.path).map((s) =>
    s.kind === 'literal' ? s.text : s.kind === 'tail' ? `d${i}/f${i}.bin` : `${s.prefix}${s.name}-${i}${s.suffix}`,
  );
  const path = `/${parts.join('/')}`;
  return { method: route.methods[0] === '*' ? 'GET' : (route.methods[0] as string), path, segments: path.slice(1).split('/') };
}

/** A request that walks deep into the trie and then fails. */
function missFor(route: RouteSpec, i: number): Req {
  const hit = hitFor(route, i);
  const path = i % 2 === 0 ? `${hit.path}/extra-${i}` : `/nosuch-${i}${hit.path}`;
  return { method: hit.method, path, segments: path.slice(1).split('/') };
}

function pick<T>(items: readonly T[], n: number): T[] {
  // Deterministic spread over the whole list (a fixed-step walk, not Math.random).
  return Array.from({ length: n }, (_, i) => items[(i * 7919) % items.length] as T);
}

function time(label: string, reqs: readonly Req[], run: (r: Req) => unknown, expectHits: boolean): number {
  let found = 0;
  for (let i = 0; i < 200_000; i++) if (run(reqs[i % reqs.length] as Req) !== null) found++;
  found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) if (run(reqs[i % reqs.length] as Req) !== null) found++;
  const ns = Number(process.hrtime.bigint() - start) / ITERATIONS;
  if ((found === ITERATIONS) !== expectHits || (!expectHits && found !== 0)) throw new Error(`${label}: ${found} of ${ITERATIONS} matched`);
  return ns;
}

const fmtNs = (ns: number) => ns.toFixed(0);
const fmtRate = (ns: number) => Math.round(1e9 / ns).toLocaleString('en-US');

const rows: string[] = [];
for (const n of SIZES) {
  const routes = [...CATALOGUE, ...generated(n)];
  const table = RouteTable.build(routes, { defaultEntrypoint: 'envoy/authz/allow' });
  const match = (r: Req) => table.match(r.method, r.segments);
  const hits = routes.map(hitFor);
  // A tail route ("{path*}") still matches with a segment appended: keep only real misses.
  const misses = routes.map(missFor).filter((r) => match(r) === null);
  const cells = [
    time(`hits ${n}`, pick(hits, HOT), match, true),
    time(`hits ${n}`, pick(hits, SPREAD), match, true),
    time(`misses ${n}`, pick(misses, HOT), match, false),
    time(`misses ${n}`, pick(misses, SPREAD), match, false),
  ];
  const label = n === 0 ? `catalogue only (${CATALOGUE.length})` : `${n.toLocaleString('en-US')} + catalogue (${routes.length.toLocaleString('en-US')})`;
  rows.push(`| ${label} | ${cells.map((ns) => `${fmtNs(ns)} ns (${fmtRate(ns)}/s)`).join(' | ')} |`);
}

// The whole route phase for a path string: canonicalise, then match (catalogue only).
const catalogueTable = RouteTable.build(CATALOGUE, { defaultEntrypoint: 'envoy/authz/allow' });
const opts = { maxPathBytes: 8192 };
const e2eHits = pick(CATALOGUE.map(hitFor), SPREAD);
const e2eNs = time('canonical + match', e2eHits, (r) => catalogueTable.match(r.method, canonicalPath(r.method, r.path, opts).segments), true);
const canonNs = time('canonical only', e2eHits, (r) => canonicalPath(r.method, r.path, opts), true);

console.log(`Node ${process.version}, ${ITERATIONS.toLocaleString('en-US')} lookups per cell; ns/match (matches/s)\n`);
console.log(`| routes in the table | hits, ${HOT} hot routes | hits, spread over ${SPREAD} routes | misses, ${HOT} hot | misses, spread over ${SPREAD} |`);
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
console.log(`\n| catalogue, from the raw path | ns/request | requests/s |`);
console.log('|---|---:|---:|');
console.log(`| canonicalPath only | ${fmtNs(canonNs)} | ${fmtRate(canonNs)} |`);
console.log(`| canonicalPath + match | ${fmtNs(e2eNs)} | ${fmtRate(e2eNs)} |`);
