import { fileURLToPath } from 'node:url';

/** The embedded demo policy, used when policy.path is empty. */
export const DEMO_POLICY_DIR = fileURLToPath(new URL('../../policies/demo', import.meta.url));
