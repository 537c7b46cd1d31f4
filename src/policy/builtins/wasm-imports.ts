// Which builtins a compiled policy expects from its host. opa-wasm reads the
// `builtins()` export only inside loadPolicy and keeps it private, so to check
// a policy before serving it (missingBuiltins) we instantiate the module once
// with inert imports and read the export ourselves.

// The project compiles without the DOM lib, which is where TypeScript declares
// the WebAssembly namespace; this is the slice of it used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  Module: { new (bytes: ArrayBuffer | ArrayBufferView): WasmModule; imports(m: WasmModule): { module: string; name: string; kind: string }[] };
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

function stubImports(mod: WasmModule, memory: WasmMemory): Record<string, Record<string, unknown>> {
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of wasm.Module.imports(mod)) {
    const ns = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') ns[imp.name] = memory;
    else if (imp.kind === 'function') {
      ns[imp.name] = () => {
        throw new Error(`${imp.module}.${imp.name} called while listing builtins`);
      };
    }
  }
  return imports;
}

function readCString(memory: WasmMemory, addr: number): string {
  const bytes = new Uint8Array(memory.buffer);
  let end = addr;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(addr, end));
}

/** Names of the builtins the policy's wasm leaves to the host, sorted. */
export function requiredBuiltins(policy: ArrayBuffer | ArrayBufferView | WasmModule): string[] {
  const mod = policy instanceof wasm.Module ? policy : new wasm.Module(policy as ArrayBuffer | ArrayBufferView);
  let lastError: unknown;
  // The import's minimum size is not exposed by the JS API; opa-wasm uses 5
  // pages by default, larger policies may ask for more.
  for (const pages of [5, 64, 1024]) {
    const memory = new wasm.Memory({ initial: pages });
    let instance: { exports: Record<string, unknown> };
    try {
      instance = new wasm.Instance(mod, stubImports(mod, memory));
    } catch (e) {
      lastError = e;
      continue;
    }
    const dump = instance.exports.opa_json_dump as ((addr: number) => number) | undefined;
    const builtins = instance.exports.builtins as (() => number) | undefined;
    if (dump === undefined || builtins === undefined) throw new Error('not an OPA policy module: missing builtins/opa_json_dump exports');
    const table = JSON.parse(readCString(memory, dump(builtins()))) as Record<string, number>;
    return Object.keys(table).sort();
  }
  throw lastError;
}
