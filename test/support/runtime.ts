// The JavaScript runtime the servers tests start run on: the one
// scripts/runtime.sh resolves (package.json config.runtime, overridden by
// ZTAUTHZ_RUNTIME), so tests, npm scripts and the container agree. The test
// runner itself stays on Node 24.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNTIME_SH = fileURLToPath(new URL('../../scripts/runtime.sh', import.meta.url));

export type RuntimeName = 'node' | 'bun';
export const RUNTIMES: readonly RuntimeName[] = ['node', 'bun'];

function ask(flag: '--name' | '--bin' | '--flags', runtime?: RuntimeName): string {
  const env = { ...process.env };
  if (runtime) env['ZTAUTHZ_RUNTIME'] = runtime;
  return execFileSync('bash', [RUNTIME_SH, flag], { env, encoding: 'utf8' }).trim();
}

/** The runtime binary for a runtime by name (node_modules' pinned node or bun). */
export function runtimeBin(runtime: RuntimeName): string {
  return ask('--bin', runtime);
}

/** The chosen runtime's name. */
export const RUNTIME = ask('--name') as RuntimeName;
/** The chosen runtime's binary. */
export const RUNTIME_BIN = ask('--bin');

/**
 * The flags scripts/runtime.sh gives a runtime (chosen by measurement, e.g.
 * Node's semi-space size), so a server a test spawns runs as `npm start` and
 * the image run it: memory measured without them is not what users get.
 */
export function runtimeFlags(runtime: RuntimeName = RUNTIME): string[] {
  // Asked once per runtime: spawnServe calls this for every server a test starts.
  let flags = FLAGS.get(runtime);
  if (!flags) {
    const text = ask('--flags', runtime);
    FLAGS.set(runtime, (flags = text ? text.split(' ') : []));
  }
  return flags;
}
const FLAGS = new Map<RuntimeName, string[]>();
