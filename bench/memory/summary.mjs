// node bench/memory/summary.mjs FILE.heapsnapshot [N]
// Self size by node type / constructor, then the N largest single nodes.
import { readFileSync } from 'node:fs';

const s = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = Number(process.argv[3] ?? 30);
const f = s.snapshot.meta.node_fields;
const types = s.snapshot.meta.node_types[0];
const N = s.nodes;
const S = s.strings;
const [ti, ni, si] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x));
const by = new Map();
const rows = [];
let total = 0;
for (let i = 0; i < N.length; i += f.length) {
  const t = types[N[i + ti]];
  const name = S[N[i + ni]];
  const key = t === 'object' || t === 'native' ? `${t}:${name}` : `(${t})`;
  const e = by.get(key) ?? [0, 0];
  e[0] += N[i + si];
  e[1]++;
  by.set(key, e);
  total += N[i + si];
  rows.push([N[i + si], t, name.slice(0, 90).replace(/\s+/g, ' ')]);
}
const mib = (v) => (v / 1048576).toFixed(2).padStart(7);
console.log(`total self size ${mib(total)} MiB\n-- by type/constructor (MiB, count)`);
for (const [k, [sz, c]] of [...by].sort((a, b) => b[1][0] - a[1][0]).slice(0, n)) console.log(mib(sz), String(c).padStart(7), k);
console.log('-- largest nodes (KiB)');
for (const r of rows.sort((a, b) => b[0] - a[0]).slice(0, n)) console.log(String(Math.round(r[0] / 1024)).padStart(7), r[1], r[2]);
