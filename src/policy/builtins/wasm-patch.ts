// Builtins OPA compiles into the wasm (its internal/compiler/wasm
// builtinsFunctions map) are calls inside the module, which no host can
// answer. A few of them differ from OPA in ways policies see (json.marshal
// writes keys in hash order, base64 is lenient, format_int stops at 2^64,
// indexof of "" is 0). patchNativeBuiltins rewrites the module's body of
// each such runtime function (found by name in the module's name section) to
// call the opa_builtinN import with an id of ours instead, so that
// loadHostPolicy answers it (native.ts) like any imported builtin. Only the
// code section changes; a module without a name section, or whose function
// does not have the expected signature, is left as it is.

/** Runtime function name -> builtin it implements, and its number of arguments. */
export const PATCHED: Readonly<Record<string, { builtin: string; args: 1 | 2 }>> = {
  opa_json_marshal: { builtin: 'json.marshal', args: 1 },
  opa_base64_is_valid: { builtin: 'base64.is_valid', args: 1 },
  opa_base64_decode: { builtin: 'base64.decode', args: 1 },
  opa_base64_url_decode: { builtin: 'base64url.decode', args: 1 },
  opa_strings_format_int: { builtin: 'format_int', args: 2 },
  opa_strings_indexof: { builtin: 'indexof', args: 2 },
};

/** Builtin ids for the patched functions: far above the ids opa build assigns (0, 1, 2… per policy). */
export const PATCH_ID_BASE = 0x4000_0000;

class Reader {
  i: number;
  readonly b: Uint8Array;
  constructor(b: Uint8Array, i = 0) {
    this.b = b;
    this.i = i;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.b[this.i++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('wasm: bad LEB128');
    }
  }
  name(): string {
    const n = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.i, this.i + n));
    this.i += n;
    return s;
  }
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

interface Section {
  id: number;
  /** Where the section's id byte is. */
  header: number;
  /** Where its payload starts and ends. */
  start: number;
  end: number;
}

function sections(b: Uint8Array): Section[] {
  if (b[0] !== 0x00 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new Error('not a wasm module');
  const out: Section[] = [];
  const r = new Reader(b, 8);
  while (r.i < b.length) {
    const header = r.i;
    const id = b[r.i++] as number;
    const size = r.u32();
    out.push({ id, header, start: r.i, end: r.i + size });
    r.i += size;
  }
  return out;
}

export interface PatchResult {
  readonly bytes: Uint8Array;
  /** Builtin id -> builtin name, for the functions patched. */
  readonly ids: ReadonlyMap<number, string>;
}

/** The module with the PATCHED runtime functions calling out to the host. */
export function patchNativeBuiltins(input: Uint8Array): PatchResult {
  const b = input;
  const secs = sections(b);
  const none: PatchResult = { bytes: input, ids: new Map() };
  // imports: count functions, find env.opa_builtin1/2
  let importedFuncs = 0;
  const builtinImport = new Map<string, number>();
  const funcTypes: number[] = [];
  const types: { params: number[]; results: number[] }[] = [];
  let names: Map<number, string> | undefined;
  let code: Section | undefined;
  for (const s of secs) {
    const r = new Reader(b, s.start);
    if (s.id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        if (b[r.i++] !== 0x60) return none;
        const params = Array.from({ length: r.u32() }, () => b[r.i++] as number);
        const results = Array.from({ length: r.u32() }, () => b[r.i++] as number);
        types.push({ params, results });
      }
    } else if (s.id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const mod = r.name();
        const field = r.name();
        const kind = b[r.i++];
        if (kind === 0) {
          const t = r.u32();
          if (mod === 'env' && /^opa_builtin[12]$/.test(field)) builtinImport.set(field, importedFuncs);
          funcTypes.push(t);
          importedFuncs++;
        } else if (kind === 1) {
          r.i++;
          const flags = r.u32();
          r.u32();
          if (flags & 1) r.u32();
        } else if (kind === 2) {
          const flags = r.u32();
          r.u32();
          if (flags & 1) r.u32();
        } else if (kind === 3) r.i += 2;
        else return none;
      }
    } else if (s.id === 3) {
      for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
    } else if (s.id === 10) code = s;
    else if (s.id === 0 && r.name() === 'name') {
      while (r.i < s.end) {
        const sub = b[r.i++] as number;
        const size = r.u32();
        const subEnd = r.i + size;
        if (sub === 1) {
          names = new Map();
          for (let n = r.u32(); n > 0; n--) {
            const idx = r.u32();
            names.set(idx, r.name());
          }
        }
        r.i = subEnd;
      }
    }
  }
  if (code === undefined || names === undefined) return none;
  const targets = new Map<number, { id: number; call: number; args: number; builtin: string }>();
  for (const [idx, name] of names) {
    const p = PATCHED[name];
    if (p === undefined || idx < importedFuncs) continue;
    const call = builtinImport.get(`opa_builtin${p.args}`);
    const t = types[funcTypes[idx] as number];
    // (i32 x args) -> i32, as the runtime's opa_value* functions are
    if (
      call === undefined ||
      t === undefined ||
      t.params.length !== p.args ||
      t.params.some((x) => x !== 0x7f) ||
      t.results.length !== 1 ||
      t.results[0] !== 0x7f
    )
      continue;
    targets.set(idx - importedFuncs, { id: PATCH_ID_BASE + Object.keys(PATCHED).indexOf(name), call, args: p.args, builtin: p.builtin });
  }
  if (targets.size === 0) return none;
  // rebuild the code section with the targets' bodies replaced
  const r = new Reader(b, code.start);
  const count = r.u32();
  const bodies: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const entry = r.i;
    const size = r.u32();
    const t = targets.get(f);
    if (t === undefined) {
      bodies.push(b.subarray(entry, r.i + size));
    } else {
      // no locals; i32.const id; i32.const 0 (ctx); local.get 0 [; local.get 1]; call opa_builtinN; end
      const body = [0x00, 0x41, ...sleb(t.id), 0x41, 0x00, 0x20, 0x00, ...(t.args === 2 ? [0x20, 0x01] : []), 0x10, ...uleb(t.call), 0x0b];
      bodies.push(Uint8Array.from([...uleb(body.length), ...body]));
    }
    r.i += size;
  }
  const payloadLen = uleb(count).length + bodies.reduce((n, x) => n + x.length, 0);
  const header = Uint8Array.from([10, ...uleb(payloadLen), ...uleb(count)]);
  const sectionStart = code.header;
  const out = new Uint8Array(sectionStart + header.length + payloadLen - uleb(count).length + (b.length - code.end));
  out.set(b.subarray(0, sectionStart), 0);
  let at = sectionStart;
  out.set(header, at);
  at += header.length;
  for (const x of bodies) {
    out.set(x, at);
    at += x.length;
  }
  out.set(b.subarray(code.end), at);
  return { bytes: out, ids: new Map([...targets.values()].map((t) => [t.id, t.builtin])) };
}

/** The builtin a patched function's id stands for (see PATCH_ID_BASE), if it is one. */
export function patchedBuiltin(id: number): string | undefined {
  if (id < PATCH_ID_BASE) return undefined;
  const name = Object.keys(PATCHED)[id - PATCH_ID_BASE];
  return name === undefined ? undefined : PATCHED[name]?.builtin;
}
