import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildRouteTable, parseRouteConfig } from '../../src/route/RouteConfig.ts';
import { CATALOGUE } from '../../src/route/Catalogue.ts';
import { RouteConfigError } from '../../src/route/RouteSpec.ts';

const EP = { defaultEntrypoint: 'envoy/authz/allow' };
const ok = { name: 'scoring', methods: ['POST'], path: '/score/{model}', api: 'scoring', action: 'infer' };

function configError(raw: unknown): string {
  try {
    buildRouteTable(parseRouteConfig(raw), EP);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('RouteConfig: the section', () => {
  it('defaults: extend the catalogue, unmatched default', () => {
    expect(parseRouteConfig(undefined)).toEqual({ mode: 'extend', unmatched: 'default', table: [] });
    expect(parseRouteConfig({})).toEqual({ mode: 'extend', unmatched: 'default', table: [] });
  });

  it('reads YAML as the config loader parses it', () => {
    const cfg = parseRouteConfig(
      parseYaml(`
mode: extend
unmatched: deny
table:
  - name: scoring
    methods: [POST]
    path: /score/{model}
    api: scoring
    action: infer
    entrypoint: envoy/authz/scoring
  - name: gen
    methods: ["*"]
    path: /gen
    api: custom
    action: infer
    model_from: {json_body: request.model}
    params_from: {tenant: {query: tenant}}
`),
    );
    expect(cfg.unmatched).toBe('deny');
    expect(cfg.table).toEqual([
      { ...ok, entrypoint: 'envoy/authz/scoring' },
      {
        name: 'gen',
        methods: ['*'],
        path: '/gen',
        api: 'custom',
        action: 'infer',
        model_from: { json_body: 'request.model' },
        params_from: { tenant: { query: 'tenant' } },
      },
    ]);
  });

  it.each([
    [{ mode: 'merge' }, 'routes.mode: must be one of "extend", "replace"'],
    [{ unmatched: 'allow' }, 'routes.unmatched: must be one of "default", "deny"'],
    [{ table: {} }, 'routes.table: must be a list of routes'],
    [{ tables: [] }, 'routes.tables: unknown key (known: mode, unmatched, table)'],
    ['extend', 'routes: must be a mapping'],
    [{ table: [ok, ok] }, 'routes.table: route "scoring" is defined twice'],
  ])('refuses %j', (raw, message) => {
    expect(configError(raw)).toBe(message);
  });
});

describe('RouteConfig: malformed routes are refused, naming the route and the field', () => {
  it.each([
    [{ ...ok, name: 'Bad Name' }, /^routes.table\[0\].name: must be a route name/],
    [{ ...ok, name: undefined }, /^routes.table\[0\].name:/],
    [{ ...ok, method: ['GET'] }, /^routes.table\[0\] \("scoring"\).method: unknown key/],
    [{ ...ok, methods: [] }, /^routes.table\[0\] \("scoring"\).methods: must be a non-empty list/],
    [{ ...ok, methods: 'POST' }, /\("scoring"\).methods: must be a non-empty list/],
    [{ ...ok, methods: ['post'] }, /\("scoring"\).methods: "post" is not an upper-case HTTP method/],
    [{ ...ok, methods: ['GET', 'GET'] }, /\("scoring"\).methods: lists a method twice/],
    [{ ...ok, methods: ['*', 'GET'] }, /\("scoring"\).methods: "\*" already means every method/],
    [{ ...ok, path: 7 }, /\("scoring"\).path: must be a path template/],
    [{ ...ok, path: '/score/{model' }, /^routes.table\[0\]: route "scoring": path "\/score\/\{model": unbalanced braces/],
    [{ ...ok, path: '/score/{}' }, /route "scoring": path .*empty parameter name/],
    [{ ...ok, path: '/s/{m}/{m}' }, /route "scoring": path .*duplicate parameter "\{m\}"/],
    [{ ...ok, path: '/s/a{m}b{n}' }, /route "scoring": path .*more than one parameter/],
    [{ ...ok, api: '' }, /\("scoring"\).api: must match/],
    [{ ...ok, action: 'Infer!' }, /\("scoring"\).action: must match/],
    [{ ...ok, entrypoint: 'envoy.authz' }, /\("scoring"\).entrypoint: must be a decision path/],
    [{ ...ok, model_from: { json_body: 'model' } }, /\("scoring"\).model_from: the path already has \{model\}/],
    [{ ...ok, version_from: { json_body: 'a', query: 'b' } }, /\("scoring"\).version_from: must have exactly one of/],
    [{ ...ok, version_from: { header: 'x' } }, /\("scoring"\).version_from: must have exactly one of/],
    [{ ...ok, version_from: { json_body: 'a..b' } }, /version_from.json_body: must be a field path/],
    [{ ...ok, version_from: { grpc_body: 'ModelInferRequest.id' } }, /version_from.grpc_body: must be one of ModelInferRequest.model_name/],
    [{ ...ok, version_from: { query: '' } }, /version_from.query: must be a query parameter name/],
    [{ ...ok, params_from: { model: { query: 'm' } } }, /params_from.model: use model_from/],
    [{ ...ok, params_from: { Tenant: { query: 't' } } }, /params_from: parameter name "Tenant"/],
    [{ ...ok, path: '/s/{t}', params_from: { t: { query: 't' } } }, /params_from.t: the path already has \{t\}/],
    [
      { ...ok, path: '/s', model_from: { json_body: 'model' }, version_from: { grpc_body: 'ModelInferRequest.model_version' } },
      /\("scoring"\): reads both a JSON and a gRPC body/,
    ],
  ])('%#: %j', (route, message) => {
    expect(configError({ table: [route] })).toMatch(message);
  });
});

describe('RouteConfig: extend and replace', () => {
  it('extend: catalogue plus user routes', () => {
    const t = buildRouteTable(parseRouteConfig({ table: [ok] }), EP);
    expect(t.match('POST', ['score', 'm'])?.name).toBe('scoring');
    expect(t.match('POST', ['v2', 'models', 'm', 'infer'])?.name).toBe('kserve-v2-infer');
    expect(t.routes.length).toBe(CATALOGUE.length + 1);
  });

  it('extend: a user route named like a catalogue route replaces it', () => {
    const mine = { name: 'v1-models-get', methods: ['GET'], path: '/v1/models/{model}', api: 'openai', action: 'model_metadata' };
    const t = buildRouteTable(parseRouteConfig({ table: [mine] }), EP);
    expect(t.match('GET', ['v1', 'models', 'gpt'])).toMatchObject({ name: 'v1-models-get', api: 'openai' });
    expect(t.routes.length).toBe(CATALOGUE.length);
  });

  it('extend: a user route clashing with a differently named catalogue route is refused, naming both', () => {
    const clash = { name: 'my-infer', methods: ['POST'], path: '/v2/models/{name}/infer', api: 'x', action: 'infer' };
    expect(configError({ table: [clash] })).toBe(
      'route "my-infer" (/v2/models/{name}/infer) conflicts with route "kserve-v2-infer" (/v2/models/{model}/infer): same path shape and method POST (with routes.mode: extend, a route named like a catalogue route replaces it)',
    );
  });

  it('replace: only the user routes', () => {
    const t = buildRouteTable(parseRouteConfig({ mode: 'replace', table: [ok] }), EP);
    expect(t.routes.map((r) => r.name)).toEqual(['scoring']);
    expect(t.match('POST', ['v2', 'models', 'm', 'infer'])).toBeNull();
  });

  it('replace: conflicts among user routes are refused too', () => {
    const other = { ...ok, name: 'scoring-2', path: '/score/{m}' };
    expect(configError({ mode: 'replace', table: [ok, other] })).toBe(
      'route "scoring-2" (/score/{m}) conflicts with route "scoring" (/score/{model}): same path shape and method POST',
    );
  });
});
