// node --import ./bench/memory/modules.mjs dist/cli.js serve
// Records every module URL Node loads; 4 s after start writes the count by
// package to MEMORY_OUT (default /tmp/ztauthz-modules.json). Plain JavaScript:
// a .ts hook would itself load Node's TypeScript stripper into the measurement.
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const seen = new Set();
registerHooks({
  load(url, ctx, next) {
    seen.add(url);
    return next(url, ctx);
  },
});
setTimeout(() => {
  const byPackage = {};
  for (const u of seen) {
    const m = u.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const k = m ? m[1] : u.startsWith('file:') ? 'ztauthz' : 'builtin';
    byPackage[k] = (byPackage[k] ?? 0) + 1;
  }
  writeFileSync(process.env.MEMORY_OUT ?? '/tmp/ztauthz-modules.json', JSON.stringify({ total: seen.size, byPackage, list: [...seen] }, null, 1));
}, 4000).unref();
