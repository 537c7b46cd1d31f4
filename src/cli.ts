#!/usr/bin/env node
// ztauthz command line: `serve` and `check`. Exit codes: 0 ok/allowed,
// 1 denied (check), 2 usage, configuration or policy load errors.
import cluster from 'node:cluster';
import { parseArgs, UsageError, type OptionSpec } from './cli/args.ts';
import { loadConfig } from './config/load.ts';
import { runCheck } from './cli/check.ts';
import { runServe } from './cli/serve.ts';
import { writeErrorLine } from './server/ErrorLine.ts';

const USAGE = `usage:
  ztauthz serve [--config FILE] [--grpc-addr HOST:PORT|unix:///PATH] [--http-addr HOST:PORT] [--policy PATH] [--workers N] [config flags]
  ztauthz check --request FILE.json [--policy PATH] [--explain] [config flags]

Every configuration key is also a flag (--section-key) and an environment
variable (ZTAUTHZ_SECTION_KEY); see the README's configuration reference.
`;

function commandOptions(command: string | undefined): OptionSpec {
  if (command === 'check') return { request: 'string', explain: 'boolean' };
  return {};
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, commandOptions);
  if (args.options['help'] || args.command === 'help' || args.command === undefined) {
    process.stdout.write(USAGE);
    return args.command === undefined && !args.options['help'] ? 2 : 0;
  }
  const config = loadConfig({ file: args.configFile, flags: args.configFlags, env: process.env });
  switch (args.command) {
    case 'serve':
      return runServe(config);
    case 'check': {
      const request = args.options['request'];
      if (typeof request !== 'string') throw new UsageError('check needs --request FILE.json');
      return runCheck(config, request, args.options['explain'] === true, (s) => process.stdout.write(s));
    }
    default:
      throw new UsageError(`unknown command ${args.command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
  },
  (err: Error) => {
    writeErrorLine(err.message);
    // A configuration error is one line (what Kubernetes shows); usage only helps with bad arguments.
    if (err instanceof UsageError) process.stderr.write(USAGE);
    process.exitCode = 2;
    // A cluster worker's IPC channel would keep it alive; its primary is waiting for it to exit.
    if (cluster.isWorker) process.exit(2);
  },
);
