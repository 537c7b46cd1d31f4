// Command-line parsing: a command, its own options, and config flags (every
// configuration key as --section-key, see config/schema.ts).
import { fieldForFlag } from '../config/load.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  readonly command: string | undefined;
  /** Options the command itself declares (e.g. check's --request). */
  readonly options: Record<string, string | boolean>;
  /** Config flags by flag name, for loadConfig. */
  readonly configFlags: Record<string, string>;
  readonly configFile: string | undefined;
}

/** Declares the command's own options: name -> 'string' | 'boolean'. */
export type OptionSpec = Readonly<Record<string, 'string' | 'boolean'>>;

export function parseArgs(argv: readonly string[], commandOptions: (command: string | undefined) => OptionSpec): ParsedArgs {
  const [first, ...rest] = argv;
  const command = first !== undefined && !first.startsWith('-') ? first : undefined;
  const args = command === undefined ? argv : rest;
  const own = commandOptions(command);
  const options: Record<string, string | boolean> = {};
  const configFlags: Record<string, string> = {};
  let configFile: string | undefined;

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
      return next;
    };
    if (name === 'help' || name === 'h') {
      options['help'] = true;
    } else if (name === 'config') {
      configFile = takeValue();
    } else if (own[name] === 'boolean') {
      options[name] = inline === undefined ? true : inline !== 'false';
    } else if (own[name] === 'string') {
      options[name] = takeValue();
    } else {
      const spec = fieldForFlag(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
      configFlags[name] = spec.kind === 'bool' && inline === undefined ? 'true' : takeValue();
    }
  }
  return { command, options, configFlags, configFile };
}
