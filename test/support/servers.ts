// Starts ztauthz for tests: in-process (fast) or as a real `serve` process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.ts';
import { startServer, type RunningServer } from '../../src/server/Server.ts';
import { createLogger } from '../../src/observe/Log.ts';
import { RUNTIME, RUNTIME_BIN, runtimeBin, runtimeFlags, type RuntimeName } from './runtime.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
/**
 * What a spawned `serve` runs: on Bun the one-file bundle (dist/bun/cli.js,
 * built before the tests by globalSetup.ts), as scripts/runtime.sh and the
 * image run it; on Node the sources.
 */
export function serveScript(runtime: RuntimeName): string {
  return runtime === 'bun' ? fileURLToPath(new URL('../../dist/bun/cli.js', import.meta.url)) : CLI;
}
/**
 * The runtime every server and CLI process the tests start runs on: Node 24
 * or Bun from the devDependencies, as package.json config.runtime or
 * ZTAUTHZ_RUNTIME chooses (test/support/runtime.ts). The test runner stays on
 * Node (process.execPath).
 */
export const NODE = RUNTIME_BIN;

/** Starts a server in this process on free loopback ports. Flags as on the command line, without dashes. */
export async function startInProcess(flags: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({
    flags: { 'grpc-addr': '127.0.0.1:0', 'http-addr': '127.0.0.1:0', 'decision-log-enabled': 'false', ...flags },
  });
  return startServer(config, createLogger('error'));
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** 0 when it serves on a Unix socket (then grpcAddress is unix:///path). */
  readonly grpcPort: number;
  /** The "serving" line's grpc address: host:port or unix:///path. */
  readonly grpcAddress: string;
  readonly httpPort: number;
  /** Everything the process wrote to stdout so far (decision log). */
  stdout(): string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns `ztauthz serve` and waits for its "serving" log line. ZTAUTHZ_RUNTIME
 * in env runs this one server on that runtime instead of the chosen one.
 */
export function spawnServe(args: string[] = [], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ServeProcess> {
  const runtime = (env['ZTAUTHZ_RUNTIME'] as RuntimeName | undefined) ?? RUNTIME;
  const bin = runtime === RUNTIME ? NODE : runtimeBin(runtime);
  return spawnServing(
    bin,
    [...runtimeFlags(runtime), serveScript(runtime), 'serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', ...args],
    { cwd: ROOT, env: { ...process.env, ...env } },
    timeoutMs,
  );
}

/** Spawns a command that is a `ztauthz serve` (of this checkout or an installed package) and waits for its "serving" log line. */
export function spawnServing(command: string, argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }, timeoutMs = 60_000): Promise<ServeProcess> {
  const child = spawn(command, argv, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start in ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    const beforeServing = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before serving: ${err}`));
    };
    child.on('exit', beforeServing);
    let serving = false;
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (serving) return;
      const m = /"msg":"serving","grpc":"(unix:\/\/[^"]*|[^"]*:(\d+))","http":"[^"]*:(\d+)"/.exec(err);
      if (!m) return;
      serving = true;
      clearTimeout(timer);
      child.off('exit', beforeServing);
      resolve({
        child,
        grpcPort: Number(m[2] ?? 0),
        grpcAddress: m[1]!,
        httpPort: Number(m[3]),
        stdout: () => out,
        stderr: () => err,
        stop: (signal = 'SIGTERM') =>
          new Promise((res) => {
            // A process killed by a signal has signalCode set and exitCode null, and its exit event has fired already.
            if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
            child.once('exit', (code) => res(code));
            child.kill(signal);
          }),
      });
    });
  });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The `check` command's pipeline, in-process: the same phases `serve` builds. */
export async function inProcessPipeline(flags: Record<string, string> = {}) {
  const { buildPhases, createPipeline } = await import('../../src/server/Pipeline.ts');
  const { loadConfiguredPolicy } = await import('../../src/server/PolicyLifecycle.ts');
  const { PolicyStore } = await import('../../src/policy/PolicyStore.ts');
  const config = loadConfig({ flags });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  const load = () => loadConfiguredPolicy(config, phases.router.entrypoints);
  return { config, policies, phases, load, pipeline: createPipeline(config, policies, phases) };
}
