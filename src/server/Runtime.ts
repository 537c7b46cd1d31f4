// The JavaScript runtime this process runs on: its name for the "serving" log
// line, and what it can give back after start-up. ztauthz runs on Node 24 and
// on Bun (scripts/runtime.sh, docs/operations.md "Runtime").
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
 * garbage and JIT code that no Check runs again; idle RSS fell from 79 to
 * 71 MiB in bench/memory.ts (2026-12-05, docs/performance.md "Start-up
 * memory given back"). The Check path is compiled again by its first
 * requests. It runs once, before the server reports ready, so no Check a
 * readiness probe lets in waits for the collection. Node: nothing (V8 exposes
 * no collection without --expose-gc).
 */
export function releaseStartupMemory(): void {
  const b = (globalThis as { Bun?: BunMemory }).Bun;
  if (!b) return;
  b.gc(true);
  b.shrink?.();
}
