// Which input fields a loaded policy may read, so that cache.ignore is only
// applied to fields the policy provably does not decide on (a drop-in policy
// from opa-envoy-plugin does not know the cache.ignore contract).
//
// Rego compiled here: the plan (`opa build -t plan`, OPA's IR) is analysed.
// Local 0 is `input`; every local that holds an input path is tracked through
// dots, assignments, calls of the policy's own functions and their return
// values. A path is a *read* when a dot reaches it (its value or its
// existence decides), and a *whole use* when the value itself goes anywhere
// else: scanned (some/every/comprehensions), dotted with a key that is not a
// constant, passed to a builtin (count, object.keys, json.marshal, walk...),
// compared, put into an object, returned as the result. A whole use of a path
// reads every field under it. object.get(x, "constant", d) reads x.constant.
// Anything the analysis does not know is a whole use: over-approximation only.
//
// Prebuilt wasm (no Rego): the data section holds the policy's string
// constants NUL-terminated (any use counts: a result key "headers" too); an ignored field whose last segment is one of them
// may be read, and a "headers" constant may mean iterating every header, which
// the bytes cannot rule out: every header field is kept then.
import type { JsonValue } from '../types/Json.ts';
import { VOLATILE_FIELDS } from './CacheKey.ts';

/** The operator set cache.ignore (file, environment, flag or the compat preset): it differs from the default list. */
export function ignoreIsExplicit(configured: readonly string[]): boolean {
  const set = new Set(configured);
  return set.size !== VOLATILE_FIELDS.length || VOLATILE_FIELDS.some((f) => !set.has(f));
}

/** What a policy may read of its input. */
export type PolicyReads =
  | {
      readonly kind: 'plan';
      readonly reads: readonly (readonly string[])[];
      readonly whole: readonly (readonly string[])[];
      /** The plans analysed (entrypoints, "envoy/authz/allow"): the result speaks for these only. */
      readonly plans: readonly string[];
    }
  | { readonly kind: 'wasm'; readonly strings: ReadonlySet<string> }
  | { readonly kind: 'unknown'; readonly why: string };

export interface EffectiveIgnore {
  /** The cache.ignore entries still left out of the key for this policy. */
  readonly ignore: readonly string[];
  /** What was kept in the key and why, and how the list was decided (for the load log). */
  readonly notes: readonly string[];
}

type Path = readonly string[];
const SEP = '\u0000';
const enc = (p: Path): string => p.join(SEP);
const dec = (s: string): Path => (s === '' ? [] : s.split(SEP));

interface Operand {
  readonly type: string;
  readonly value: unknown;
}
type Stmt = { readonly type: string; readonly stmt: Record<string, unknown> };
interface Block {
  readonly stmts?: readonly Stmt[];
}
interface Func {
  readonly name: string;
  readonly params: readonly number[];
  readonly return: number;
  readonly blocks: readonly Block[];
}

