// Digest and HMAC builtins. OPA hashes the string's UTF-8 bytes and returns
// lowercase hex.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { BuiltinFn } from './index.ts';
import { stringOperand, utf8 } from './util.ts';

function digest(name: string, algorithm: string): BuiltinFn {
  return (x: unknown) =>
    createHash(algorithm)
      .update(utf8(stringOperand(name, x, 1)))
      .digest('hex');
}

function hmac(name: string, algorithm: string): BuiltinFn {
  return (x: unknown, key: unknown) => {
    const data = utf8(stringOperand(name, x, 1));
    return createHmac(algorithm, utf8(stringOperand(name, key, 2)))
      .update(data)
      .digest('hex');
  };
}

// Go's hmac.Equal: constant time for equal lengths, false otherwise.
function hmacEqual(a: unknown, b: unknown): boolean {
  const x = utf8(stringOperand('crypto.hmac.equal', a, 1));
  const y = utf8(stringOperand('crypto.hmac.equal', b, 2));
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cryptoBuiltins(): Record<string, BuiltinFn> {
  return {
    'crypto.md5': digest('crypto.md5', 'md5'),
    'crypto.sha1': digest('crypto.sha1', 'sha1'),
    'crypto.sha256': digest('crypto.sha256', 'sha256'),
    'crypto.hmac.md5': hmac('crypto.hmac.md5', 'md5'),
    'crypto.hmac.sha1': hmac('crypto.hmac.sha1', 'sha1'),
    'crypto.hmac.sha256': hmac('crypto.hmac.sha256', 'sha256'),
    'crypto.hmac.sha512': hmac('crypto.hmac.sha512', 'sha512'),
    'crypto.hmac.equal': hmacEqual,
  };
}
