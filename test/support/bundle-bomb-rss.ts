// Run as a child process by test/policy-loading.test.ts: loads the .tar.gz
// named by argv[2] as --policy would, and prints the resident set size
// before and right after the refusal (no forced GC), and the error.
import { readPolicySource } from '../../src/policy/PolicySource.ts';

const path = process.argv[2] as string;
const before = process.memoryUsage().rss;
let error: { name: string; message: string } | undefined;
try {
  await readPolicySource(path, { entrypoints: ['envoy/authz/allow'] });
} catch (e) {
  error = { name: (e as Error).name, message: (e as Error).message };
}
const after = process.memoryUsage().rss;
process.stdout.write(`${JSON.stringify({ before, after, error })}\n`);
