// One loaded policy: the opa-wasm instance, its data, its revision. Loading
// checks everything that could otherwise fail at request time: entrypoints the
// configuration needs, and builtins neither opa-wasm nor ztauthz provide.
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { loadHostPolicy } from './builtins/load.ts';
import type { BundleFiles } from './Bundle.ts';
import { WasmEval } from './WasmEval.ts';
import { createHostBuiltins, missingBuiltins, requiredBuiltins, type HostBuiltins } from './builtins/index.ts';
import type { JsonObject } from '../types/Json.ts';

export interface EngineOptions {
  /** Entrypoints (decision paths like "envoy/authz/allow") that must exist. */
  readonly requiredEntrypoints: readonly string[];
  /** Upper bound on wasm memory, in 64 KiB pages: a runaway evaluation fails instead of eating the host. */
  readonly maxMemoryPages: number;
  /** See LoaderOptions.strictBuiltinErrors. */
  readonly strictBuiltinErrors?: boolean | undefined;
}

export class PolicyLoadError extends Error {
  override name = 'PolicyLoadError';
}

let loads = 0;

export class PolicyEngine {
  readonly revision: string;
  readonly entrypoints: ReadonlySet<string>;
  /** Host builtins the policy calls (e.g. time.now_ns), known at load time. */
  readonly hostBuiltinsUsed: readonly string[];
  /** The policy reads the clock, so the same input may be decided differently later. */
  readonly timeDependent: boolean;
  /**
   * Unique per loaded instance: the revision plus a load counter. Cache keys
   * use it, so a reload that keeps the manifest revision (or a Check that
   * finishes on the old policy after a swap) can never share entries.
   */
  readonly instance: string;
  readonly #policy: LoadedPolicy;
  readonly #eval: WasmEval | undefined;
  readonly #host: HostBuiltins;

  private constructor(policy: LoadedPolicy, host: HostBuiltins, bundle: BundleFiles, builtinsUsed: readonly string[]) {
    this.#policy = policy;
    this.#eval = WasmEval.of(policy);
    this.#host = host;
    this.revision = bundle.revision;
    this.entrypoints = new Set(Object.keys(policy.entrypoints as Record<string, number>));
    this.hostBuiltinsUsed = builtinsUsed;
    this.timeDependent = builtinsUsed.some(isClockBuiltin);
    this.instance = `${bundle.revision}#${++loads}`;
  }

  static async load(bundle: BundleFiles, opts: EngineOptions): Promise<PolicyEngine> {
    const host = createHostBuiltins({ strictErrors: opts.strictBuiltinErrors === true });
    // Compiled once, then used both to list the builtins it imports and to instantiate it.
    let module: unknown;
    let used: string[];
    let policy: LoadedPolicy;
    try {
      module = new (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => unknown } }).WebAssembly.Module(bundle.wasm);
      used = requiredBuiltins(module as Parameters<typeof requiredBuiltins>[0]);
      policy = await loadHostPolicy(module as Parameters<typeof loadHostPolicy>[0], { initial: 5, maximum: opts.maxMemoryPages }, host);
    } catch (err) {
      throw new PolicyLoadError(`policy.wasm does not load: ${errorText(err)}`);
    }
    const missing = missingBuiltins(used);
    if (missing.length > 0) {
      throw new PolicyLoadError(`policy uses builtins ztauthz does not provide: ${missing.join(', ')}`);
    }
    const entrypoints = policy.entrypoints as Record<string, number>;
    const absent = opts.requiredEntrypoints.filter((e) => !(e in entrypoints));
    if (absent.length > 0) {
      throw new PolicyLoadError(
        `policy lacks entrypoint(s) ${absent.join(', ')} (has: ${Object.keys(entrypoints).join(', ') || 'none'})`,
      );
    }
    try {
      policy.setData(bundle.data);
    } catch (err) {
      throw new PolicyLoadError(`bundle data does not load into the policy: ${errorText(err)}`);
    }
    return new PolicyEngine(policy, host, bundle, used);
  }

  /** Evaluates one entrypoint; returns opa-wasm's result set. Throws on evaluation errors. */
  evaluate(input: JsonObject, entrypoint: string): unknown {
    this.#host.beginEvaluation();
    try {
      return this.#eval ? this.#eval.evaluate(input, entrypoint) : this.#policy.evaluate(input, entrypoint);
    } catch (err) {
      throw new Error(errorText(err));
    }
  }
}

/**
 * Builtins whose answer depends on when they are called (decode_verify checks
 * exp/nbf against now, parse_and_verify_certificates validity periods), or
 * that draw random numbers: a decision using one is not cached by default.
 */
function isClockBuiltin(name: string): boolean {
  return (
    name === 'time.now_ns' ||
    name === 'io.jwt.decode_verify' ||
    name === 'crypto.x509.parse_and_verify_certificates' ||
    name === 'crypto.x509.parse_and_verify_certificates_with_options' ||
    name === 'uuid.rfc4122' ||
    name === 'rand.intn'
  );
}

/** opa-wasm throws strings and plain objects as well as Errors. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
