// decision_log.mask: JSON pointers (RFC 6901, as OPA's decision-log masks)
// turned into pino `redact` paths, which remove them from the written line
// (pino copies what it changes: the live input is never touched).
//
// Every segment is written in bracket notation (`input["attributes"]…`), so
// dots, dashes and colons in keys (`["x-forwarded-for"]`, `[":path"]`) stay one
// segment. What pino's path syntax cannot say is refused here, with the
// reason, rather than silently masking something else: a `*` segment (a
// wildcard to pino, a plain key to a pointer), brackets, both quote
// characters in one key, a comma or "..", and empty segments.
//
// Masking by redact costs what the hand-written copy-on-path removal it
// replaced did (11 µs for a denial's record with a typical input, both ways,
// on Node 24: `node bench/log-serialise.ts`).

/** One mask: the pointer as configured, its segments, and the same path for pino. */
export interface MaskPath {
  readonly pointer: string;
  readonly segments: readonly string[];
  readonly redactPath: string;
}

export function maskPaths(pointers: readonly string[]): MaskPath[] {
  return pointers.map((pointer) => {
    const segments = parsePointer(pointer);
    return { pointer, segments, redactPath: segments.map((s) => bracket(pointer, s)).join('') };
  });
}

/** "/input/attributes/request/http/headers/authorization" -> segments (RFC 6901 escapes). */
export function parsePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) {
    throw new Error(
      `decision_log.mask: "${pointer}" is not a JSON pointer to a field (it must start with "/", as in "/input/attributes/request/http/headers/authorization")`,
    );
  }
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function bracket(pointer: string, segment: string): string {
  const refuse = (why: string): never => {
    throw new Error(`decision_log.mask: "${pointer}" cannot be masked: ${why}`);
  };
  if (segment === '') refuse('it has an empty segment');
  if (segment === '*') refuse('a "*" segment (pino would read it as a wildcard)');
  if (/[[\]]/.test(segment)) refuse(`the segment "${segment}" has a bracket`);
  if (segment.includes(',') || segment.includes('..')) refuse(`the segment "${segment}" has a comma or ".."`);
  if (!segment.includes('"')) return `["${segment}"]`;
  if (!segment.includes("'")) return `['${segment}']`;
  return refuse(`the segment ${segment} has both quote characters`);
}

/**
 * Whether the path is there (own properties all the way). pino's `remove`
 * does not say what it removed, and OPA's `erased` lists only the masks that
 * removed something, so this walk stays.
 */
export function hasPath(root: Record<string, unknown>, segments: readonly string[]): boolean {
  let node: unknown = root;
  for (const key of segments) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}
