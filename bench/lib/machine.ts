// What a result was measured on: numbers only compare within one machine and one run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { RUNTIME, RUNTIME_BIN } from '../../test/support/runtime.ts';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** The runtime ztauthz's server ran on (scripts/runtime.sh): "node v24…" or "bun 1.4.5". */
  readonly serverRuntime?: string;
  readonly ghz: string;
  readonly opa: string;
  readonly envoy: string;
  readonly loadAverageAtStart: number;
}

const output = (cmd: string, args: string[]): string => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
};

/** `go install` builds report "dev" for --version; the module version is in the binary's build info. */
export function goModuleVersion(binary: string): string {
  return /^\s*mod\s+\S+\s+(\S+)/m.exec(output('go', ['version', '-m', binary]))?.[1] ?? 'unknown';
}

export function describeMachine(tools: { ghz: string; opa: string; envoy: string }): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    // cpus() can be empty in some containers; /proc/cpuinfo is the fallback on Linux.
    cpu ||= /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    /* not Linux */
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    serverRuntime: `${RUNTIME} ${output(RUNTIME_BIN, ['--version'])}`,
    ghz: goModuleVersion(tools.ghz),
    opa: /Version: (\S+)/.exec(output(tools.opa, ['version']))?.[1] ?? 'unknown',
    envoy: /version: \S+\/([\d.]+)/.exec(output(tools.envoy, ['--version']))?.[1] ?? 'unknown',
    loadAverageAtStart: loadavg()[0]!,
  };
}

/**
 * opa-envoy-plugin's version: its module version when `go install` built a
 * tag; a source build reports "(devel)", so then the OPA it was built with.
 */
export function opaEnvoyPluginVersion(binary: string): string | undefined {
  if (!existsSync(binary)) return undefined;
  const mod = goModuleVersion(binary);
  if (/^v\d/.test(mod)) return mod;
  const info = output('go', ['version', '-m', binary]);
  const opa = /^\s*dep\s+github\.com\/open-policy-agent\/opa\s+(\S+)/m.exec(info)?.[1] ?? /Version: (\S+)/.exec(output(binary, ['version']))?.[1];
  return `built from source (v1.x sources with OPA ${opa ? (opa.startsWith('v') ? opa : `v${opa}`) : 'unknown'})`;
}