/** Analyses an OPA IR plan (plan.json of `opa build -t plan`). Throws on a shape it does not know. */
export function analysePlan(plan: unknown): PolicyReads {
  const p = plan as {
    static?: { strings?: Array<{ value: string }> };
    plans?: { plans?: Array<{ name: string; blocks: Block[] }> };
    funcs?: { funcs?: Func[] | null };
  };
  const strings = (p.static?.strings ?? []).map((s) => s.value);
  const plans = p.plans?.plans;
  if (!Array.isArray(plans)) throw new Error('plan has no plans');
  const funcs = new Map<string, Func>();
  for (const f of p.funcs?.funcs ?? []) funcs.set(f.name, f);

  // Locals are reused from one rule body to the next, so what a local holds
  // is followed in statement order: an assignment replaces what the local
  // held (within a block), and when a block ends (it may end at any
  // statement, when one is undefined) everything assigned in it is merged
  // into what the following statements may see. Across functions:
  // parameters get every path any call site passes, call results every path
  // the callee may return, to a fixed point.
  type Env = Map<number, ReadonlySet<string>>;
  const params = new Map<string, Map<number, Set<string>>>();
  const returns = new Map<string, Set<string>>();
  const reads = new Set<string>();
  const whole = new Set<string>();
  let changed = true;

  const grow = (set: Set<string>, paths: Iterable<string>): void => {
    for (const path of paths) {
      if (!set.has(path)) {
        set.add(path);
        changed = true;
      }
    }
  };
  const mark = (set: Set<string>, path: string): void => grow(set, [path]);
  const held = (env: Env, local: unknown): ReadonlySet<string> | undefined => (typeof local === 'number' ? env.get(local) : undefined);
  const operandPaths = (env: Env, op: unknown): ReadonlySet<string> | undefined => {
    const o = op as Operand | undefined;
    return o && typeof o === 'object' && o.type === 'local' ? held(env, o.value) : undefined;
  };
  const constString = (op: unknown): string | undefined => {
    const o = op as Operand | undefined;
    return o && typeof o === 'object' && o.type === 'string_index' && typeof o.value === 'number' ? strings[o.value] : undefined;
  };
  const useWhole = (paths: ReadonlySet<string> | undefined): void => {
    if (paths) for (const path of paths) mark(whole, path);
  };
  /** Every local an unknown statement mentions is used whole (operands and bare local numbers alike). */
  const useAll = (env: Env, stmt: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(stmt)) {
      if (k === 'file' || k === 'col' || k === 'row' || k === 'block' || k === 'blocks') continue;
      if (typeof v === 'number') useWhole(held(env, v));
      else if (Array.isArray(v)) for (const x of v) useWhole(typeof x === 'number' ? held(env, x) : operandPaths(env, x));
      else useWhole(operandPaths(env, v));
    }
  };

  interface Frame {
    readonly fn: string;
    readonly ret: number | undefined;
    /** Locals that more than one AssignVarOnceStmt of this function (or plan) assigns. */
    readonly once: ReadonlySet<number>;
  }
  /** Runs a block on `env` (updated in place to what may hold after it). */
  const runBlock = (frame: Frame, block: Block, env: Map<number, ReadonlySet<string>>): void => {
    const start = new Map(env);
    const assigned = new Map<number, Set<string>>();
    const set = (local: unknown, paths: ReadonlySet<string> | undefined): void => {
      if (typeof local !== 'number') return;
      if (paths && paths.size > 0) {
        env.set(local, paths);
        let a = assigned.get(local);
        if (!a) assigned.set(local, (a = new Set()));
        for (const p of paths) a.add(p);
        if (local === frame.ret) {
          let r = returns.get(frame.fn);
          if (!r) returns.set(frame.fn, (r = new Set()));
          grow(r, paths);
        }
      } else {
        env.delete(local);
      }
    };
    const nested = (blocks: readonly Block[], times = 1): void => {
      for (let t = 0; t < times; t++) {
        for (const b of blocks) {
          const inner = new Map(env);
          runBlock(frame, b, inner);
          for (const [l, paths] of inner) {
            if (env.get(l) === paths) continue;
            const merged = new Set(env.get(l) ?? []);
            for (const p of paths) merged.add(p);
            env.set(l, merged);
            let a = assigned.get(l);
            if (!a) assigned.set(l, (a = new Set()));
            for (const p of paths) a.add(p);
          }
        }
      }
    };
    for (const { type, stmt } of block.stmts ?? []) {
      switch (type) {
        case 'DotStmt': {
          const src = operandPaths(env, stmt['source']);
          // A key computed from the input (data[input.x]) uses that value whole, whatever the source is.
          useWhole(operandPaths(env, stmt['key']));
          if (!src) {
            set(stmt['target'], undefined);
            break;
          }
          const key = constString(stmt['key']);
          if (key === undefined) {
            useWhole(src); // a key computed at run time: any field below
            set(stmt['target'], undefined);
            break;
          }
          const targets = new Set([...src].map((p) => enc([...dec(p), key])));
          for (const t of targets) mark(reads, t);
          set(stmt['target'], targets);
          break;
        }
        case 'AssignVarStmt':
          set(stmt['target'], operandPaths(env, stmt['source']));
          break;
        case 'AssignVarOnceStmt':
          // A rule defined more than once compares each value with the one already assigned
          // (a conflict is an error): then the values are used whole.
          if (typeof stmt['target'] === 'number' && frame.once.has(stmt['target'])) useWhole(operandPaths(env, stmt['source']));
          set(stmt['target'], operandPaths(env, stmt['source']));
          break;
        case 'CallStmt': {
          const name = stmt['func'] as string;
          const args = (stmt['args'] as unknown[]) ?? [];
          const callee = funcs.get(name);
          if (callee) {
            let bound = params.get(name);
            if (!bound) params.set(name, (bound = new Map()));
            args.forEach((a, i) => {
              const paths = operandPaths(env, a);
              const param = callee.params[i];
              if (!paths || param === undefined) return;
              let b = bound.get(param);
              if (!b) bound.set(param, (b = new Set()));
              grow(b, paths);
            });
            set(stmt['result'], returns.get(name));
          } else if (name === 'object.get' && args.length === 3 && constString(args[1]) !== undefined) {
            const src = operandPaths(env, args[0]);
            if (src) for (const p of src) mark(whole, enc([...dec(p), constString(args[1])!]));
            useWhole(operandPaths(env, args[2]));
            set(stmt['result'], undefined);
          } else {
            for (const a of args) useWhole(operandPaths(env, a));
            set(stmt['result'], undefined);
          }
          break;
        }
        case 'ReturnLocalStmt': {
          const paths = held(env, stmt['source']);
          if (paths) {
            let r = returns.get(frame.fn);
            if (!r) returns.set(frame.fn, (r = new Set()));
            grow(r, paths);
          }
          break;
        }
        case 'ResetLocalStmt':
        case 'MakeNullStmt':
        case 'AssignIntStmt':
        case 'MakeNumberIntStmt':
        case 'MakeNumberRefStmt':
        case 'MakeArrayStmt':
        case 'MakeObjectStmt':
        case 'MakeSetStmt':
          set(stmt['target'], undefined);
          break;
        case 'NopStmt':
        case 'BreakStmt':
        case 'IsDefinedStmt':
        case 'IsUndefinedStmt':
          break; // existence only: the dot that made the local already counts as a read
        default:
          // ScanStmt, LenStmt, EqualStmt, NotEqualStmt, Is*Stmt, ObjectInsertStmt, ArrayAppendStmt,
          // SetAddStmt, ResultSetAddStmt, CallDynamicStmt, WithStmt, ...: a whole use.
          useAll(env, stmt);
          if (type === 'ScanStmt') {
            set(stmt['key'], undefined);
            set(stmt['value'], undefined);
          } else if (
            'target' in stmt &&
            typeof stmt['target'] === 'number' &&
            type !== 'ObjectInsertStmt' &&
            type !== 'ArrayAppendStmt' &&
            type !== 'SetAddStmt'
          ) {
            set(stmt['target'], undefined);
          }
      }
      // A loop body runs again with what its last run left.
      if (stmt['block']) nested([stmt['block'] as Block], type === 'ScanStmt' ? 2 : 1);
      if (Array.isArray(stmt['blocks'])) nested(stmt['blocks'] as Block[]);
    }
    // The block may have stopped at any statement: later code may see any value assigned in it.
    for (const [l, paths] of assigned) {
      const merged = new Set(start.get(l) ?? []);
      for (const p of paths) merged.add(p);
      for (const p of env.get(l) ?? []) merged.add(p);
      env.set(l, merged);
    }
  };
  const runBlocks = (frame: Frame, blocks: readonly Block[], env: Env): void => {
    for (const b of blocks) runBlock(frame, b, env as Map<number, ReadonlySet<string>>);
  };

  const planFrames = plans.map((plan) => ({ fn: `plan:${plan.name}`, ret: undefined, once: assignedMoreThanOnce(plan.blocks) }));
  const funcFrames = new Map([...funcs.values()].map((f) => [f.name, { fn: f.name, ret: f.return, once: assignedMoreThanOnce(f.blocks) }]));
  // Fixed point: function parameters and return values gain paths as callers are visited.
  for (let rounds = 0; changed; rounds++) {
    if (rounds > 1000) throw new Error('plan analysis does not converge');
    changed = false;
    for (let i = 0; i < plans.length; i++) runBlocks(planFrames[i]!, plans[i]!.blocks, new Map([[0, new Set([''])]]));
    for (const f of funcs.values()) {
      const env: Env = new Map();
      for (const [l, paths] of params.get(f.name) ?? []) env.set(l, new Set(paths));
      runBlocks(funcFrames.get(f.name)!, f.blocks, env);
    }
  }
  return { kind: 'plan', reads: [...reads].map(dec), whole: [...whole].map(dec), plans: plans.map((plan) => plan.name) };
}

