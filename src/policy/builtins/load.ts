// Loading a policy with the host builtins. opa-wasm builds the wasm imports
// itself; we wrap its opa_builtinN imports for two things:
// - a builtin may answer a Rego set (see sets.ts): after opa-wasm has loaded
//   the result as JSON, a set answer is parsed again with opa_value_parse;
// - opa-wasm's own JS builtins (sprintf, yaml.unmarshal, regex.split…) throw
//   on bad input; outside strict mode that is an undefined expression (0),
//   as OPA does and as our host builtins already answer.

import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { HostBuiltins } from './index.ts';
import { EXACT_ARGUMENTS, HOST_OVERRIDES, REGO_ARGUMENTS, exactData } from './overrides.ts';
import { NATIVE_BUILTINS } from './native.ts';
import { parseRegoText } from './regotext.ts';
import { patchNativeBuiltins, patchedBuiltin } from './wasm-patch.ts';
import { takePendingSet } from './sets.ts';

type LoadedPolicy = Awaited<ReturnType<typeof loadPolicy>>;
type Imports = Record<string, Record<string, unknown>>;
interface Exports {
  opa_malloc(n: number): number;
  opa_value_parse(addr: number, len: number): number;
  opa_value_dump(addr: number): number;
  opa_json_dump(addr: number): number;
  builtins(): number;
}
interface Memory {
  buffer: ArrayBuffer;
}

function readCString(memory: Memory, addr: number): string {
  const bytes = new Uint8Array(memory.buffer);
  let end = addr;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(addr, end));
}

/** Copies Rego (or JSON) text into the wasm and parses it there; 0 if it does not parse. */
function loadValue(exp: Exports, memory: Memory, text: string): number {
  const bytes = new TextEncoder().encode(text);
  const raw = exp.opa_malloc(bytes.length);
  new Uint8Array(memory.buffer).set(bytes, raw);
  return exp.opa_value_parse(raw, bytes.length);
}

/**
 * The host's answer to a builtin in HOST_OVERRIDES: arguments read as Rego
 * text, the result (JSON data) parsed back in the wasm. A result of
 * undefined is an undefined expression (address 0).
 */
function callOverride(name: string, exp: Exports, memory: Memory, addrs: readonly number[], host: HostBuiltins['builtins']): number {
  const args = addrs.map((a) => parseRegoText(readCString(memory, exp.opa_value_dump(a))));
  const f = HOST_OVERRIDES[name] ?? NATIVE_BUILTINS[name];
  const result = f !== undefined ? f(...args) : host[name]!(...(REGO_ARGUMENTS.has(name) ? args : args.map(exactData)));
  if (result === undefined) return 0;
  // an ArrayBuffer is JSON text to copy verbatim (exact int64 results, see util.ts exactInt), as opa-wasm does
  return loadValue(exp, memory, result instanceof ArrayBuffer ? new TextDecoder().decode(result) : JSON.stringify(result));
}
interface WasmNs {
  instantiate(m: unknown, imports: Imports): Promise<unknown>;
  RuntimeError: new () => Error;
}
/** Thrown by a builtin to stop the whole evaluation, in every mode (not an undefined expression). */
export class EvaluationAbort extends Error {}

const wasmRuntimeError = (globalThis as unknown as { WebAssembly: WasmNs }).WebAssembly.RuntimeError;

