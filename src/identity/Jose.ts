// jose, loaded on first use: only end-user tokens (jwt.issuers) need it, and a
// process without issuers should not pay its memory (several MiB of code).
// require() of the ES module is synchronous on Node 24 and Bun, so callers
// that construct verifiers synchronously keep doing so.
import { createRequire } from 'node:module';

type JoseModule = typeof import('jose');

let lib: JoseModule | undefined;

export function jose(): JoseModule {
  return (lib ??= createRequire(import.meta.url)('jose') as JoseModule);
}