/** The target locals of AssignVarOnceStmt that appear more than once in these blocks (nested ones included). */
function assignedMoreThanOnce(blocks: readonly Block[]): ReadonlySet<number> {
  const seen = new Set<number>();
  const twice = new Set<number>();
  const visit = (bs: readonly Block[]): void => {
    for (const b of bs) {
      for (const { type, stmt } of b.stmts ?? []) {
        const target = stmt['target'];
        if (type === 'AssignVarOnceStmt' && typeof target === 'number') {
          if (seen.has(target)) twice.add(target);
          seen.add(target);
        }
        if (stmt['block']) visit([stmt['block'] as Block]);
        if (Array.isArray(stmt['blocks'])) visit(stmt['blocks'] as Block[]);
      }
    }
  };
  visit(blocks);
  return twice;
}

/**
 * The NUL-terminated string constants of a wasm module's data section (a
 * superset: any such run of printable bytes). A module whose sections do not
 * parse is scanned whole: more constants, more fields kept.
 */
export function wasmStrings(wasm: Uint8Array): ReadonlySet<string> {
  const data = dataSection(wasm) ?? wasm;
  const out = new Set<string>();
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0) {
      if (i > start) out.add(Buffer.from(data.subarray(start, i)).toString('latin1'));
      start = i + 1;
    } else if (b < 0x20 || b > 0x7e) {
      start = i + 1;
    }
  }
  return out;
}

