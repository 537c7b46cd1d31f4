import { DEMO_BUNDLE, DEMO_POLICY_DIR } from '../policy/DemoPolicy.ts';

export { DEMO_POLICY_DIR };

/** The demo policy, used when policy.path is empty: shipped prebuilt (src/policy/DemoPolicy.ts). */
export const DEMO_POLICY = DEMO_BUNDLE;
