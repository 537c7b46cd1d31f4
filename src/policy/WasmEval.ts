// One evaluation through opa-wasm's ABI 1.2 entry `opa_eval`, as
// LoadedPolicy.evaluate does it, minus its per-call copies: the input's JSON
// text is written straight into the instance's memory (LoadedPolicy encodes it
// into a fresh Uint8Array first), and the result is found and decoded by
// Buffer's native indexOf and utf8 slice (LoadedPolicy scans for the NUL
// byte by byte in JavaScript and makes a TextDecoder per call). On the miss
// path these copies were about a fifth of the time spent in evaluation.
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { markNonIntegerStatus } from '../envoy/PolicyResult.ts';

const PAGE = 64 * 1024;

interface OpaExports {
  opa_eval(ctx: 0, entrypoint: number, data: number, input: number, inputLen: number, heap: number, format: 0): number;
}

export class WasmEval {
  readonly #policy: LoadedPolicy;
  readonly #exports: OpaExports;
  readonly #entrypoints: ReadonlyMap<string, number>;
  /** A Buffer over the memory's current ArrayBuffer; a grow detaches it, so it is re-made then. */
  #view: Buffer;

  /** Undefined for policies built for ABI 1.0/1.1, which have no opa_eval: LoadedPolicy.evaluate serves them. */
  static of(policy: LoadedPolicy): WasmEval | undefined {
    return Number(policy.minorVersion) >= 2 ? new WasmEval(policy) : undefined;
  }

  private constructor(policy: LoadedPolicy) {
    this.#policy = policy;
    const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
    this.#exports = instance.exports as unknown as OpaExports;
    this.#entrypoints = new Map(Object.entries(policy.entrypoints as Record<string, number>));
    this.#view = Buffer.from(policy.mem.buffer);
  }

  /** The result set, as LoadedPolicy.evaluate returns it. Throws on an unknown entrypoint, a trap or memory beyond the limit. */
  evaluate(input: unknown, entrypoint: string): unknown {
    return this.evaluateJson(input === undefined || input === null ? undefined : JSON.stringify(input), entrypoint);
  }

  /** evaluate() of an input already serialised (undefined: no input). */
  evaluateJson(json: string | undefined, entrypoint: string): unknown {
    const id = this.#entrypoints.get(entrypoint);
    if (id === undefined) throw new Error(`entrypoint ${entrypoint} is not valid in this instance`);
    const policy = this.#policy;
    // setData moves dataAddr and dataHeapPtr, so they are read per call.
    const at = policy.dataHeapPtr as number;
    let length = 0;
    if (json !== undefined) {
      // UTF-8 needs at most 3 bytes per UTF-16 unit; only near the end of memory is the exact length worth computing.
      if (at + json.length * 3 > this.#memory().length) this.#grow(at + Buffer.byteLength(json));
      length = this.#view.write(json, at);
    }
    const result = this.#exports.opa_eval(0, id, policy.dataAddr, at, length, at + length, 0);
    // Evaluation may have grown the memory.
    const view = this.#memory();
    const end = view.indexOf(0, result);
    return parseResultSet(view.toString('utf8', result, end < 0 ? view.length : end));
  }

  #memory(): Buffer {
    const buffer = this.#policy.mem.buffer;
    if (this.#view.buffer !== buffer) this.#view = Buffer.from(buffer);
    return this.#view;
  }

  #grow(bytes: number): void {
    const have = this.#memory().length;
    // WebAssembly.Memory.grow throws a RangeError beyond the configured maximum: the evaluation fails, and the Check is denied.
    if (bytes > have) this.#policy.mem.grow(Math.ceil((bytes - have) / PAGE));
    this.#memory();
  }
}

/** An http_status written as a number that is not an integer literal (401.0, 4.01e2): the wasm keeps a number's source text. */
const NON_INTEGER_STATUS = /"http_status":-?\d+[.eE]/;

/**
 * The result set. JSON.parse makes 401.0 and 401 the same number, where
 * opa-envoy-plugin (json.Number.Int64) refuses the first: only a text that
 * has such an http_status pays for a reviver, which marks the objects
 * holding it for PolicyResult.
 */
export function parseResultSet(text: string): unknown {
  if (!NON_INTEGER_STATUS.test(text)) {
    try {
      return JSON.parse(text);
    } catch (e) {
      // The wasm writes a number as its source text, which need not be JSON (to_number("007") is 007):
      // only then is the text rewritten, with the numbers as OPA writes them.
      const fixed = canonicalNumbers(text);
      if (fixed === text) throw e;
      return JSON.parse(fixed);
    }
  }
  return JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
    if (key === 'http_status' && typeof value === 'number' && context?.source !== undefined && !/^-?\d+$/.test(context.source)) markNonIntegerStatus(this);
    return value;
  } as (key: string, value: unknown) => unknown);
}

/**
 * The JSON text with every number token written as JSON: a leading `+` or
 * leading zeros dropped (007 is 7), a bare `.5` given its 0, a trailing `.`
 * removed. Strings are copied as they are.
 */
export function canonicalNumbers(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/g, (tok) => {
    if (tok.startsWith('"')) return tok;
    const m = /^([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+)?$/.exec(tok);
    if (!m) return tok;
    const int = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
    const frac = m[3] ? `.${m[3]}` : '';
    return `${m[1] === '-' ? '-' : ''}${int}${frac}${m[4] ?? ''}`;
  });
}
