// CPU per decision record of the decision-log upload alone (DecisionUpload:
// buffering, chunking, gzip on the thread pool, the POST left out), records
// of SIZE bytes (default 700, an allowed record without input; a denial's
// with its input is about 2500). Process CPU, so the gzip threads count.
//   node bench/decision-upload.ts        (N records, default 100000)
import { Registry } from 'prom-client';
import { DecisionUpload } from '../src/observe/DecisionUpload.ts';

const size = Number(process.env['SIZE'] ?? 700);
const N = Number(process.env['N'] ?? 100000);
const record = JSON.stringify({
  decision_id: 'ID',
  timestamp: new Date().toISOString(),
  path: 'envoy/authz/allow',
  revision: 'demo-1',
  allowed: true,
  reason: 'allowed',
  identity: { spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend', trust_domain: 'cluster.local', namespace: 'web', service_account: 'frontend' },
  route: { name: 'kserve-v2-infer', api: 'kserve', action: 'infer', model: 'fraud-detector', version: null },
  pad: 'x'.repeat(Math.max(0, size - 420)),
  metrics: { timer_check_ns: 12000, timer_eval_ns: 3000 },
});
let bodies = 0;
let gzipped = 0;
const upload = new DecisionUpload({
  post: async (body) => {
    bodies++;
    gzipped += body.length;
  },
  uploadLimitBytes: 32768,
  minDelayMs: 1e9,
  maxDelayMs: 1e9,
  backoffMs: () => 1e9,
  maxBufferBytes: 2 ** 30,
  maxBufferEvents: 1e9,
  labels: { app: 'checkout', id: '1780d507-aea2-45cc-ae50-fa153c8e4a5a', version: '0.1.0' },
  bundles: ['authz'],
  registry: new Registry(),
});
const lines = Array.from({ length: N }, () => `${record.replace('"ID"', `"${crypto.randomUUID()}"`)}\n`);
const c0 = process.cpuUsage();
for (const line of lines) upload.push(line, 'demo-1');
const pushed = process.cpuUsage(c0);
await upload.close(600_000);
const all = process.cpuUsage(c0);
const us = (c: NodeJS.CpuUsage) => +((c.user + c.system) / N).toFixed(2);
console.log(
  JSON.stringify({
    record_bytes: record.length,
    n: N,
    push_us: us(pushed),
    total_us: us(all),
    bodies,
    gzip_ratio: +((N * (record.length + 60)) / gzipped).toFixed(1),
  }),
);
