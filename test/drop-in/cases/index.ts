// Every differential case, in one list.
import type { DropInCase } from './types.ts';
import { INPUT_CASES } from './input.ts';

export const ALL_CASES: readonly DropInCase[] = [...INPUT_CASES];
