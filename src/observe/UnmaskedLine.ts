// A decision record's line for DecisionLog.format when no mask applies,
// written without pino (see unmaskedLine).
import type { DecisionRecord } from './DecisionRecord.ts';
import { hasPath, type MaskPath } from './MaskPaths.ts';

/**
 * Record values that never change once made (the record's identity and
 * route, made once per Check's identity and route; the behaviour views):
 * their JSON text is written once, the first time a line needs it. A
 * repeated request's record has the same ones (the request shortcut keeps
 * them), so its line no longer serialises them: about 1 µs of a cache hit's
 * 9 on Node 24. null: registered, text not made yet.
 */
const FIXED = new WeakMap<object, string | null>();

/** Registers a value that nothing changes any more (frozen, and everything in it) for the text cache above. */
export function fixedRecordValue<T extends object>(value: T): T {
  FIXED.set(value, null);
  return value;
}

function objectJson(value: object): string | undefined {
  const known = FIXED.get(value);
  if (known !== undefined && known !== null) return known;
  const text = JSON.stringify(value);
  if (known === null) FIXED.set(value, text);
  return text;
}

/**
 * The line pino writes for a record no mask finds anything in (every
 * allowed record without its input, at the defaults), written without
 * pino: the same text, as pino's _asJson makes it for this logger (no
 * serializers, message or level; a redact stringifier that removes nothing
 * gives JSON.stringify's text), without copying the record and deleting
 * its input first (which left the copy a slow dictionary object): 5.3 µs
 * for the bench's allowed record became 3.2 on Node 24, and a miss in
 * process (bench/check-cost.ts miss, best round) 33 -> 28-31 µs.
 * Undefined when pino must write it: a mask applies, a value JSON.stringify
 * refuses, or the line is long enough to need the oversize rule.
 */
export function unmaskedLine(record: DecisionRecord, withInput: boolean, masks: readonly MaskPath[], maxLine: number): string | undefined {
  for (const mask of masks) {
    if (!withInput && mask.segments[0] === 'input') continue;
    if (hasPath(record as unknown as Record<string, unknown>, mask.segments)) return undefined;
  }
  let props = '';
  try {
    for (const key in record) {
      if (key === 'input' && !withInput) continue;
      const value = (record as unknown as Record<string, unknown>)[key];
      let text: string | undefined;
      switch (typeof value) {
        case 'undefined':
        case 'function':
          continue;
        case 'number':
          text = Number.isFinite(value) ? `${value}` : 'null';
          break;
        case 'boolean':
          text = value ? 'true' : 'false';
          break;
        case 'string':
          text = pinoString(value);
          break;
        default:
          text = value === null ? 'null' : objectJson(value as object);
      }
      if (text !== undefined) props += `,${keyText(key)}:${text}`;
    }
  } catch {
    return undefined;
  }
  const line = `{${props.slice(1)}}\n`;
  if (!withInput || record.input === undefined || line.length * 3 <= maxLine || Buffer.byteLength(line) <= maxLine) return line;
  return undefined;
}

/** Record keys as written, `"key"`: a record has the same few keys every time (bounded all the same). */
const KEY_TEXTS = new Map<string, string>();

function keyText(key: string): string {
  let text = KEY_TEXTS.get(key);
  if (text === undefined) {
    text = pinoString(key);
    if (KEY_TEXTS.size < 256) KEY_TEXTS.set(key, text);
  }
  return text;
}

const PINO_JSON_STRINGS = Number(process.versions.node.split('.')[0]) >= 25;

/** A string as pino writes it (lib/tools.js asString): JSON.stringify from Node 25 on, before that its own escaping of short strings. */
function pinoString(str: string): string {
  if (PINO_JSON_STRINGS || str.length > 100) return JSON.stringify(str);
  let result = '';
  let last = 0;
  let found = false;
  let point = 255;
  for (let i = 0; i < str.length && point >= 32; i++) {
    point = str.charCodeAt(i);
    if (point === 34 || point === 92) {
      result += `${str.slice(last, i)}\\`;
      last = i;
      found = true;
    }
  }
  result = found ? result + str.slice(last) : str;
  return point < 32 ? JSON.stringify(str) : `"${result}"`;
}