function wrapBuiltinImports(imports: Imports, exportsOf: () => Exports | undefined, strict: boolean, host: HostBuiltins['builtins']): void {
  const env = imports.env;
  if (env === undefined) return;
  const memory = env.memory as Memory;
  // Builtin ids of the names we answer in opa-wasm's place, read from the module once.
  let overridden: Map<number, string> | undefined;
  const overrideOf = (id: number): string | undefined => {
    const patched = patchedBuiltin(id);
    if (patched !== undefined) return patched;
    const exp = exportsOf();
    if (exp === undefined) return undefined;
    if (overridden === undefined) {
      const table = JSON.parse(readCString(memory, exp.opa_json_dump(exp.builtins()))) as Record<string, number>;
      const ours = (n: string): boolean => Object.hasOwn(HOST_OVERRIDES, n) || ((EXACT_ARGUMENTS.has(n) || REGO_ARGUMENTS.has(n)) && Object.hasOwn(host, n));
      overridden = new Map(
        Object.entries(table)
          .filter(([n]) => ours(n))
          .map(([n, i]) => [i, n]),
      );
    }
    return overridden.get(id);
  };
  for (const name of Object.keys(env)) {
    if (!/^opa_builtin[0-9]$/.test(name)) continue;
    const original = env[name] as (...a: number[]) => number;
    const call = (...args: number[]): number => {
      const over = overrideOf(args[0] as number);
      return over === undefined ? original(...args) : callOverride(over, exportsOf()!, memory, args.slice(2), host);
    };
    env[name] = (...args: number[]): number => {
      takePendingSet();
      let addr: number;
      if (strict) addr = call(...args);
      else {
        try {
          addr = call(...args);
        } catch (e) {
          // Only a builtin's own failure (an Error it threw) is undefined. opa-wasm's
          // aborts (out of wasm memory, a result it cannot load) are thrown as
          // strings or traps and stay evaluation errors, as does "not implemented".
          if (!(e instanceof Error) || (e as object) instanceof wasmRuntimeError || e instanceof RangeError || e instanceof EvaluationAbort) throw e;
          return 0;
        }
      }
      const set = takePendingSet();
      const exp = exportsOf();
      if (set === undefined || addr === 0 || exp === undefined) return addr;
      const bytes = new TextEncoder().encode(set);
      const raw = exp.opa_malloc(bytes.length);
      const memory = (imports.env as { memory: { buffer: ArrayBuffer } }).memory;
      new Uint8Array(memory.buffer).set(bytes, raw);
      const parsed = exp.opa_value_parse(raw, bytes.length);
      return parsed === 0 ? addr : parsed;
    };
  }
}

/**
 * opa-wasm's loadPolicy, with set results from host builtins made sets.
 * WebAssembly.instantiate is replaced only for the synchronous part of the
 * call, in which opa-wasm builds its imports and starts instantiating.
 */
export async function loadHostPolicy(
  policy: Parameters<typeof loadPolicy>[0],
  memory: Parameters<typeof loadPolicy>[1],
  host: Pick<HostBuiltins, 'builtins' | 'strictErrors'>,
): Promise<LoadedPolicy> {
  const builtins = host.builtins;
  const wasm = (globalThis as unknown as { WebAssembly: WasmNs }).WebAssembly;
  const original = wasm.instantiate;
  let exportsRef: Exports | undefined;
  wasm.instantiate = (m: unknown, imports: Imports): Promise<unknown> => {
    wasm.instantiate = original;
    wrapBuiltinImports(imports, () => exportsRef, host.strictErrors, builtins);
    return original.call(wasm, m, imports).then((r) => {
      const inst = (r as { instance?: { exports: unknown } }).instance ?? (r as { exports: unknown });
      exportsRef = inst.exports as Exports;
      return r;
    });
  };
  // A module given as bytes has its wasm-native builtins patched to call the host here; a compiled
  // one was patched before compiling (PolicyEngine).
  if (policy instanceof ArrayBuffer || ArrayBuffer.isView(policy)) {
    const view = policy instanceof ArrayBuffer ? new Uint8Array(policy) : new Uint8Array(policy.buffer, policy.byteOffset, policy.byteLength);
    policy = patchNativeBuiltins(view).bytes as unknown as typeof policy;
  }
  let pending: Promise<LoadedPolicy>;
  try {
    pending = loadPolicy(policy, memory, builtins as Record<string, (...args: any[]) => unknown>);
  } finally {
    wasm.instantiate = original;
  }
  return pending;
}
