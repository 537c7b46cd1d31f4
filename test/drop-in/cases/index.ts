// Every differential case, in one list.
import type { DropInCase } from './types.ts';
import { INPUT_CASES } from './input.ts';
import { RESULT_CASES } from './result.ts';
import { BUILTIN_CASES } from './builtins.ts';
import { DROPIN_BUILTIN_CASES } from './builtins-dropin.ts';
import { TUTORIAL_CASES } from './tutorials.ts';
import { EDGE_CASES } from './edges.ts';
import { GRPC_CASES } from './grpc.ts';

export const ALL_CASES: readonly DropInCase[] = [
  ...INPUT_CASES,
  ...RESULT_CASES,
  ...BUILTIN_CASES,
  ...DROPIN_BUILTIN_CASES,
  ...TUTORIAL_CASES,
  ...EDGE_CASES,
  ...GRPC_CASES,
];
