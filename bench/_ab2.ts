import { pino } from 'pino';
import { createWriteStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
const MASKP = ['input["attributes"]["request"]["http"]["headers"]["authorization"]', 'input["attributes"]["request"]["http"]["headers"]["cookie"]', 'input["attributes"]["request"]["http"]["headers"]["proxy-authorization"]'];
const headers: Record<string, string> = { ':path': '/v2/models/fraud-detector/infer', authorization: 'Bearer secret-token', cookie: 'session=secret', 'x-request-id': 'r1' };
for (let i = 0; i < 12; i++) headers['x-h-' + i] = 'value-' + i + '-'.repeat(i);
const input = { attributes: { source: { address: { socketAddress: { address: '10.0.0.1', portValue: 5555 } }, principal: 'spiffe://cluster.local/ns/web/sa/frontend' }, request: { http: { id: '123', method: 'POST', path: '/v2/models/fraud-detector/infer', host: 'fraud', scheme: 'http', protocol: 'HTTP/1.1', headers } } }, parsed_path: ['v2', 'models', 'fraud-detector', 'infer'], parsed_query: {}, identity: { spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend', namespace: 'web' }, route: { name: 'kserve-v2-infer', params: { model: 'fraud-detector' } } };
const rec = (wi: boolean) => ({ decision_id: randomUUID(), timestamp: new Date().toISOString(), path: 'envoy/authz/allow', revision: 'rev-1', allowed: true, reason: 'allowed', message: '', dry_run: false, http_status: 200, result: { allowed: true }, ...(wi ? { input } : {}), identity: { spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend', trust_domain: 'cluster.local', namespace: 'web', service_account: 'frontend', source: 'principal', peer: null, user: null }, route: { name: 'kserve-v2-infer', api: 'kserve', action: 'infer', model: 'fraud-detector', version: null }, cache: 'miss', metrics: { timer_check_ns: 120000, timer_eval_ns: 40000, timer_server_handler_ns: 120000, timer_rego_query_eval_ns: 40000 } });
let line = '';
const sink = { write(s: string) { line = s; } };
const plain = pino({ base: null, timestamp: false, formatters: { level: () => ({}) } }, sink);
const red = pino({ base: null, timestamp: false, formatters: { level: () => ({}) }, redact: { paths: MASKP, remove: true } }, sink);
const N = 20000;
function cpu(f: () => void): number { const t = process.cpuUsage(); f(); const u = process.cpuUsage(t); return (u.user + u.system) / N; }
const out: Record<string, number[]> = {};
const add = (k: string, v: number) => (out[k] ??= []).push(v);
for (let r = 0; r < 7; r++) {
  for (const wi of [false, true]) {
    const recs = Array.from({ length: N }, () => rec(wi));
    add(`stringify ${wi}`, cpu(() => { for (const x of recs) line = JSON.stringify({ ...x }) + '\n'; }));
    add(`pino ${wi}`, cpu(() => { for (const x of recs) plain.info({ ...x }); }));
    add(`pino+redact ${wi}`, cpu(() => { for (const x of recs) red.info({ ...x }); }));
  }
  const chunk = 'x'.repeat(1500) + '\n';
  let big = ''; for (let i = 0; i < 43; i++) big += chunk;
  const ws = createWriteStream('/dev/null');
  add('writestream 64K', cpu(() => { for (let i = 0; i < N / 43; i++) ws.write(big); }));
  const sb = pino.destination({ dest: '/dev/null', sync: false, maxLength: 16 << 20 });
  add('sonic 64K', cpu(() => { for (let i = 0; i < N / 43; i++) sb.write(big); }));
  await new Promise((r) => setTimeout(r, 100));
}
for (const [k, v] of Object.entries(out)) console.log(k.padEnd(22), v.sort((a, b) => a - b)[v.length >> 1]!.toFixed(2), 'µs/record');
