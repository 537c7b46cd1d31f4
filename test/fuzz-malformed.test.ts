// Seeded fuzzing of malformed CheckRequests through the real Check path at the
// default configuration (decision log with input for denials, metrics, behaviour, cache
// and request shortcut all on): no mutation may make an answer more
// permissive than the unmutated request's, nothing may throw, and every
// answer is a CheckResponse. Replay a run with ZTAUTHZ_TEST_SEED=<seed>.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { Observer } from '../src/observe/Observer.ts';
import { Metrics } from '../src/observe/Metrics.ts';
import { DecisionLog } from '../src/observe/DecisionLog.ts';
import { BehaviorSignals } from '../src/observe/BehaviorSignals.ts';
import { CheckResponseType, protoRoot } from '../src/envoy/ProtoCodec.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import { testSeed, mutate, prng } from './support/mutate.ts';
import { FUZZ_BASES } from './support/fuzzBases.ts';
import { lengthDelimited } from './support/wire.ts';

const CASES = 20_000;

async function defaultPipeline() {
  const config = loadConfig({ flags: { 'decision-log-output': '/dev/null' } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  const metrics = new Metrics({ processMetrics: false });
  const d = config.decision_log;
  const decisionLog = new DecisionLog(
    {
      enabled: d.enabled,
      output: d.output,
      includeInput: d.include_input,
      inputSampleAllowed: d.input_sample_allowed,
      mask: d.mask,
      sampleAllowed: d.sample_allowed,
    },
    metrics,
  );
  const observer = new Observer({ metrics, decisionLog, behavior: new BehaviorSignals() });
  return { pipeline: createPipeline(config, policies, phases, { observer }), decisionLog };
}

/** The gRPC status code of an answer (0 allows); a missing response fails the test. */
function statusCode(response: Buffer | undefined): number {
  expect(response).toBeInstanceOf(Buffer);
  const decoded = CheckResponseType.toObject(CheckResponseType.decode(response!)) as { status?: { code?: number } };
  return decoded.status?.code ?? 0;
}

describe('fuzzed malformed CheckRequests', () => {
  it(`${CASES} seeded mutations: never more permissive than the original, never a throw`, async () => {
    const seed = testSeed();
    console.log(`fuzz seed ${seed} (replay: ZTAUTHZ_TEST_SEED=${seed})`);
    const rnd = prng(seed);
    const { pipeline, decisionLog } = await defaultPipeline();
    const bases = FUZZ_BASES.map((b) => Buffer.from(encodeCheckRequestJson(b.request)));
    const allowedBase: boolean[] = [];
    for (const [i, b] of bases.entries()) {
      allowedBase.push(statusCode((await pipeline.check(b)).response) === 0);
      expect(allowedBase[i], FUZZ_BASES[i]!.name).toBe(FUZZ_BASES[i]!.allowed);
    }
    const tally = { allowed: 0, denied: 0 };
    const reasons = new Map<string, number>();
    for (let n = 0; n < CASES; n++) {
      const i = Math.floor(rnd() * bases.length);
      // Splices take their material from the same request: two different
      // requests spliced or concatenated (which protobuf merges) may rightly
      // make a third, allowed one, which would void the oracle.
      const bytes = mutate(rnd, bases[i]!, bases[i]!);
      let code: number;
      try {
        const outcome = await pipeline.check(bytes);
        reasons.set(outcome.decision.reason, (reasons.get(outcome.decision.reason) ?? 0) + 1);
        code = statusCode(outcome.response);
      } catch (err) {
        throw new Error(`case ${n} (seed ${seed}, base ${FUZZ_BASES[i]!.name}): ${(err as Error).message}; bytes ${bytes.toString('base64')}`);
      }
      if (code === 0) tally.allowed++;
      else tally.denied++;
      // A denied request may become anything but allowed; an error is a denial too.
      if (!allowedBase[i] && code === 0) {
        throw new Error(`case ${n} (seed ${seed}): a mutation of the denied request ${FUZZ_BASES[i]!.name} was allowed; bytes ${bytes.toString('base64')}`);
      }
      expect([0, 7]).toContain(code);
    }
    console.log(`fuzz: ${tally.allowed} allowed, ${tally.denied} denied; by reason ${JSON.stringify(Object.fromEntries(reasons))}`);
    // Anything unanticipated is a bug even when it denies.
    expect(reasons.get('internal_error') ?? 0).toBe(0);
    expect(tally.denied).toBeGreaterThan(CASES / 4);
    await decisionLog.close();
  });
});

describe('regressions the fuzzer found', () => {
  const field = lengthDelimited;

  it('a Struct map entry without its value (protobufjs decodes it to null) is request_malformed, not internal_error', async () => {
    const { pipeline } = await defaultPipeline();
    const AttributeContext = protoRoot.lookupType('envoy.service.auth.v3.AttributeContext');
    const http = AttributeContext.encode(AttributeContext.fromObject({ request: { http: { method: 'GET', path: '/', host: 'svc' } } })).finish();
    const entryWithoutValue = field(1, field(1, Buffer.from('k'))); // Struct.fields entry {key: "k"}, no value
    const metadata = field(1, Buffer.concat([field(1, Buffer.from('ns')), field(2, entryWithoutValue)])); // filter_metadata {"ns": Struct}
    const attributes = Buffer.concat([http, field(11, metadata)]); // metadata_context
    const outcome = await pipeline.check(field(1, attributes));
    expect(outcome.decision.reason).toBe('request_malformed');
    expect(statusCode(outcome.response)).toBe(7);
  });
});
