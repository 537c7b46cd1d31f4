// The JavaScript runtime this process runs on, for the "serving" log line:
// ztauthz runs on Node 24 and on Bun (scripts/runtime.sh, docs/operations.md "Runtime").
const bun = (process.versions as Record<string, string | undefined>)['bun'];

/** "node v24.21.0" or "bun 1.4.5". */
export const RUNTIME_VERSION = bun ? `bun ${bun}` : `node ${process.version}`;
