// npm run demo [-- --once]
//
// Starts the demo mesh (demo/mesh.ts: five stub AI services and an agent
// calling an MCP tool server, each behind its own mTLS Envoy sidecar, one ztauthz deciding for all of them), makes the
// scripted calls and prints who called what, the outcome and why. Then keeps
// everything running (ztauthz's /metrics stays up) until Ctrl-C; with --once
// it stops and exits 0 after the table.
import { formatTable, startDemoMesh } from './mesh.ts';

const once = process.argv.slice(2).includes('--once');

const mesh = await startDemoMesh();
let stopping = false;
const shutdown = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    await mesh.stop();
  }
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  const rows = await mesh.calls();
  console.log(formatTable(rows));
  console.log(`\nztauthz metrics: ${mesh.metricsUrl}`);
  for (const [name, envoy] of Object.entries(mesh.envoys).sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`${name} sidecar: mTLS on 127.0.0.1:${envoy.listenPort}, admin http://127.0.0.1:${envoy.adminPort}/stats`);
  }
} catch (err) {
  console.error(err);
  await shutdown(1);
}

if (once) await shutdown(0);
else console.log('\nRunning; Ctrl-C to stop.');
