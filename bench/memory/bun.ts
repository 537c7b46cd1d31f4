// bun --preload ./bench/memory/bun.ts src/cli.ts serve
// 4 s after start (after a full GC) writes process.memoryUsage() and JSC's
// heap statistics, with the most numerous object types, to MEMORY_OUT
// (default /tmp/ztauthz-bun-heap.json). With MEMORY_EVERY_MS it also appends
// one line every that many ms (no forced GC: what the process holds under
// load) to MEMORY_SAMPLES (default /tmp/ztauthz-bun-samples.txt): RSS, its
// anonymous and file-backed parts, JS heap size and capacity, extra memory.
// @ts-expect-error bun:jsc exists only in Bun (the project's types are Node's).
import { heapStats } from 'bun:jsc';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

declare const Bun: { gc(force: boolean): void };

setTimeout(() => {
  Bun.gc(true);
  const h = heapStats() as { heapSize: number; heapCapacity: number; extraMemorySize: number; objectCount: number; objectTypeCounts: Record<string, number> };
  const mb = (v: number): number => +(v / 1048576).toFixed(1);
  const top = Object.entries(h.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15);
  const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]));
  writeFileSync(
    process.env['MEMORY_OUT'] ?? '/tmp/ztauthz-bun-heap.json',
    JSON.stringify(
      { usage, heapSize: mb(h.heapSize), heapCapacity: mb(h.heapCapacity), extraMemory: mb(h.extraMemorySize), objects: h.objectCount, top },
      null,
      1,
    ),
  );
}, 4000).unref();

const every = Number(process.env['MEMORY_EVERY_MS'] ?? 0);
if (every > 0) {
  const out = process.env['MEMORY_SAMPLES'] ?? '/tmp/ztauthz-bun-samples.txt';
  writeFileSync(out, '');
  setInterval(() => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (field: string): string => (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024).toFixed(0);
    const h = heapStats() as { heapSize: number; heapCapacity: number; extraMemorySize: number };
    const mb = (v: number): string => (v / 1048576).toFixed(1);
    appendFileSync(
      out,
      `rss ${kib('VmRSS')} anon ${kib('RssAnon')} file ${kib('RssFile')} heap ${mb(h.heapSize)} capacity ${mb(h.heapCapacity)} extra ${mb(h.extraMemorySize)}\n`,
    );
  }, every).unref();
}
