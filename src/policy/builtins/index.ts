// Host implementations of the OPA builtins that a policy compiled with
// `opa build -t wasm` imports instead of carrying (its `builtins()` export
// lists them). opa-wasm calls them synchronously with JSON-decoded arguments
// and JSON-encodes the result; a throw becomes an evaluation error.
//
// Results that are int64 nanoseconds are returned as ArrayBuffers holding the
// JSON text (see exactInt in util.ts): opa-wasm copies those verbatim, which
// is the only way to hand the wasm an integer above 2^53 without rounding.

import { cryptoBuiltins } from "./crypto.ts";
import { durationBuiltins } from "./duration.ts";
import { encodingBuiltins } from "./encoding.ts";
import { jwtBuiltins } from "./jwt.ts";
import { stringsBuiltins } from "./strings.ts";
import { timeBuiltins, wallClockNs } from "./time.ts";
import { urlqueryBuiltins } from "./urlquery.ts";

export type BuiltinFn = (...args: any[]) => unknown;

export interface HostBuiltins {
  readonly builtins: Readonly<Record<string, BuiltinFn>>;
  /** Fixes time.now_ns (and decode_verify's default time) for the next evaluation. */
  beginEvaluation(nowMs?: number): void;
}

/**
 * Builtins opa-wasm implements in JS itself (src/builtins/*.js in the
 * package). Its exports map only exposes the package root, so the names are
 * listed here; a test reads those files and checks the list still matches.
 * opa-wasm consults these before customBuiltins.
 */
export const OPA_WASM_JS_BUILTINS: readonly string[] = [
  "json.is_valid",
  "sprintf",
  "regex.split",
  "yaml.is_valid",
  "yaml.marshal",
  "yaml.unmarshal",
];

function families(clock: { nowNs(): bigint }): Record<string, BuiltinFn> {
  return {
    ...timeBuiltins(clock),
    ...durationBuiltins(),
    ...jwtBuiltins(clock),
    ...urlqueryBuiltins(),
    ...cryptoBuiltins(),
    ...encodingBuiltins(),
    ...stringsBuiltins(),
  };
}

export function createHostBuiltins(): HostBuiltins {
  // OPA evaluates a whole query against one "now". Until the engine calls
  // beginEvaluation we read the wall clock per call rather than risk serving
  // a stale time (token expiry checks depend on it).
  // The time is taken when the evaluation begins but converted to ns only if
  // a builtin asks: most evaluations never read the clock.
  let fixedMs: number | undefined;
  let fixed: bigint | undefined;
  const clock = {
    nowNs: (): bigint => {
      if (fixedMs === undefined) return wallClockNs();
      return (fixed ??= wallClockNs(fixedMs));
    },
  };
  return {
    builtins: Object.freeze(families(clock)),
    beginEvaluation(nowMs?: number): void {
      fixedMs = nowMs ?? performance.timeOrigin + performance.now();
      fixed = undefined;
    },
  };
}

const HOST_NAMES: ReadonlySet<string> = new Set(Object.keys(families({ nowNs: () => 0n })));

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

export { requiredBuiltins } from "./wasm-imports.ts";
