// Once before any test file: bring dist/ up to date (scripts/build.sh), so a
// server spawned on Bun runs the one-file bundle dist/bun/cli.js of the
// current sources, as `npm start` and the image run it (servers.ts).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync('bash', [fileURLToPath(new URL('../../scripts/build.sh', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
}
