// The demo policy, served when policy.path is empty. It ships prebuilt
// (policies/demo.tar.gz, built from policies/demo by scripts/demo-bundle.ts;
// test/demo-bundle.test.ts holds the two equal), so serving it needs no opa.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BundleFiles } from './Bundle.ts';
import { BundleError } from './Bundle.ts';

/** Two levels up from src/policy/ and from dist/policy/ alike: the package root. */
export const DEMO_BUNDLE = fileURLToPath(new URL('../../policies/demo.tar.gz', import.meta.url));
/** The Rego the demo bundle is built from (what `ztauthz test` tests when no policy is given). */
export const DEMO_POLICY_DIR = fileURLToPath(new URL('../../policies/demo', import.meta.url));
export const DEMO_ENTRYPOINT = 'envoy/authz/allow';

/**
 * The shipped demo bundle with its plan: the plan of its Rego, built beside
 * the wasm, so that its cache key is the one the Rego compiled here gets.
 * Only this bundle's plan is taken: a plan in someone else's bundle could
 * claim reads its wasm does not make, and so drop fields from the cache key
 * that the policy decides on.
 */
export function withDemoPlan(path: string, bundle: BundleFiles): BundleFiles {
  if (resolve(path) !== DEMO_BUNDLE) return bundle;
  const plan = bundle.files.get('/plan.json');
  if (!plan) throw new BundleError(`${DEMO_BUNDLE} has no /plan.json: rebuild it with node scripts/demo-bundle.ts --write`);
  return { ...bundle, plan: JSON.parse(Buffer.from(plan).toString('utf8')) };
}
