// OPA's decision-log rules in the policy. The drop rule (drop_decision,
// default system/log/drop), true for a record, keeps it from being logged.
// The mask policy (mask_decision, default system/log/mask):
// a rule in the policy that names, per record, what to remove from it (a JSON
// pointer) or to replace ({"op": "upsert", "path": ..., "value": ...}; "remove"
// is the same as a pointer). Paths are under /input or /result, as OPA allows.
// Removed paths are listed in the record's `erased`, replaced ones in
// `masked`, as OPA does.
//
// The record is changed by copying each object and array on a path before
// changing it: the input is shared with the Check and the cache, and must
// never change. A result that is not a list of such operations throws, and
// the decision log then writes the minimal record without input or result
// (DecisionLog.ts): what the policy meant to hide never leaves unmasked.
import { parsePointer } from './MaskPaths.ts';

/** What the policy asked for one record. */
export interface MaskOp {
  readonly op: 'remove' | 'upsert';
  readonly pointer: string;
  readonly segments: readonly string[];
  readonly value?: unknown;
}

/** The serving policy's decision-log rules, each evaluated with the record as its input (as OPA's). */
export interface PolicyLogRules {
  /** Whether the serving policy has a mask rule. */
  hasMask(): boolean;
  /** The mask rule's operations; undefined: the policy has no mask rule. */
  mask(record: Readonly<Record<string, unknown>>): readonly MaskOp[] | undefined;
  /** Whether the drop rule says not to log the record (false without a drop rule). */
  drop(record: Readonly<Record<string, unknown>>): boolean;
}

/** The drop rule's result set as a decision: only a true result drops. */
export function dropped(resultSet: unknown): boolean {
  return Array.isArray(resultSet) && resultSet.length > 0 && (resultSet[0] as { result?: unknown }).result === true;
}

/** The mask rule's result set (opa-wasm's [{result}], [] when undefined) as operations; throws when it is not a list of them. */
export function maskOps(resultSet: unknown): MaskOp[] {
  if (!Array.isArray(resultSet) || resultSet.length === 0) return [];
  const result = (resultSet[0] as { result?: unknown }).result;
  if (!Array.isArray(result)) throw new Error('the mask rule must give a set of JSON pointers or operations');
  return result.map((item): MaskOp => {
    if (typeof item === 'string') return { op: 'remove', pointer: item, segments: checked(item) };
    if (item === null || typeof item !== 'object') throw new Error(`mask rule: ${JSON.stringify(item)} is neither a JSON pointer nor an operation`);
    const { op = 'remove', path, value } = item as { op?: unknown; path?: unknown; value?: unknown };
    if (typeof path !== 'string') throw new Error('mask rule: an operation without a path');
    if (op === 'remove') return { op, pointer: path, segments: checked(path) };
    if (op === 'upsert') return { op, pointer: path, segments: checked(path), value };
    throw new Error(`mask rule: unknown operation ${JSON.stringify(op)} (remove or upsert)`);
  });
}

function checked(pointer: string): string[] {
  const segments = parsePointer(pointer);
  if ((segments[0] !== 'input' && segments[0] !== 'result') || segments.some((s) => s === '')) {
    throw new Error(`mask rule: ${JSON.stringify(pointer)} is not a path under /input or /result`);
  }
  return segments;
}

/**
 * Applies the operations to `record` (changed in place, what it holds
 * copied on the way down). Returns the pointers removed (that were there)
 * and the pointers replaced.
 */
export function applyMask(record: Record<string, unknown>, ops: readonly MaskOp[]): { erased: string[]; masked: string[] } {
  const erased: string[] = [];
  const masked: string[] = [];
  for (const m of ops) {
    const parent = copyPath(record, m.segments, m.op === 'upsert');
    if (!parent) continue;
    const last = m.segments[m.segments.length - 1]!;
    if (m.op === 'remove') {
      if (!Object.hasOwn(parent, last)) continue;
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      erased.push(m.pointer);
    } else {
      (parent as Record<string, unknown>)[last] = m.value;
      masked.push(m.pointer);
    }
  }
  return { erased, masked };
}

/**
 * The container that holds the last segment, each container on the way a
 * fresh copy in its parent. Undefined when the path is not there (for an
 * upsert, missing objects on the way are created; a scalar in the way ends it).
 */
function copyPath(root: Record<string, unknown>, segments: readonly string[], create: boolean): Record<string, unknown> | unknown[] | undefined {
  let node: Record<string, unknown> | unknown[] = root;
  for (const key of segments.slice(0, -1)) {
    const child: unknown = Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    let copy: Record<string, unknown> | unknown[];
    if (Array.isArray(child)) copy = [...child];
    else if (child !== null && typeof child === 'object') copy = { ...(child as Record<string, unknown>) };
    else if (child === undefined && create && !Array.isArray(node)) copy = {};
    else return undefined;
    (node as Record<string, unknown>)[key] = copy;
    node = copy;
  }
  return node;
}
