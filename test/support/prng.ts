/** mulberry32: small, fast, and the same sequence for the same seed everywhere (tests and benches replay streams). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of a randomised test: ZTAUTHZ_TEST_SEED when set (to replay a run),
 * otherwise a fresh one. The caller prints it, so any failing run can be replayed.
 */
export function testSeed(): number {
  const fixed = process.env['ZTAUTHZ_TEST_SEED'];
  if (fixed !== undefined && fixed !== '') {
    const n = Number(fixed);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`ZTAUTHZ_TEST_SEED must be a 32-bit unsigned integer, got ${fixed}`);
    return n;
  }
  return Math.floor(Math.random() * 0x100000000);
}
