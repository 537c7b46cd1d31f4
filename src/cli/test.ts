// `ztauthz test`: the policy's Rego tests (*_test.rego), run by `opa test`
// with the pinned opa on the policy directory. opa's exit status 2 (a test
// failed) becomes 1, so that 2 keeps meaning a usage or load error.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { opaBinary } from '../policy/OpaCompiler.ts';
import { DEMO_POLICY_DIR } from '../server/defaults.ts';
import { UsageError } from './args.ts';

/** Longest a test run may take: opa test on a policy directory is seconds; a hung one must not hang CI. */
const TIMEOUT_MS = 10 * 60_000;

export interface TestOptions {
  readonly run?: string | undefined;
  readonly verbose: boolean;
}

export async function runTests(config: Config, opts: TestOptions): Promise<number> {
  const dir = config.policy.path || DEMO_POLICY_DIR;
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`policy ${dir} does not exist`, 'test');
  }
  if (!isDir) throw new UsageError(`policy ${dir} is not a directory: test runs the Rego tests of a policy directory`, 'test');
  const args = ['test'];
  if (config.policy.rego_version === 'v0') args.push('--v0-compatible');
  if (opts.verbose) args.push('-v');
  if (opts.run !== undefined) args.push('--run', opts.run);
  args.push(dir);
  const opa = opaBinary(config.policy.opa);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(opa, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: TIMEOUT_MS });
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error(`cannot run opa (${opa}): run scripts/toolchain.sh or set ZTAUTHZ_OPA`) : err),
    );
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 2 : 0)));
  });
  // opa test: 0 passed, 2 a test failed, 1 (or anything else) it could not run them.
  return code === 0 ? 0 : code === 2 ? 1 : 2;
}