/** The contents of the data section (id 11), or undefined when the module does not parse as expected. */
function dataSection(wasm: Uint8Array): Uint8Array | undefined {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) return undefined;
  let at = 8;
  let found: Uint8Array | undefined;
  while (at < wasm.length) {
    const id = wasm[at++]!;
    let size = 0;
    let shift = 0;
    for (;;) {
      if (at >= wasm.length || shift > 28) return undefined;
      const b = wasm[at++]!;
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    if (at + size > wasm.length) return undefined;
    if (id === 11) {
      if (found) return undefined; // one data section only
      found = wasm.subarray(at, at + size);
    }
    at += size;
  }
  return found;
}

const HEADERS: Path = ['attributes', 'request', 'http', 'headers'];
const isPrefix = (a: Path, b: Path): boolean => a.length <= b.length && a.every((s, i) => b[i] === s);
const show = (p: Path): string => (p.length === 0 ? 'the whole input' : p.join('.'));

/**
 * cache.ignore minus every field the policy may read. `explicit`: the operator
 * set cache.ignore (it differs from the default list); honoured as stated when
 * the policy cannot be analysed from its Rego.
 */
export function effectiveIgnore(configured: readonly string[], explicit: boolean, reads: PolicyReads): EffectiveIgnore {
  if (configured.length === 0) return { ignore: [], notes: [] };
  const notes: string[] = [];
  const ignore: string[] = [];
  if (reads.kind === 'unknown') {
    if (explicit) return { ignore: [...configured], notes: [`policy not analysed (${reads.why}): cache.ignore applied as configured`] };
    return {
      ignore: [],
      notes: [`policy not analysed (${reads.why}): every field kept in the cache key (set cache.ignore to state what the policy does not read)`],
    };
  }
  if (reads.kind === 'wasm') {
    if (explicit) return { ignore: [...configured], notes: ['prebuilt wasm (no Rego to analyse): cache.ignore applied as configured'] };
    let headersKept = false;
    for (const field of configured) {
      const path = field.split('.');
      const last = path[path.length - 1]!;
      if (reads.strings.has(last)) {
        notes.push(`wasm has the constant "${last}": ${field} kept`);
        continue;
      }
      if (isPrefix(HEADERS, path) && path.length > HEADERS.length && reads.strings.has('headers')) {
        headersKept = true;
        continue;
      }
      ignore.push(field);
    }
    if (headersKept) notes.push('wasm has the constant "headers" and may iterate them: header fields kept');
    return { ignore, notes };
  }
  const wholeNoted = new Set<string>();
  for (const field of configured) {
    const path = field.split('.');
    const w = reads.whole.find((p) => isPrefix(p, path) || isPrefix(path, p));
    if (w) {
      const s = show(w);
      if (!wholeNoted.has(s)) {
        wholeNoted.add(s);
        notes.push(
          isPrefix(path, w) && w.length > path.length ? `policy reads ${s}` : `policy uses ${s} as a whole (iterates or passes it on): fields under it kept`,
        );
      }
      continue;
    }
    const r = reads.reads.find((p) => isPrefix(path, p));
    if (r) {
      notes.push(`policy reads ${show(r)}`);
      continue;
    }
    ignore.push(field);
  }
  return { ignore, notes };
}

/** For the load log: how the policy was analysed, and what of cache.ignore was kept in the key and why. */
export function describeIgnore(r: PolicyReads, e: EffectiveIgnore, configured: readonly string[]): JsonValue {
  return {
    analysed: r.kind === 'plan' ? 'rego plan' : r.kind === 'wasm' ? 'wasm string constants' : `no: ${r.why}`,
    ignored: e.ignore.length,
    kept: configured.length - e.ignore.length,
    why: [...e.notes],
  };
}
