// Command-line parsing with node:util's parseArgs: a command's own flags,
// -h/--help, and (for commands that load configuration) --config and every
// configuration key as a flag (--section-key, see config/schema.ts).
//
// parseArgs runs with strict: false and tokens, so that an unknown flag can be
// reported with the closest known one ("did you mean --policy?") and a boolean
// configuration flag can take a value (--decision-dry-run=false); the checks
// strict mode would make are made here on its tokens.
import { parseArgs } from 'node:util';
import { configFlagNames, fieldForFlag } from '../config/load.ts';
import { didYouMean } from '../config/suggest.ts';

/** Bad usage: reported on stderr with a pointer to the command's help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The command whose help explains the usage; undefined: the general help. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

export interface OptionDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** How the value is shown in help ("FILE"). */
  readonly placeholder?: string;
  readonly doc: string;
}

export type OptionDefs = Readonly<Record<string, OptionDef>>;

export const HELP_OPTION: OptionDefs = { help: { type: 'boolean', short: 'h', doc: 'show this help' } };
export const CONFIG_OPTION: OptionDefs = { config: { type: 'string', placeholder: 'FILE', doc: 'YAML configuration file (docs/configuration.md)' } };

export interface ParsedArgs {
  /** The command's own flags (and help, config). */
  readonly options: Record<string, string | boolean>;
  /** Configuration flags by flag name, for loadConfig. */
  readonly configFlags: Record<string, string>;
}

/** Parses a command's arguments (those after the command name). `config`: configuration flags are accepted too. */
export function parseCommandArgs(command: string, args: readonly string[], own: OptionDefs, config: boolean): ParsedArgs {
  const defs: OptionDefs = { ...HELP_OPTION, ...own, ...(config ? CONFIG_OPTION : {}) };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, def] of Object.entries(defs)) options[name] = def.short ? { type: def.type, short: def.short } : { type: def.type };
  if (config) {
    for (const flag of configFlagNames()) if (!(flag in options)) options[flag] = { type: fieldForFlag(flag)?.kind === 'bool' ? 'boolean' : 'string' };
  }
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const parsed: ParsedArgs = { options: {}, configFlags: {} };
  for (const [i, token] of tokens.entries()) {
    if (token.kind === 'positional') {
      const before = tokens[i - 1];
      const hint =
        before?.kind === 'option' && before.value === undefined && /^(true|false)$/.test(token.value)
          ? ` (a boolean flag takes its value as ${before.rawName}=${token.value})`
          : '';
      throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}${hint}`, command);
    }
    if (token.kind === 'option-terminator') continue;
    const { name, rawName } = token;
    const option = options[name];
    if (!option) {
      const known = [...Object.keys(defs), ...(config ? configFlagNames() : [])];
      throw new UsageError(`unknown flag ${rawName}${didYouMean(name.replace(/^-+/, ''), known, (c) => `--${c}`)}`, command);
    }
    let value: string | boolean;
    if (option.type === 'string') {
      // Without strict mode parseArgs takes the next flag as the value: "--policy --explain" is a missing value.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) throw new UsageError(`${rawName} needs a value`, command);
      value = token.value;
    } else {
      value = token.value === undefined ? true : token.value;
    }
    if (name in defs) parsed.options[name] = defs[name]!.type === 'boolean' ? value !== 'false' : value;
    else parsed.configFlags[name] = String(value);
  }
  return parsed;
}
