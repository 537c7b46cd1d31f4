// json.patch: RFC 6902 as OPA applies it (an EditTree): paths are JSON
// pointers ("/a/b", "~0"/"~1" escapes, leading slashes trimmed) or arrays of
// segments; "-" appends to an array; a failing operation fails the builtin.
// Sets reach the host as arrays, so a set target is patched as an array.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, operandTypeError } from './util.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const B = 'json.patch';
const fail = (msg: string): never => {
  throw new BuiltinError(B, msg);
};

function parsePath(p: unknown): unknown[] {
  if (typeof p === 'string') {
    if (p === '') return [];
    return p
      .replace(/^\/+/, '')
      .split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  if (Array.isArray(p)) return p;
  return fail(`operand 2 must be one of {set, array} containing string paths or array of path segments but got ${p === null ? 'null' : typeof p}`);
}

const isObject = (v: unknown): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

function arrayIndex(seg: unknown, len: number, forInsert: boolean): number {
  if (forInsert && seg === '-') return len;
  let n: number;
  if (typeof seg === 'number') n = seg;
  else if (typeof seg === 'string' && /^(?:0|[1-9][0-9]*)$/.test(seg)) n = Number(seg);
  else return fail(`invalid array index ${JSON.stringify(seg)}`);
  if (!Number.isInteger(n) || n < 0 || n > (forInsert ? len : len - 1)) fail(`array index ${n} out of range`);
  return n;
}

function child(doc: Json, seg: unknown): Json {
  if (isObject(doc)) {
    if (typeof seg !== 'string' || !Object.hasOwn(doc, seg)) fail(`path segment ${JSON.stringify(seg)} not found`);
    return doc[seg as string] as Json;
  }
  if (Array.isArray(doc)) return doc[arrayIndex(seg, doc.length, false)] as Json;
  return fail(`cannot index into ${doc === null ? 'null' : typeof doc}`);
}

function get(doc: Json, path: readonly unknown[]): Json {
  let cur = doc;
  for (const seg of path) cur = child(cur, seg);
  return cur;
}

/** Copies the containers along path and applies edit to the parent copy. */
function update(doc: Json, path: readonly unknown[], edit: (parent: Json, seg: unknown) => Json): Json {
  if (path.length === 0) return fail('empty path');
  const [seg, ...rest] = path;
  if (rest.length === 0) return edit(doc, seg);
  const next = update(child(doc, seg), rest, edit);
  if (isObject(doc)) return { ...doc, [seg as string]: next };
  const arr = [...(doc as Json[])];
  arr[arrayIndex(seg, arr.length, false)] = next;
  return arr;
}

function insert(doc: Json, path: readonly unknown[], value: Json): Json {
  if (path.length === 0) return value;
  return update(doc, path, (parent, seg) => {
    if (isObject(parent)) {
      // OPA inserts a non-string segment as a non-string key; JSON can only say "1".
      return { ...parent, [typeof seg === 'string' ? seg : JSON.stringify(seg)]: value };
    }
    if (Array.isArray(parent)) {
      const i = arrayIndex(seg, parent.length, true);
      return [...parent.slice(0, i), value, ...parent.slice(i)];
    }
    return fail(`cannot insert into ${parent === null ? 'null' : typeof parent}`);
  });
}

function remove(doc: Json, path: readonly unknown[]): Json {
  // OPA 1.19.1 panics on this one (a nil document); here it fails the builtin.
  if (path.length === 0) return fail('cannot remove the whole document');
  return update(doc, path, (parent, seg) => {
    child(parent, seg); // must exist
    if (isObject(parent)) {
      const out = { ...parent };
      delete out[seg as string];
      return out;
    }
    const arr = parent as Json[];
    const i = arrayIndex(seg, arr.length, false);
    return [...arr.slice(0, i), ...arr.slice(i + 1)];
  });
}

/** Rego equality on JSON values (numbers by value, objects by keys). */
function equal(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i] as Json));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k] as Json, b[k] as Json));
  }
  return false;
}

function jsonPatch(target: unknown, ops: unknown): Json {
  if (!Array.isArray(ops)) throw operandTypeError(B, 2, ops, 'array');
  let doc = target as Json;
  for (const op of ops) {
    if (!isObject(op)) fail('must be an array of JSON-Patch objects, but at least one element is not an object');
    const o = op as { [k: string]: Json };
    if (!Object.hasOwn(o, 'path')) fail("missing required attribute 'path'");
    if (!Object.hasOwn(o, 'op')) fail("missing required attribute 'op'");
    if (typeof o.op !== 'string') fail("attribute 'op' must be a string");
    const path = parsePath(o.path);
    const value = (): Json => (Object.hasOwn(o, 'value') ? (o.value as Json) : fail("missing required attribute 'value'"));
    const from = (): unknown[] => (Object.hasOwn(o, 'from') ? parsePath(o.from) : fail("missing required attribute 'from'"));
    switch (o.op) {
      case 'add':
        doc = insert(doc, path, value());
        break;
      case 'remove':
        doc = remove(doc, path);
        break;
      case 'replace':
        if (path.length > 0) doc = remove(doc, path);
        doc = insert(doc, path, value());
        break;
      case 'move': {
        const f = from();
        const chunk = get(doc, f);
        doc = remove(doc, f);
        doc = insert(doc, path, chunk);
        break;
      }
      case 'copy':
        doc = insert(doc, path, get(doc, from()));
        break;
      case 'test':
        if (!equal(get(doc, path), value())) fail('test failed');
        break;
      default:
        fail(`unrecognized op: '${o.op}'`);
    }
  }
  return doc;
}

export function jsonPatchBuiltins(): Record<string, BuiltinFn> {
  return { 'json.patch': jsonPatch };
}
