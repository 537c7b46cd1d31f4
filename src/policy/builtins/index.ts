// Host implementations of the OPA builtins that a policy compiled with
// `opa build -t wasm` imports instead of carrying (its `builtins()` export
// lists them). opa-wasm calls them synchronously with JSON-decoded arguments
// and JSON-encodes the result. A builtin that fails throws a BuiltinError;
// createHostBuiltins turns that into `undefined`, which opa-wasm hands to the
// wasm as address 0 and the compiled policy treats as an undefined expression:
// OPA's non-strict builtin errors, what opa-envoy-plugin runs with. With
// strictErrors the throw stays, and the whole evaluation fails.
//
// Results that are int64 nanoseconds are returned as ArrayBuffers holding the
// JSON text (see exactInt in util.ts): opa-wasm copies those verbatim, which
// is the only way to hand the wasm an integer above 2^53 without rounding.

import { awsBuiltins } from './awssign.ts';
import { cryptoBuiltins } from './crypto.ts';
import { durationBuiltins } from './duration.ts';
import { encodingBuiltins } from './encoding.ts';
import { globsBuiltins } from './globs.ts';
import { graphBuiltins } from './graph.ts';
import { graphqlBuiltins } from './graphql.ts';
import { jsonSchemaBuiltins } from './jsonschema.ts';
import { jsonPatchBuiltins } from './jsonpatch.ts';
import { jwtBuiltins } from './jwt.ts';
import { jwtSignBuiltins } from './jwtsign.ts';
import { miscBuiltins } from './misc.ts';
import { keyBuiltins } from './keys.ts';
import { netBuiltins } from './net.ts';
import { randomBuiltins } from './random.ts';
import { regexBuiltins } from './regex.ts';
import { semverBuiltins } from './semver.ts';
import { unitsBuiltins } from './units.ts';
import { stringsBuiltins } from './strings.ts';
import { templateBuiltins } from './template.ts';
import { timeBuiltins, wallClockNs } from './time.ts';
import { timeFormatBuiltins } from './timeformat.ts';
import { urlBuiltins } from './url.ts';
import { urlqueryBuiltins } from './urlquery.ts';
import { x509Builtins } from './x509.ts';

export type BuiltinFn = (...args: any[]) => unknown;

export interface HostBuiltins {
  readonly builtins: Readonly<Record<string, BuiltinFn>>;
  /**
   * Starts one evaluation: fixes time.now_ns (and decode_verify's default
   * time), and forgets the uuid.rfc4122 / rand.intn answers of the last one.
   */
  beginEvaluation(nowMs?: number): void;
  /** The error of the last builtin call that failed (and was made undefined), for diagnostics. */
  readonly lastError: Error | undefined;
  /** See HostBuiltinOptions.strictErrors; loadHostPolicy applies it to opa-wasm's JS builtins too. */
  readonly strictErrors: boolean;
}

export interface HostBuiltinOptions {
  /**
   * opa eval --strict-builtin-errors: a failing builtin fails the whole
   * evaluation. Default false, as OPA and opa-envoy-plugin: the builtin's
   * expression is undefined and evaluation goes on.
   */
  readonly strictErrors?: boolean;
}

/** What one evaluation shares between builtin calls (see beginEvaluation). */
export interface EvalScope {
  /** Nanoseconds since the epoch for the evaluation in progress. */
  nowNs(): bigint;
  /**
   * Per-evaluation memo, as OPA's builtin cache: uuid.rfc4122 and rand.intn
   * give the same answer for the same arguments within one evaluation.
   */
  memo<T>(key: string, make: () => T): T;
}

/**
 * Builtins opa-wasm implements in JS itself (src/builtins/*.js in the
 * package). Its exports map only exposes the package root, so the names are
 * listed here; a test reads those files and checks the list still matches.
 * opa-wasm consults these before customBuiltins.
 */
