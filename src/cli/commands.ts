// The commands and their help: what each does, its own flags, and (for the
// commands that load configuration) every configuration flag with its default,
// generated from the configuration schema.
import { FIELDS, flagName, type Field } from '../config/schema.ts';
import { CONFIG_OPTION, HELP_OPTION, type OptionDef, type OptionDefs } from './args.ts';

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** A few lines under the usage in the command's help. */
  readonly about: string;
  readonly options: OptionDefs;
  /** Takes --config and every configuration flag. */
  readonly config: boolean;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'answer Envoy ext_authz Checks over gRPC',
    usage: 'ztauthz serve [--config FILE] [configuration flags]',
    about:
      'Serves envoy.service.auth.v3.Authorization and grpc.health.v1.Health on grpc.addr, and /healthz,\n' +
      '/readyz and /metrics on http.addr, until SIGTERM or SIGINT. Refuses to start (exit 2) on a bad\n' +
      'configuration or a policy that does not load.',
    options: {},
    config: true,
  },
  {
    name: 'check',
    summary: 'decide one request offline, or replay a policy input or decision record',
    usage: 'ztauthz check (--request FILE | --input FILE) [--explain] [--config FILE] [configuration flags]',
    about:
      'Decides as serve would, without a server, and prints the decision as one JSON object.\n' +
      '--input takes a policy input document, or a decision-log record (one JSON line), whose input is\n' +
      'evaluated at its path (or at --decision-path when given). Exit status: 0 allowed, 1 denied, 2 error.',
    options: {
      request: { type: 'string', placeholder: 'FILE', doc: 'a CheckRequest in protojson, as grpcurl sends it' },
      input: { type: 'string', placeholder: 'FILE', doc: 'a policy input document, or a decision-log record to replay' },
      explain: { type: 'boolean', doc: 'also print the decision path, the input the policy saw and (with --request) the cache outcome' },
    },
    config: true,
  },
  {
    name: 'test',
    summary: "run the policy's Rego tests (opa test)",
    usage: 'ztauthz test [--policy DIR] [--run REGEX] [--verbose] [--config FILE] [configuration flags]',
    about:
      'Runs `opa test` with the pinned opa (policy.opa, $ZTAUTHZ_OPA, .tools/bin/opa, then PATH) on the\n' +
      'policy directory (policy.path; default the demo policy). Exit status: 0 passed, 1 a test failed, 2 error.',
    options: {
      run: { type: 'string', placeholder: 'REGEX', doc: 'only the tests whose name matches (opa test --run)' },
      verbose: { type: 'boolean', doc: 'list every test (opa test -v)' },
    },
    config: true,
  },
  {
    name: 'version',
    summary: 'print the version of ztauthz and its runtime',
    usage: 'ztauthz version',
    about: '',
    options: {},
    config: false,
  },
  {
    name: 'help',
    summary: "print a command's help",
    usage: 'ztauthz help [COMMAND]',
    about: '',
    options: {},
    config: false,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: ztauthz COMMAND [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'ztauthz COMMAND --help' for a command's flags. Every configuration key is also a flag",
    '(--grpc-addr) and an environment variable (ZTAUTHZ_GRPC_ADDR); see docs/configuration.md.',
    '',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const own: Array<[string, string]> = Object.entries({ ...spec.options, ...(spec.config ? CONFIG_OPTION : {}), ...HELP_OPTION }).map(([name, def]) => [
    ownFlag(name, def),
    def.doc,
  ]);
  const lines = [`usage: ${spec.usage}`, ''];
  if (spec.about) lines.push(spec.about, '');
  lines.push('Flags:', ...columns(own));
  if (spec.config) {
    lines.push(
      '',
      'Configuration flags (each also a ZTAUTHZ_* environment variable and a key of the --config file;',
      'precedence: default < file < environment < flag; meanings in docs/configuration.md):',
      ...columns(FIELDS.map((f) => [configFlag(f), `default ${showDefault(f)}`])),
    );
  }
  return `${lines.join('\n')}\n`;
}

function ownFlag(name: string, def: OptionDef): string {
  const flag = def.short ? `-${def.short}, --${name}` : `--${name}`;
  return def.type === 'string' ? `${flag} ${def.placeholder ?? 'VALUE'}` : flag;
}

const PLACEHOLDERS: Readonly<Record<Field['kind'], string>> = {
  string: 'VALUE',
  int: 'N',
  float: 'X',
  bool: '',
  enum: '',
  addr: 'HOST:PORT',
  grpc_addr: 'HOST:PORT|unix:///PATH',
  list: 'A,B,...',
  objects: 'JSON',
  mapping: 'JSON',
  decision_path: 'PATH',
};

function configFlag(f: Field): string {
  const names = [flagName(f.key), ...(f.aliases ?? [])].map((n) => `--${n}`).join(', ');
  if (f.kind === 'bool') return `${names}[=false]`;
  const values = f.kind === 'enum' ? (f.values ?? []).map((v) => (v === '' ? '""' : v)).join('|') : PLACEHOLDERS[f.kind];
  return `${names} ${values}`;
}

function showDefault(f: Field): string {
  const d = f.default;
  if (Array.isArray(d)) {
    const joined = d.join(',');
    // A long list (cache.ignore) would drown the help; the reference has it.
    return d.length === 0 ? 'none' : joined.length <= 60 ? joined : `${d.length} entries, see docs/configuration.md`;
  }
  return typeof d === 'string' ? JSON.stringify(d) : String(d);
}

/** Two columns; a long first column puts the second on the next line. */
function columns(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.min(40, Math.max(...rows.map(([a]) => a.length))) + 4;
  return rows.map(([a, b]) => (a.length + 4 > width ? `  ${a}\n${' '.repeat(width)}${b}` : `  ${a.padEnd(width - 2)}${b}`));
}
