// Encoding builtins the wasm leaves to the host. Arguments are Rego strings,
// i.e. UTF-8 bytes; decoded bytes are returned the way OPA prints them.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, goBytesToString, stringOperand, utf8 } from './util.ts';

function hexDecode(s: string): string {
  // Go's hex.DecodeString: both cases accepted, odd length is an error.
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new BuiltinError('hex.decode', `encoding/hex: invalid input ${JSON.stringify(s)}`);
  return goBytesToString(Buffer.from(s, 'hex'));
}

export function encodingBuiltins(): Record<string, BuiltinFn> {
  return {
    'base64url.encode_no_pad': (x: unknown) => utf8(stringOperand('base64url.encode_no_pad', x, 1)).toString('base64url'),
    'hex.encode': (x: unknown) => utf8(stringOperand('hex.encode', x, 1)).toString('hex'),
    'hex.decode': (x: unknown) => hexDecode(stringOperand('hex.decode', x, 1)),
  };
}