export const OPA_WASM_JS_BUILTINS: readonly string[] = ['json.is_valid', 'sprintf', 'regex.split', 'yaml.is_valid', 'yaml.marshal', 'yaml.unmarshal'];

function families(clock: EvalScope): Record<string, BuiltinFn> {
  return {
    ...timeBuiltins(clock),
    ...timeFormatBuiltins(),
    ...durationBuiltins(),
    ...jwtBuiltins(clock),
    ...urlqueryBuiltins(),
    ...cryptoBuiltins(),
    ...encodingBuiltins(),
    ...stringsBuiltins(),
    ...netBuiltins(),
    ...jsonPatchBuiltins(),
    ...semverBuiltins(),
    ...unitsBuiltins(),
    ...randomBuiltins(clock),
    ...x509Builtins(clock),
    ...keyBuiltins(),
    ...miscBuiltins(),
    ...graphqlBuiltins(),
    ...regexBuiltins(),
    ...jwtSignBuiltins(),
    ...urlBuiltins(),
    ...globsBuiltins(),
    ...graphBuiltins(),
    ...templateBuiltins(),
    ...jsonSchemaBuiltins(),
    ...awsBuiltins(),
  };
}

/** Calls f; a throw becomes undefined (an undefined expression in the policy) and is remembered. */
function undefinedOnError(f: BuiltinFn, failed: (e: Error) => void): BuiltinFn {
  return (...args: unknown[]) => {
    try {
      return f(...args);
    } catch (e) {
      failed(e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
  };
}

export function createHostBuiltins(options: HostBuiltinOptions = {}): HostBuiltins {
  // OPA evaluates a whole query against one "now". Until the engine calls
  // beginEvaluation we read the wall clock per call rather than risk serving
  // a stale time (token expiry checks depend on it).
  // The time is taken when the evaluation begins but converted to ns only if
  // a builtin asks: most evaluations never read the clock.
  let fixedMs: number | undefined;
  let fixed: bigint | undefined;
  // Created on first use only: most evaluations call no memoised builtin.
  let memo: Map<string, unknown> | undefined;
  let lastError: Error | undefined;
  const scope: EvalScope = {
    nowNs: (): bigint => {
      if (fixedMs === undefined) return wallClockNs();
      return (fixed ??= wallClockNs(fixedMs));
    },
    memo<T>(key: string, make: () => T): T {
      memo ??= new Map();
      if (memo.has(key)) return memo.get(key) as T;
      const v = make();
      memo.set(key, v);
      return v;
    },
  };
  let builtins = families(scope);
  if (options.strictErrors !== true) {
    const failed = (e: Error): void => {
      lastError = e;
    };
    builtins = Object.fromEntries(Object.entries(builtins).map(([name, f]) => [name, undefinedOnError(f, failed)]));
  }
  return {
    builtins: Object.freeze(builtins),
    beginEvaluation(nowMs?: number): void {
      fixedMs = nowMs ?? performance.timeOrigin + performance.now();
      fixed = undefined;
      memo = undefined;
    },
    get lastError() {
      return lastError;
    },
    strictErrors: options.strictErrors === true,
  };
}

const HOST_NAMES: ReadonlySet<string> = new Set(Object.keys(families({ nowNs: () => 0n, memo: (_k, make) => make() })));

export function isHostBuiltin(name: string): boolean {
  return HOST_NAMES.has(name);
}

/**
 * The names in `required` (a wasm module's `builtins()` export) that neither
 * opa-wasm's JS builtins nor ours provide. A policy needing any of them would
 * fail at evaluation time with "not implemented", so the engine should refuse
 * to load it.
 */
export function missingBuiltins(required: readonly string[]): string[] {
  const js = new Set(OPA_WASM_JS_BUILTINS);
  return [...new Set(required)].filter((name) => !js.has(name) && !HOST_NAMES.has(name));
}

export { requiredBuiltins } from './wasm-imports.ts';
