import { expect } from 'vitest';
import { CheckError } from '../../src/types/Reason.ts';

/** Runs fn, which must throw a CheckError, and returns it (for asserting its reason and message). */
export function checkErrorOf(fn: () => unknown): CheckError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckError);
    return err as CheckError;
  }
  throw new Error('expected a CheckError, nothing was thrown');
}
