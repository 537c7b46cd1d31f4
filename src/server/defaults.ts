import { DEMO_BUNDLE } from '../policy/DemoPolicy.ts';

/** The demo policy, used when policy.path is empty: shipped prebuilt (src/policy/DemoPolicy.ts). */
export const DEMO_POLICY = DEMO_BUNDLE;
