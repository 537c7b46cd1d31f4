// What the gRPC transport alone costs on this machine: three servers that
// answer every Check with the same constant OK and do nothing else, so the
// numbers are the floor under any ext_authz server written on them.
//   1. grpc-js as ztauthz configured it before it had its own transport;
//   2. grpc-js with default options;
//   3. ztauthz's own transport on node:http2 (src/server/h2; the suites' no-op contender);
//   4. a bare node:http2 gRPC responder (no grpc-js): the floor of Node's HTTP/2.
// Each is measured as fast as ghz drives it and at a fixed 2,000 RPS: CPU per
// call falls as load rises (more calls share each event-loop turn and
// write), so only equal offered load compares work per call.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/transport.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noopH2ServerSource, noopServerSource } from './lib/Contenders.ts';
import { runGhz } from './lib/Ghz.ts';
import { MAX_CONCURRENT_STREAMS } from '../src/server/GrpcListener.ts';
import { startPinned } from './lib/Pinned.ts';
import { delimited, requests } from './lib/Requests.ts';
import { prng } from '../test/support/prng.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RUNTIME = process.env['ZTAUTHZ_RUNTIME'] ?? 'node';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '5');

// One gRPC message (not compressed, 2 bytes: CheckResponse.status = {}), then grpc-status 0 in trailers.
const BARE_HTTP2 = `
import http2 from 'node:http2';
const body = Buffer.from([0, 0, 0, 0, 2, 0x0a, 0x00]);
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.on('data', () => {});
  stream.on('end', () => {
    // Bun emits 'end' on a stream the client's closing connection destroyed, where respond throws (and took the server down with it: the CPU column read 0).
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.error('serving on ' + server.address().port));
`;

// grpc-js as ztauthz configured it while it served on grpc-js: channelz off (about a sixth of a no-op call's CPU) and the same stream limit.
const GRPC_JS_ZTAUTHZ_OPTIONS = { 'grpc.enable_channelz': 0, 'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS };

const servers: Array<[string, string]> = [
  ['grpc-js, ztauthz options', noopServerSource(ROOT, GRPC_JS_ZTAUTHZ_OPTIONS)],
  ['grpc-js, default options', noopServerSource(ROOT, {})],
  ['ztauthz node:http2 transport', noopH2ServerSource(ROOT)],
  ['bare node:http2', BARE_HTTP2],
];

const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-transport-'));
const data = join(tmp, 'requests.bin');
writeFileSync(data, delimited(requests({}, 1000, 'transport', prng(1))));
const rows: string[] = [];
// The server script as a file: `bun -e` and `node -e` differ, a file runs the same on both.
let scripts = 0;
function scriptFile(script: string): string {
  const f = join(ROOT, 'bench', `.transport-${process.pid}-${scripts++}.mjs`);
  writeFileSync(f, script);
  written.push(f);
  return f;
}
const written: string[] = [];
try {
  for (const [name, script] of servers) {
    const p = await startPinned({
      cores: '0',
      command: RUNTIME === 'bun' ? join(ROOT, 'node_modules/.bin/bun') : process.execPath,
      args: [scriptFile(script)],
      cwd: ROOT,
      ready: /serving on (\d+)/,
    });
    try {
      const base = { ghz: join(ROOT, '.tools/bin/ghz'), cwd: ROOT, cores: '1', port: Number(p.ready[0]), dataFile: data, concurrency: 32, connections: 2 };
      runGhz({ ...base, seconds: 2 });
      for (const rps of [undefined, 2000]) {
        const cpu0 = p.cpuSeconds();
        const r = runGhz({ ...base, seconds: SECONDS, ...(rps ? { rps } : {}) });
        const us = ((p.cpuSeconds() - cpu0) * 1e6) / r.count;
        // A server that died answers nothing and reads as 0 µs: say so instead of printing a row.
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${name} exited during the run: ${p.output().slice(-1500)}`);
        rows.push(
          `| ${name} | ${rps ? '2,000 (fixed)' : 'as fast as ghz drives it'} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50Ms.toFixed(2)} ms | ${Math.round(us)} µs |`,
        );
        console.error(rows[rows.length - 1]);
      }
    } finally {
      await p.stop();
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
  for (const f of written) rmSync(f, { force: true });
}
console.log(`| server | offered load | RPS | p50 | server CPU per call |\n|---|---|---:|---:|---:|\n${rows.join('\n')}`);
