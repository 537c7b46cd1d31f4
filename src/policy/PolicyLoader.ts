// Everything between a policy path and a policy ready to serve: read (or
// compile), verify the signature, instantiate, then a smoke evaluation of each
// required entrypoint. Used at start, by the watcher and for the shadow policy,
// so a reload can never accept what a start would refuse.
import type { JsonObject } from '../types/Json.ts';
import { BundleError, type BundleFiles } from './Bundle.ts';
import { isSigned, verifyBundleSignature, type SigningKey } from './BundleSignature.ts';
import { HTTP_SEND_OFF_THREAD, PolicyEngine, PolicyLoadError, errorText } from './PolicyEngine.ts';
import type { HttpSendRuntime } from './httpsend/HttpSendRuntime.ts';
import { readPolicySource } from './PolicySource.ts';
import type { RegoVersion } from './OpaCompiler.ts';

export interface LoaderOptions {
  readonly entrypoints: readonly string[];
  readonly maxMemoryPages: number;
  /** A failing host builtin fails the evaluation instead of being undefined (opa eval --strict-builtin-errors). */
  readonly strictBuiltinErrors?: boolean | undefined;
  readonly opa?: string | undefined;
  /** Syntax of a Rego directory (policy.rego_version). */
  readonly regoVersion?: RegoVersion | undefined;
  /** Verify signatures with this key when a bundle is signed. */
  readonly signingKey?: SigningKey | undefined;
  /** Refuse unsigned bundles (and Rego compiled here, which is never signed). */
  readonly requireSignature: boolean;
  /** Throws when a result set breaks the result contract (the wiring passes the envoy one). */
  readonly validateResult: (resultSet: unknown) => void;
  /** Evaluates policies that call http.send (absent: such policies are refused). */
  readonly httpSend?: HttpSendRuntime | undefined;
}

/** The smallest input a policy must survive: a GET / with nothing else. */
const SMOKE_INPUT: JsonObject = {
  attributes: { request: { http: { method: 'GET', path: '/', headers: {} } } },
  version: { ext_authz: 'v3', encoding: 'protojson' },
  parsed_path: [''],
  parsed_query: {},
  identity: null,
  route: null,
};

export async function loadPolicy(path: string, opts: LoaderOptions): Promise<PolicyEngine> {
  const bundle = await readPolicySource(path, { entrypoints: opts.entrypoints, opa: opts.opa, regoVersion: opts.regoVersion });
  await checkSignature(bundle.files, `policy ${path}`, opts);
  return await instantiate(bundle, opts);
}

/** Verifies a bundle's files as the options ask: signed ones with the key, unsigned ones refused when a signature is required. */
export async function checkSignature(
  files: ReadonlyMap<string, Uint8Array>,
  what: string,
  opts: Pick<LoaderOptions, 'signingKey' | 'requireSignature'>,
): Promise<void> {
  if (isSigned(files)) {
    if (!opts.signingKey) {
      if (opts.requireSignature) throw new BundleError('bundle is signed but no policy.signing_key is configured');
    } else {
      await verifyBundleSignature(files, opts.signingKey);
    }
  } else if (opts.requireSignature) {
    throw new BundleError(`${what} is not signed and a signature is required`);
  }
}

/** Instantiates verified bundle files and runs the smoke evaluation of each required entrypoint. */
export async function instantiate(bundle: BundleFiles, opts: LoaderOptions): Promise<PolicyEngine> {
  const engine = await PolicyEngine.load(bundle, {
    requiredEntrypoints: opts.entrypoints,
    maxMemoryPages: opts.maxMemoryPages,
    httpSend: opts.httpSend,
    strictBuiltinErrors: opts.strictBuiltinErrors,
  });
  for (const entrypoint of opts.entrypoints) {
    let resultSet: unknown;
    try {
      resultSet = engine.evaluate(SMOKE_INPUT, entrypoint);
    } catch (err) {
      // The smoke evaluation makes no network calls: a policy that reached
      // http.send has passed what can be checked without the network.
      if (engine.callsOut && errorText(err).includes(HTTP_SEND_OFF_THREAD)) continue;
      throw new PolicyLoadError(`smoke evaluation of ${entrypoint} failed: ${errorText(err)}`);
    }
    // Undefined is a legal answer (it denies); anything defined must be a valid result.
    if (Array.isArray(resultSet) && resultSet.length === 0) continue;
    try {
      opts.validateResult(resultSet);
    } catch (err) {
      throw new PolicyLoadError(`smoke evaluation of ${entrypoint} gave an invalid result: ${errorText(err)}`);
    }
  }
  return engine;
}
