// One loaded policy: the opa-wasm instance, its data, its revision. Loading
// checks everything that could otherwise fail at request time: entrypoints the
// configuration needs, and builtins neither opa-wasm nor ztauthz provide.
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { EvaluationAbort, loadHostPolicy } from './builtins/load.ts';
import { patchNativeBuiltins } from './builtins/wasm-patch.ts';
import type { BundleFiles } from './Bundle.ts';
import { WasmEval } from './WasmEval.ts';
import { inputProjection } from './InputProjection.ts';
import { createHostBuiltins, missingBuiltins, requiredBuiltins, type HostBuiltins } from './builtins/index.ts';
import type { JsonObject } from '../types/Json.ts';
import type { HttpSendRuntime } from './httpsend/HttpSendRuntime.ts';
import { analysePlan, effectiveIgnore, wasmStrings, type EffectiveIgnore, type PolicyReads } from '../cache/PolicyReads.ts';
import { parseFieldPath, type FieldPath } from '../cache/CacheKey.ts';

/** cache.ignore as it applies to one loaded policy: the fields it may read are taken out (see cache/PolicyReads.ts). */
export interface PolicyIgnore extends EffectiveIgnore {
  readonly paths: readonly FieldPath[];
}

export interface EngineOptions {
  /** Entrypoints (decision paths like "envoy/authz/allow") that must exist. */
  readonly requiredEntrypoints: readonly string[];
  /** Upper bound on wasm memory, in 64 KiB pages: a runaway evaluation fails instead of eating the host. */
  readonly maxMemoryPages: number;
  /**
   * Where policies that call http.send are evaluated (worker threads); without
   * it (http_send.allowed_hosts empty) such policies are refused at load.
   */
  readonly httpSend?: HttpSendRuntime | undefined;
  /** See LoaderOptions.strictBuiltinErrors. */
  readonly strictBuiltinErrors?: boolean | undefined;
}

/**
 * What http.send does in the main-thread instance: it stops the evaluation,
 * which is then done again on a worker (or, at load, accepted as far as it got).
 */
export const HTTP_SEND_OFF_THREAD = 'http.send: continues off the main thread';

export class PolicyLoadError extends Error {
  override name = 'PolicyLoadError';
}

let loads = 0;

export class PolicyEngine {
  readonly revision: string;
  readonly entrypoints: ReadonlySet<string>;
  /** Host builtins the policy calls (e.g. time.now_ns), known at load time. */
  readonly hostBuiltinsUsed: readonly string[];
  /**
   * The policy reads the clock or calls http.send, so the same input may be
   * decided differently later.
   */
  readonly timeDependent: boolean;
  /**
   * The policy imports http.send. Its main-thread instance stops at http.send
   * (HTTP_SEND_OFF_THREAD); an evaluation that gets there is done again on a
   * worker (evaluateOffThread), where http.send can wait.
   */
  readonly callsOut: boolean;
  /**
   * Unique per loaded instance: the revision plus a load counter. Cache keys
   * use it, so a reload that keeps the manifest revision (or a Check that
   * finishes on the old policy after a swap) can never share entries.
   */
  readonly instance: string;
  /** The input fields the policy may read (from its plan, or its wasm's constants), known at load time. */
  readonly inputReads: PolicyReads;
  /** Per configured list (cache.ignore, and the agent routes' extra fields): each is analysed once. */
  readonly #ignore = new Map<readonly string[], { readonly explicit: boolean; readonly value: PolicyIgnore }>();
  readonly #policy: LoadedPolicy;
  readonly #eval: WasmEval | undefined;
  /** The input's JSON text with only the fields the policy may read (see InputProjection.ts); undefined: all of it. */
  readonly #inputJson: ((input: object) => string) | undefined;
  readonly #host: HostBuiltins;
  readonly #offThread: { readonly runtime: HttpSendRuntime; readonly spec: { id: string; module: unknown; data: unknown; maxMemoryPages: number } } | undefined;

  private constructor(policy: LoadedPolicy, host: HostBuiltins, bundle: BundleFiles, builtinsUsed: readonly string[], module: unknown, opts: EngineOptions) {
    this.#policy = policy;
    this.#eval = WasmEval.of(policy);
    this.#host = host;
    this.revision = bundle.revision;
    this.entrypoints = new Set(Object.keys(policy.entrypoints as Record<string, number>));
    this.hostBuiltinsUsed = builtinsUsed;
    this.callsOut = builtinsUsed.includes('http.send');
    this.timeDependent = this.callsOut || builtinsUsed.some(isClockBuiltin);
    this.instance = `${bundle.revision}#${++loads}`;
    this.inputReads = readsOf(bundle);
    this.#inputJson = inputProjection(this.inputReads, this.entrypoints);
    this.#offThread =
      this.callsOut && opts.httpSend
        ? { runtime: opts.httpSend, spec: { id: this.instance, module, data: bundle.data, maxMemoryPages: opts.maxMemoryPages } }
        : undefined;
  }

