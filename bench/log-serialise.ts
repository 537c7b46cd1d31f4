// CPU per decision record, serialised three ways, to decide what the decision
// log uses (src/observe/DecisionLog.ts, MaskPaths.ts):
//   stringify       JSON.stringify of the record, the default masks removed by
//                   copying the objects on their path (what the log did before pino)
//   pino            a pino logger (no level, time or base) writing the record
//   pino+redact     the same with the default masks as `redact` paths, `remove`
//                   (what the log does)
// each for an allowed record without input and a denied one with a typical
// input (16 headers), and the output's cost per record: 64 KiB pieces handed
// to pino.destination (sonic-boom) and to fs.WriteStream, both on /dev/null.
//   node bench/log-serialise.ts        (N records per round, default 20000; ROUNDS, default 7)
import { createWriteStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { hasPath, maskPaths } from '../src/observe/MaskPaths.ts';

const N = Number(process.env['N'] ?? 20000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const MASK = [
  '/input/attributes/request/http/headers/authorization',
  '/input/attributes/request/http/headers/cookie',
  '/input/attributes/request/http/headers/proxy-authorization',
];
const masks = maskPaths(MASK);
const redactPaths = masks.map((m) => m.redactPath);

const headers: Record<string, string> = {
  ':path': '/v2/models/fraud-detector/infer',
  authorization: 'Bearer secret-token',
  cookie: 'session=secret',
  'x-request-id': 'r1',
};
for (let i = 0; i < 12; i++) headers[`x-h-${i}`] = `value-${i}-${'-'.repeat(i)}`;
const input = {
  attributes: {
    source: { address: { socketAddress: { address: '10.0.0.1', portValue: 5555 } }, principal: 'spiffe://cluster.local/ns/web/sa/frontend' },
    request: { http: { id: '123', method: 'POST', path: '/v2/models/fraud-detector/infer', host: 'fraud', scheme: 'http', protocol: 'HTTP/1.1', headers } },
  },
  parsed_path: ['v2', 'models', 'fraud-detector', 'infer'],
  parsed_query: {},
  identity: { spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend', namespace: 'web' },
  route: { name: 'kserve-v2-infer', params: { model: 'fraud-detector' } },
};
const record = (withInput: boolean): Record<string, unknown> => ({
  decision_id: randomUUID(),
  timestamp: new Date().toISOString(),
  path: 'envoy/authz/allow',
  revision: 'rev-1',
  allowed: !withInput,
  reason: withInput ? 'policy_denied' : 'allowed',
  message: '',
  dry_run: false,
  http_status: withInput ? 403 : 200,
  result: { allowed: !withInput },
  ...(withInput ? { input } : {}),
  identity: {
    spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend',
    trust_domain: 'cluster.local',
    namespace: 'web',
    service_account: 'frontend',
    source: 'principal',
    peer: null,
    user: null,
  },
  route: { name: 'kserve-v2-infer', api: 'kserve', action: 'infer', model: 'fraud-detector', version: null },
  cache: 'miss',
  metrics: { timer_check_ns: 120000, timer_eval_ns: 40000, timer_server_handler_ns: 120000, timer_rego_query_eval_ns: 40000 },
});

let line = '';
const sink = { write: (s: string): void => void (line = s) };
const options = { base: null, timestamp: false, formatters: { level: () => ({}) } };
const plain = pino(options, sink);
const redacted = pino({ ...options, redact: { paths: redactPaths, remove: true } }, sink);

/** The hand-written masking pino's redact replaced: copy each object on the path, delete the key. */
function removeAt(root: Record<string, unknown>, path: readonly string[]): void {
  if (!hasPath(root, path)) return;
  let node: Record<string, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node[path[i]!] as object;
    const copy = Array.isArray(next) ? [...next] : { ...next };
    node[path[i]!] = copy;
    node = copy as Record<string, unknown>;
  }
  delete node[path[path.length - 1]!];
}

function stringify(r: Record<string, unknown>): string {
  const view = { ...r };
  for (const m of masks) removeAt(view, m.segments);
  return `${JSON.stringify(view)}\n`;
}

function cpuPerRecord(n: number, run: () => void): number {
  const t = process.cpuUsage();
  run();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / n;
}

const results: Record<string, number[]> = {};
const add = (k: string, v: number): void => void (results[k] ??= []).push(v);
const piece = `${'x'.repeat(1500)}\n`.repeat(43);
for (let round = 0; round < ROUNDS; round++) {
  for (const withInput of [false, true]) {
    const recs = Array.from({ length: N }, () => record(withInput));
    const what = withInput ? 'denied, with input' : 'allowed, no input';
    add(
      `stringify   ${what}`,
      cpuPerRecord(N, () => recs.forEach((r) => void (line = stringify(r)))),
    );
    add(
      `pino        ${what}`,
      cpuPerRecord(N, () => recs.forEach((r) => plain.info({ ...r }))),
    );
    add(
      `pino+redact ${what}`,
      cpuPerRecord(N, () => recs.forEach((r) => redacted.info({ ...r }))),
    );
  }
  const pieces = Math.ceil(N / 43);
  const sonic = pino.destination({ dest: '/dev/null', sync: false, maxLength: 16 << 20 });
  add(
    'output: pino.destination, 64 KiB pieces',
    cpuPerRecord(N, () => {
      for (let i = 0; i < pieces; i++) sonic.write(piece);
    }),
  );
  const stream = createWriteStream('/dev/null');
  add(
    'output: fs.WriteStream, 64 KiB pieces',
    cpuPerRecord(N, () => {
      for (let i = 0; i < pieces; i++) stream.write(piece);
    }),
  );
  await new Promise((r) => setTimeout(r, 100));
  sonic.end();
  stream.end();
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`median CPU per record over ${ROUNDS} rounds of ${N} (${process.version}; last line ${line.length} chars)`);
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(42)} ${median(v).toFixed(2)} µs`);
