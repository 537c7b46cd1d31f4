import { describe, expect, it } from 'vitest';
import { RouteSelector, type RouteSelectOptions } from '../../src/route/RouteSelect.ts';
import { buildRouteTable, DEFAULT_ROUTE_CONFIG } from '../../src/route/RouteConfig.ts';
import type { BodyInput } from '../../src/route/BodyFields.ts';
import { checkErrorOf } from '../support/errors.ts';

const DEFAULT_EP = 'envoy/authz/allow';
const table = buildRouteTable(
  {
    mode: 'extend',
    unmatched: 'default',
    table: [{ name: 'scoring', methods: ['POST'], path: '/score/{model}', api: 'scoring', action: 'infer', entrypoint: 'scoring/allow' }],
  },
  { defaultEntrypoint: DEFAULT_EP },
);
const NO_BODY: BodyInput = { contentType: undefined, parsed: null, truncated: false, text: '', raw: Buffer.alloc(0), query: {} };
const POLICY_ENTRYPOINTS = new Set([DEFAULT_EP, 'scoring/allow', 'envoy/authz/strict']);

function selector(opts: Partial<RouteSelectOptions> = {}) {
  return new RouteSelector(table, {
    unmatched: 'default',
    defaultEntrypoint: DEFAULT_EP,
    maxBodyBytes: 1 << 20,
    hasEntrypoint: (p) => POLICY_ENTRYPOINTS.has(p),
    ...opts,
  });
}

function select(method: string, path: string, ext?: Record<string, string>, opts: Partial<RouteSelectOptions> = {}, body: BodyInput = NO_BODY) {
  return selector(opts).select({ method, segments: path.slice(1).split('/'), contextExtensions: ext, body });
}

const failure = checkErrorOf;

describe('RouteSelector: without context_extensions', () => {
  it('matches the table; the route names the entrypoint, else the default', () => {
    expect(select('POST', '/v2/models/m/infer')).toMatchObject({ route: { name: 'kserve-v2-infer', entrypoint: DEFAULT_EP }, entrypoint: DEFAULT_EP });
    expect(select('POST', '/score/m')).toMatchObject({ route: { name: 'scoring', model: 'm' }, entrypoint: 'scoring/allow' });
  });

  it('unmatched: default hands the request to the default entrypoint with route null', () => {
    expect(select('GET', '/not/a/route')).toEqual({ route: null, entrypoint: DEFAULT_EP });
    expect(select('GET', '/not/a/route', {})).toEqual({ route: null, entrypoint: DEFAULT_EP });
  });

  it('unmatched: deny refuses it with route_unmatched', () => {
    const err = failure(() => select('GET', '/not/a/route', undefined, { unmatched: 'deny' }));
    expect(err.reason).toBe('route_unmatched');
    expect(err.message).toBe('no route matches GET /not/a/route (routes.unmatched: deny)');
    expect(select('GET', '/v2/health/live', undefined, { unmatched: 'deny' }).route?.name).toBe('kserve-v2-server-live');
  });

  it('body-derived fields are read for the matched route', () => {
    const body: BodyInput = { ...NO_BODY, contentType: 'application/json', parsed: { model: 'llama' }, text: '{"model":"llama"}' };
    expect(select('POST', '/v1/chat/completions', undefined, {}, body).route).toMatchObject({ model: 'llama' });
    expect(failure(() => select('POST', '/v1/chat/completions')).reason).toBe('body_missing');
  });
});

describe('RouteSelector: context_extensions ztauthz_route', () => {
  it('selects the named route without searching the table, with its parameters', () => {
    // The table alone would pick triton-stats-all for this path; Envoy says it is model metadata.
    expect(select('GET', '/v2/models/stats').route?.name).toBe('triton-stats-all');
    expect(select('GET', '/v2/models/stats', { ztauthz_route: 'kserve-v2-model-metadata' }).route).toMatchObject({
      name: 'kserve-v2-model-metadata',
      model: 'stats',
    });
  });

  it('resolves the /v1/models clash per Envoy route when a deployment wants to', () => {
    expect(select('POST', '/v1/models/m:predict', { ztauthz_route: 'v1-models-predict' }).route).toMatchObject({ api: 'v1-models', model: 'm' });
  });

  it('an unknown route name is route_unknown (a deployment error, never a fallback)', () => {
    const err = failure(() => select('POST', '/v2/models/m/infer', { ztauthz_route: 'kserve-v2-infr' }));
    expect(err.reason).toBe('route_unknown');
    expect(err.message).toMatch(/names route "kserve-v2-infr", which the route table does not have/);
  });

  it('a request that does not fit the named route is route_unmatched, whatever routes.unmatched says', () => {
    const err = failure(() => select('POST', '/v2/models/m/ready', { ztauthz_route: 'kserve-v2-infer' }));
    expect(err.reason).toBe('route_unmatched');
    expect(err.message).toMatch(/POST \/v2\/models\/m\/ready does not fit route "kserve-v2-infer"/);
    expect(failure(() => select('GET', '/v2/models/m/infer', { ztauthz_route: 'kserve-v2-infer' })).reason).toBe('route_unmatched');
  });

  it('other context_extensions keys are left to the policy', () => {
    expect(select('POST', '/v2/models/m/infer', { tenant: 'a' }).route?.name).toBe('kserve-v2-infer');
  });
});

describe('RouteSelector: context_extensions ztauthz_entrypoint', () => {
  it('overrides the route and default entrypoint, and input.route says so', () => {
    expect(select('POST', '/score/m', { ztauthz_entrypoint: 'envoy/authz/strict' })).toMatchObject({
      route: { name: 'scoring', entrypoint: 'envoy/authz/strict' },
      entrypoint: 'envoy/authz/strict',
    });
    expect(select('GET', '/unrouted', { ztauthz_entrypoint: 'envoy/authz/strict' })).toEqual({ route: null, entrypoint: 'envoy/authz/strict' });
  });

  it('does not bypass routes.unmatched: deny', () => {
    expect(failure(() => select('GET', '/unrouted', { ztauthz_entrypoint: 'envoy/authz/strict' }, { unmatched: 'deny' })).reason).toBe('route_unmatched');
  });

  it('an entrypoint the policy lacks, or that is not a decision path, is route_unknown', () => {
    expect(failure(() => select('POST', '/score/m', { ztauthz_entrypoint: 'envoy/authz/nope' })).message).toMatch(/the loaded policy does not have/);
    for (const bad of ['', 'envoy.authz', '/envoy/authz', 'envoy/authz/', 'a b']) {
      expect(failure(() => select('POST', '/score/m', { ztauthz_entrypoint: bad })).reason).toBe('route_unknown');
    }
  });

  it('without a policy to ask, only the syntax is checked', () => {
    expect(select('POST', '/score/m', { ztauthz_entrypoint: 'any/thing' }, { hasEntrypoint: undefined }).entrypoint).toBe('any/thing');
  });

  it('combines with ztauthz_route', () => {
    expect(select('POST', '/v2/models/m/infer', { ztauthz_route: 'kserve-v2-infer', ztauthz_entrypoint: 'envoy/authz/strict' })).toMatchObject({
      route: { name: 'kserve-v2-infer', model: 'm', entrypoint: 'envoy/authz/strict' },
      entrypoint: 'envoy/authz/strict',
    });
  });
});

describe('RouteSelector: the default route config', () => {
  it('is the catalogue with unmatched: default', () => {
    expect(DEFAULT_ROUTE_CONFIG).toEqual({ mode: 'extend', unmatched: 'default', table: [] });
  });
});
