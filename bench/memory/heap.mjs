// node --import ./bench/memory/heap.mjs dist/cli.js serve
// 4 s after start writes process.memoryUsage(), the V8 heap spaces and code
// statistics to MEMORY_OUT (default /tmp/ztauthz-heap.json), and a heap
// snapshot to HEAP_SNAPSHOT when set (summarise it with summary.mjs).
import v8 from 'node:v8';
import { writeFileSync } from 'node:fs';

setTimeout(() => {
  const mb = (v) => +(v / 1048576).toFixed(1);
  const out = {
    usage: Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)])),
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, `${mb(s.space_used_size)}/${mb(s.space_size)}`])),
    code: v8.getHeapCodeStatistics(),
  };
  writeFileSync(process.env.MEMORY_OUT ?? '/tmp/ztauthz-heap.json', JSON.stringify(out, null, 1));
  if (process.env.HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
}, 4000).unref();
