// The JavaScript runtime this process runs on, for the "serving" log line:
// ztauthz runs on Node 24 and on Bun (scripts/runtime.sh, docs/operations.md "Runtime").
const bun = (process.versions as Record<string, string | undefined>)['bun'];

/** "node v24.21.0" or "bun 1.4.5". */
export const RUNTIME_VERSION = bun ? `bun ${bun}` : `node ${process.version}`;

interface BunMemory {
  gc(force: boolean): void;
  shrink?(): void;
}

/**
 * Gives back what start-up alone used: on Bun, a full collection and then
 * Bun.shrink (JSC drops compiled code and mimalloc returns its free pages).
 * Loading the configuration and compiling and instantiating the policy leave
 * garbage and JIT code that no Check runs again; idle RSS fell from 77 to
 * 73 MiB with the drop-in policy (2026-12-05, docs/performance.md "Memory").
 * The Check path is compiled again by its first requests. Node: nothing (V8
 * exposes no collection without --expose-gc, and its idle is not Bun's).
 */
export function releaseStartupMemory(): void {
  const b = (globalThis as { Bun?: BunMemory }).Bun;
  if (!b) return;
  b.gc(true);
  b.shrink?.();
}
