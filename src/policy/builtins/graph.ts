// graph.reachable_paths: every path from the initial nodes, as OPA's
// topdown/reachable.go builds them (a path ends at a node without edges, at a
// node not in the graph, which is then left out, or where it would close a
// cycle). The answer is a set of arrays; each branch keeps its own "reached"
// set, so the answer does not depend on the order edges are walked in, and
// sets reaching the host as arrays (JSON) lose nothing here.

import type { BuiltinFn } from './index.ts';
import { regoSet } from './sets.ts';
import { BuiltinError, objectOperand, typeName } from './util.ts';

/** Paths kept per call: the number of paths grows exponentially with the graph's width. */
export const MAX_PATHS = 100_000;

/** The graph's edges of a node: JSON objects key by string, so only a string node can be in the graph. */
function edgesOf(graph: Record<string, unknown>, node: unknown): unknown[] | undefined {
  if (typeof node !== 'string' || !Object.hasOwn(graph, node)) return undefined;
  const edges = graph[node];
  return Array.isArray(edges) ? edges : [];
}

const key = (v: unknown): string => JSON.stringify(v);

function reachablePaths(g: unknown, initial: unknown): ArrayBuffer {
  const b = 'graph.reachable_paths';
  const graph = objectOperand(b, g, 1);
  if (!Array.isArray(initial)) throw new BuiltinError(b, `operand 2 must be one of {array, set} but got ${typeName(initial)}`);
  const paths = new Map<string, unknown[]>();
  const add = (path: unknown[]): void => {
    paths.set(key(path), path);
    if (paths.size > MAX_PATHS) throw new BuiltinError(b, `more than ${MAX_PATHS} paths`);
  };
  const build = (root: unknown, path: unknown[], reached: ReadonlySet<string>): void => {
    const edges = edgesOf(graph, root);
    if (edges === undefined) return add(path);
    const here = [...path, root];
    if (edges.length === 0) return add(here);
    const next = new Set(reached).add(key(root));
    for (const n of edges) {
      if (next.has(key(n))) add(here);
      else build(n, here, next);
    }
  };
  for (const node of initial) {
    const edges = edgesOf(graph, node);
    if (edges === undefined) continue;
    if (edges.length === 0) add([node]);
    for (const n of edges) build(n, [node], new Set([key(node)]));
  }
  return regoSet([...paths.values()]);
}

export function graphBuiltins(): Record<string, BuiltinFn> {
  return { 'graph.reachable_paths': reachablePaths };
}
