#!/usr/bin/env node
// ztauthz command line: serve, check, test, version, help. Exit codes: 0 ok
// or allowed, 1 denied (check) or a test failed (test), 2 usage,
// configuration or policy load errors. Usage errors and configuration errors
// go to stderr; help asked for goes to stdout.
import cluster from 'node:cluster';
import { ztauthzVersion } from './config/labels.ts';
import { didYouMean } from './config/suggest.ts';
import { loadConfig } from './config/load.ts';
import { parseCommandArgs, UsageError, type ParsedArgs } from './cli/args.ts';
import { COMMANDS, commandHelp, findCommand, generalHelp } from './cli/commands.ts';
import { runCheck } from './cli/check.ts';
import { runReplay } from './cli/replay.ts';
import { runServe } from './cli/serve.ts';
import { runTests } from './cli/test.ts';
import { writeErrorLine } from './server/ErrorLine.ts';

const out = (s: string): void => void process.stdout.write(s);

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(generalHelp());
    return 2;
  }
  if (first === '-h' || first === '--help') return printed(generalHelp());
  if (first === '--version') return printed(version());
  if (first.startsWith('-')) throw new UsageError(`the command comes first (ztauthz COMMAND [flags]), got ${first}`);
  const spec = findCommand(first);
  if (!spec)
    throw new UsageError(
      `unknown command ${JSON.stringify(first)}${didYouMean(
        first,
        COMMANDS.map((c) => c.name),
      )}`,
    );
  if (spec.name === 'help') return help(rest);
  const args = parseCommandArgs(spec.name, rest, spec.options, spec.config);
  if (args.options['help'] === true) return printed(commandHelp(spec));
  if (spec.name === 'version') return printed(version());
  const config = loadConfig({ file: stringOption(args, 'config'), flags: args.configFlags, env: process.env });
  switch (spec.name) {
    case 'serve':
      return runServe(config);
    case 'check': {
      const request = stringOption(args, 'request');
      const input = stringOption(args, 'input');
      if ((request === undefined) === (input === undefined)) throw new UsageError('check needs one of --request FILE and --input FILE', 'check');
      const explain = args.options['explain'] === true;
      if (input !== undefined) {
        const explicitPath = 'decision-path' in args.configFlags || 'policy-decision' in args.configFlags;
        return runReplay(config, input, { explicitPath, explain }, out);
      }
      return runCheck(config, request!, explain, out);
    }
    case 'test':
      return runTests(config, { run: stringOption(args, 'run'), verbose: args.options['verbose'] === true });
    default:
      throw new Error(`command ${spec.name} has no runner`);
  }
}

function help(topics: readonly string[]): number {
  if (topics.length === 0) return printed(generalHelp());
  if (topics.length > 1) throw new UsageError('help takes one command', 'help');
  const spec = findCommand(topics[0]!);
  if (!spec)
    throw new UsageError(
      `unknown command ${JSON.stringify(topics[0])}${didYouMean(
        topics[0]!,
        COMMANDS.map((c) => c.name),
      )}`,
    );
  return printed(commandHelp(spec));
}

function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

function version(): string {
  const bun = process.versions['bun'];
  return `ztauthz ${ztauthzVersion()}\n${bun ? `bun ${bun}` : `node ${process.version}`}\n`;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
  },
  (err: Error) => {
    writeErrorLine(err.message);
    // A configuration error is one line (what Kubernetes shows); a usage error also says where help is.
    if (err instanceof UsageError) process.stderr.write(`Run 'ztauthz ${err.command ? `${err.command} ` : ''}--help' for usage.\n`);
    process.exitCode = 2;
    // A cluster worker's IPC channel would keep it alive; its primary is waiting for it to exit.
    if (cluster.isWorker) process.exit(2);
  },
);

/** Writes what was asked for to stdout; the command succeeded. */
function printed(text: string): number {
  out(text);
  return 0;
}