  static async load(bundle: BundleFiles, opts: EngineOptions): Promise<PolicyEngine> {
    const host = createHostBuiltins({ strictErrors: opts.strictBuiltinErrors === true });
    // On the main thread http.send stops the evaluation, which is then done
    // again on a worker (see evaluate). An EvaluationAbort, so that the
    // undefined-on-error rule for builtins does not turn the stop into an
    // undefined expression and let the policy go on without the response.
    const withStub = (used: readonly string[]): HostBuiltins['builtins'] =>
      used.includes('http.send')
        ? {
            ...host.builtins,
            'http.send': () => {
              throw new EvaluationAbort(HTTP_SEND_OFF_THREAD);
            },
          }
        : host.builtins;
    // Compiled once, then used both to list the builtins it imports and to instantiate it.
    let module: unknown;
    let used: string[];
    let policy: LoadedPolicy;
    try {
      // json.marshal, base64, format_int and indexof, compiled into the wasm, are patched to call the host (wasm-patch.ts)
      module = new (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => unknown } }).WebAssembly.Module(
        patchNativeBuiltins(bundle.wasm).bytes,
      );
      used = requiredBuiltins(module as Parameters<typeof requiredBuiltins>[0]);
      policy = await loadHostPolicy(
        module as Parameters<typeof loadHostPolicy>[0],
        { initial: 5, maximum: opts.maxMemoryPages },
        { builtins: withStub(used), strictErrors: host.strictErrors },
      );
    } catch (err) {
      throw new PolicyLoadError(`policy.wasm does not load: ${errorText(err)}`);
    }
    if (used.includes('http.send') && !opts.httpSend) {
      throw new PolicyLoadError('policy uses http.send, which needs http_send.allowed_hosts: the hosts policies may reach (empty: none)');
    }
    const missing = missingBuiltins(used).filter((b) => b !== 'http.send');
    if (missing.length > 0) {
      throw new PolicyLoadError(`policy uses builtins ztauthz does not provide: ${missing.join(', ')}`);
    }
    const entrypoints = policy.entrypoints as Record<string, number>;
    const absent = opts.requiredEntrypoints.filter((e) => !(e in entrypoints));
    if (absent.length > 0) {
      throw new PolicyLoadError(`policy lacks entrypoint(s) ${absent.join(', ')} (has: ${Object.keys(entrypoints).join(', ') || 'none'})`);
    }
    try {
      policy.setData(bundle.data);
    } catch (err) {
      throw new PolicyLoadError(`bundle data does not load into the policy: ${errorText(err)}`);
    }
    return new PolicyEngine(policy, host, bundle, used, module, opts);
  }

  /**
   * cache.ignore minus the fields this policy may read. Computed once per
   * engine (and list): the Check path only reads the remembered value.
   * `explicit`: the operator set cache.ignore (see cache/PolicyReads.ts).
   */
  cacheIgnore(configured: readonly string[], explicit: boolean): PolicyIgnore {
    const memo = this.#ignore.get(configured);
    if (memo && memo.explicit === explicit) return memo.value;
    const e = effectiveIgnore(configured, explicit, this.inputReads);
    const value: PolicyIgnore = { ...e, paths: e.ignore.map(parseFieldPath) };
    // Bounded: callers pass a few long-lived lists (config and constants), never per-request ones.
    if (this.#ignore.size >= 8) this.#ignore.clear();
    this.#ignore.set(configured, { explicit, value });
    return value;
  }

  /** Evaluates one entrypoint; returns opa-wasm's result set. Throws on evaluation errors. */
  evaluate(input: JsonObject, entrypoint: string): unknown {
    this.#host.beginEvaluation();
    try {
      if (!this.#eval) return this.#policy.evaluate(input, entrypoint);
      return this.#inputJson && input !== null && typeof input === 'object'
        ? this.#eval.evaluateJson(this.#inputJson(input), entrypoint)
        : this.#eval.evaluate(input, entrypoint);
    } catch (err) {
      throw new Error(errorText(err));
    }
  }

  /**
   * Evaluates on an http.send worker (callsOut policies). `deadline` (ms
   * since the epoch) bounds every http.send call of the evaluation.
   */
  evaluateOffThread(input: JsonObject, entrypoint: string, deadline: number = Infinity): Promise<unknown> {
    if (!this.#offThread) return Promise.reject(new Error('policy does not call http.send'));
    return this.#offThread.runtime.evaluate(this.#offThread.spec, input, entrypoint, deadline);
  }

  /** Evaluates on the main thread, and again on a worker if the evaluation reaches http.send. */
  evaluateAnywhere(input: JsonObject, entrypoint: string, deadline?: number): unknown {
    if (!this.callsOut) return this.evaluate(input, entrypoint);
    try {
      return this.evaluate(input, entrypoint);
    } catch (err) {
      if (errorText(err).includes(HTTP_SEND_OFF_THREAD)) return this.evaluateOffThread(input, entrypoint, deadline);
      throw err;
    }
  }

  /** The policy was replaced: workers drop their instances of it once its last evaluation is done. */
  retire(): void {
    this.#offThread?.runtime.retire(this.instance);
  }
}

/** What the policy may read of its input: its plan when ztauthz compiled it, else its wasm's string constants. */
function readsOf(bundle: BundleFiles): PolicyReads {
  if (bundle.plan !== undefined) {
    try {
      return analysePlan(bundle.plan);
    } catch {
      // A plan of a shape the analysis does not know: fall back to the wasm's constants.
      return { kind: 'wasm', strings: wasmStrings(bundle.wasm) };
    }
  }
  return { kind: 'wasm', strings: wasmStrings(bundle.wasm) };
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
