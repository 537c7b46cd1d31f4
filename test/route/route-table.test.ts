import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/route/RouteTable.ts';
import { RouteConfigError, type RouteSpec } from '../../src/route/RouteSpec.ts';

const EP = { defaultEntrypoint: 'envoy/authz/allow' };

function r(name: string, methods: string[], path: string, extra: Partial<RouteSpec> = {}): RouteSpec {
  return { name, methods, path, api: 'test', action: name.replace(/-/g, '_'), ...extra };
}

function segs(path: string): string[] {
  return path.slice(1).split('/');
}

function build(...routes: RouteSpec[]): RouteTable {
  return RouteTable.build(routes, EP);
}

function buildError(...routes: RouteSpec[]): string {
  try {
    build(...routes);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteConfigError);
    return (err as Error).message;
  }
  throw new Error('the table was built');
}

describe('RouteTable: a tail followed by literal segments ("…/mcp")', () => {
  const table = build(
    r('mcp-root', ['POST'], '/mcp'),
    r('mcp-any', ['POST'], '/{server*}/mcp'),
    r('mcp-messages', ['POST'], '/{server*}/mcp/messages'),
    r('files', ['POST'], '/{path*}'),
    r('tools-mcp', ['POST'], '/tools/{name}/mcp'),
  );
  const match = (method: string, path: string) => table.match(method, segs(path));

  it('matches any prefix of one or more segments and reads it as the tail', () => {
    expect(match('POST', '/mcp')).toMatchObject({ name: 'mcp-root', params: {} });
    expect(match('POST', '/github/mcp')).toMatchObject({ name: 'mcp-any', params: { server: 'github' } });
    expect(match('POST', '/team/a/github/mcp')).toMatchObject({ name: 'mcp-any', params: { server: 'team/a/github' } });
    expect(match('POST', '/github/mcp/')).toMatchObject({ name: 'mcp-any', params: { server: 'github' } });
  });

  it('more literal segments after the tail win; a literal path wins over any tail; a bare tail comes last', () => {
    expect(match('POST', '/github/mcp/messages')).toMatchObject({ name: 'mcp-messages', params: { server: 'github' } });
    expect(match('POST', '/tools/x/mcp')).toMatchObject({ name: 'tools-mcp', params: { name: 'x' } });
    expect(match('POST', '/github/mcp/other')).toMatchObject({ name: 'files', params: { path: 'github/mcp/other' } });
    expect(match('POST', '/mcpx')).toMatchObject({ name: 'files' });
  });

  it('a named match fits the same way', () => {
    expect(table.matchNamed('mcp-any', 'POST', segs('/a/b/mcp'))).toMatchObject({ params: { server: 'a/b' } });
    expect(table.matchNamed('mcp-any', 'POST', segs('/mcp'))).toBeNull();
    expect(table.matchNamed('mcp-any', 'POST', segs('/a/b/mcp/x'))).toBeNull();
    expect(table.matchNamed('mcp-any', 'GET', segs('/a/mcp'))).toBeNull();
  });

  it('two routes with the same tail and literals conflict', () => {
    expect(buildError(r('a', ['POST'], '/{x*}/mcp'), r('b', ['POST'], '/{y*}/mcp'))).toMatch(/conflicts with route "a"/);
  });
});

describe('RouteTable: matching', () => {
  const table = build(
    r('list', ['GET'], '/v2/models'),
    r('stats-all', ['GET'], '/v2/models/stats'),
    r('metadata', ['GET'], '/v2/models/{model}'),
    r('infer', ['POST'], '/v2/models/{model}/versions/{version}/infer'),
    r('predict', ['POST'], '/v1/models/{model}:predict'),
    r('explain', ['POST'], '/v1/models/{model}:explain'),
    r('prefixed', ['GET'], '/v1/items/item-{id}'),
    r('both-sides', ['GET'], '/v1/items/x{id}y'),
    r('item', ['GET'], '/v1/items/{id}'),
    r('files', ['GET'], '/files/{path*}'),
    r('files-meta', ['GET'], '/files/meta/{name}'),
    r('any-method', ['*'], '/anything/{x}'),
    r('root', ['GET'], '/'),
  );
  const match = (method: string, path: string) => table.match(method, segs(path));

  it('fills name, api, action, model, version, params and entrypoint', () => {
    expect(match('POST', '/v2/models/fraud/versions/7/infer')).toEqual({
      name: 'infer',
      api: 'test',
      action: 'infer',
      model: 'fraud',
      version: '7',
      params: { model: 'fraud', version: '7' },
      entrypoint: 'envoy/authz/allow',
    });
  });

  it('literal wins over a parameter at the same position', () => {
    expect(match('GET', '/v2/models/stats')?.name).toBe('stats-all');
    expect(match('GET', '/v2/models/fraud')).toMatchObject({ name: 'metadata', model: 'fraud' });
  });

  it('prefix/suffix parameters read the middle of a segment, longest literal first, before a whole-segment parameter', () => {
    expect(match('POST', '/v1/models/fraud:predict')).toMatchObject({ name: 'predict', model: 'fraud' });
    expect(match('POST', '/v1/models/fraud:explain')).toMatchObject({ name: 'explain', model: 'fraud' });
    expect(match('GET', '/v1/items/item-42')).toMatchObject({ name: 'prefixed', params: { id: '42' } });
    expect(match('GET', '/v1/items/x42y')).toMatchObject({ name: 'both-sides', params: { id: '42' } });
    expect(match('GET', '/v1/items/42')).toMatchObject({ name: 'item', params: { id: '42' } });
    // The parameter must not be empty: "item-" is an id of its own.
    expect(match('GET', '/v1/items/item-')).toMatchObject({ name: 'item', params: { id: 'item-' } });
    expect(match('POST', '/v1/models/:predict')).toBeNull();
  });

  it('a tail parameter takes one or more remaining segments, after every more specific route', () => {
    expect(match('GET', '/files/a/b/c.txt')).toMatchObject({ name: 'files', params: { path: 'a/b/c.txt' } });
    expect(match('GET', '/files/meta/x')).toMatchObject({ name: 'files-meta', params: { name: 'x' } });
    expect(match('GET', '/files/meta/x/y')).toMatchObject({ name: 'files', params: { path: 'meta/x/y' } });
    expect(match('GET', '/files')).toBeNull();
    expect(match('GET', '/files/')).toBeNull();
  });

  it('a trailing slash matches the same route', () => {
    expect(match('GET', '/v2/models/')?.name).toBe('list');
    expect(match('GET', '/files/a/b/')).toMatchObject({ name: 'files', params: { path: 'a/b' } });
    expect(match('GET', '/')?.name).toBe('root');
  });

  it('methods filter, "*" takes any method, methods are case-sensitive', () => {
    expect(match('GET', '/v2/models/fraud/versions/7/infer')).toBeNull();
    expect(match('post', '/v2/models/fraud/versions/7/infer')).toBeNull();
    expect(match('DELETE', '/anything/x')?.name).toBe('any-method');
    expect(match('GET', '/anything/x')?.name).toBe('any-method');
  });

  it('misses are null', () => {
    expect(match('GET', '/v3/models')).toBeNull();
    expect(match('GET', '/v2/models/a/b')).toBeNull();
    expect(match('GET', '/v2')).toBeNull();
    expect(table.match('OPTIONS', [])).toBeNull(); // "OPTIONS *"
  });

  it('backtracks when the more specific branch has no route for the method', () => {
    const t = build(
      r('cancel', ['POST'], '/jobs/{job}:cancel'),
      r('get', ['GET'], '/jobs/{job}'),
      r('lit', ['DELETE'], '/jobs/a/b'),
      r('param', ['GET'], '/jobs/{x}/b'),
    );
    expect(t.match('POST', segs('/jobs/j1:cancel'))).toMatchObject({ name: 'cancel', params: { job: 'j1' } });
    expect(t.match('GET', segs('/jobs/j1:cancel'))).toMatchObject({ name: 'get', params: { job: 'j1:cancel' } });
    expect(t.match('DELETE', segs('/jobs/a/b'))?.name).toBe('lit');
    expect(t.match('GET', segs('/jobs/a/b'))).toMatchObject({ name: 'param', params: { x: 'a' } });
  });

  it('routes with the same shape but different methods share a position', () => {
    const t = build(r('get', ['GET'], '/jobs/{job}'), r('delete', ['DELETE'], '/jobs/{id}'));
    expect(t.match('GET', segs('/jobs/1'))).toMatchObject({ name: 'get', params: { job: '1' } });
    expect(t.match('DELETE', segs('/jobs/1'))).toMatchObject({ name: 'delete', params: { id: '1' } });
  });

  it('parameters never match the empty segment of "/"', () => {
    const t = build(r('one', ['GET'], '/{x}'), r('rest', ['GET'], '/{p*}'), r('affix', ['POST'], '/{x}:y'));
    expect(t.match('GET', segs('/'))).toBeNull();
    expect(t.match('GET', segs('/a'))?.name).toBe('one');
    expect(t.match('GET', segs('/a/b'))?.name).toBe('rest');
    expect(t.matchNamed('one', 'GET', segs('/'))).toBeNull();
    expect(t.matchNamed('rest', 'GET', segs('/'))).toBeNull();
  });

  it('the route entrypoint overrides the default', () => {
    const t = build(r('x', ['GET'], '/x', { entrypoint: 'ml/authz/allow' }));
    expect(t.match('GET', ['x'])?.entrypoint).toBe('ml/authz/allow');
  });

  it('matchNamed checks one route only', () => {
    expect(table.matchNamed('infer', 'POST', segs('/v2/models/m/versions/1/infer'))).toMatchObject({ name: 'infer', model: 'm' });
    expect(table.matchNamed('metadata', 'GET', segs('/v2/models/stats'))).toMatchObject({ name: 'metadata', model: 'stats' });
    expect(table.matchNamed('infer', 'GET', segs('/v2/models/m/versions/1/infer'))).toBeNull();
    expect(table.matchNamed('infer', 'POST', segs('/v2/models/m/infer'))).toBeNull();
    expect(table.matchNamed('predict', 'POST', segs('/v1/models/m:explain'))).toBeNull();
    expect(table.matchNamed('files', 'GET', segs('/files/a/b/'))).toMatchObject({ params: { path: 'a/b' } });
    expect(table.matchNamed('files', 'GET', segs('/files'))).toBeNull();
    expect(table.matchNamed('nope', 'GET', segs('/'))).toBeNull();
  });
});

describe('RouteTable: conflicts are refused, naming both routes', () => {
  it('same shape, same method, different parameter names', () => {
    const msg = buildError(r('a', ['GET'], '/v2/models/{model}'), r('b', ['GET', 'POST'], '/v2/models/{name}'));
    expect(msg).toBe('route "b" (/v2/models/{name}) conflicts with route "a" (/v2/models/{model}): same path shape and method GET');
  });

  it('"*" overlaps every method, in either order', () => {
    expect(buildError(r('a', ['GET'], '/x/{p}'), r('b', ['*'], '/x/{q}'))).toMatch(/route "b" .* conflicts with route "a" .*every method/);
    expect(buildError(r('a', ['*'], '/x/{p}'), r('b', ['PUT'], '/x/{q}'))).toMatch(/route "b" .* conflicts with route "a"/);
  });

  it('same affix, same tail', () => {
    expect(buildError(r('a', ['POST'], '/m/{x}:predict'), r('b', ['POST'], '/m/{y}:predict'))).toMatch(/"b".*"a"/);
    expect(buildError(r('a', ['GET'], '/f/{x*}'), r('b', ['GET'], '/f/{y*}'))).toMatch(/"b".*"a"/);
  });

  it('duplicate names', () => {
    expect(buildError(r('a', ['GET'], '/x'), r('a', ['POST'], '/y'))).toBe('route "a" is defined twice');
  });

  it('different shapes and disjoint methods are not conflicts', () => {
    expect(() =>
      build(r('a', ['GET'], '/x/{p}'), r('b', ['POST'], '/x/{q}'), r('c', ['GET'], '/x/{p}:y'), r('d', ['GET'], '/x/{p*}'), r('e', ['GET'], '/x/lit')),
    ).not.toThrow();
  });
});

describe('RouteTable: malformed templates are refused, naming the route', () => {
  it.each([
    ['relative', 'v2/models', /must start with "\/"/],
    ['empty segment', '/a//b', /empty segment/],
    ['trailing slash', '/a/', /trailing "\/"/],
    ['dot segment', '/a/../b', /dot segment/],
    ['unbalanced open', '/a/{model', /unbalanced braces/],
    ['unbalanced close', '/a/model}', /unbalanced braces/],
    ['reversed braces', '/a/}x{', /unbalanced braces/],
    ['nested braces', '/a/{{model}}', /more than one parameter or unbalanced/],
    ['two parameters in a segment', '/a/{x}-{y}', /more than one parameter/],
    ['empty name', '/a/{}', /empty parameter name/],
    ['empty tail name', '/a/{*}', /empty parameter name/],
    ['bad name', '/a/{Model}', /parameter name "Model"/],
    ['prototype name', '/a/{__proto__}', /parameter name "__proto__"/],
    ['duplicate names', '/a/{x}/b/{x}', /duplicate parameter "\{x\}"/],
    ['parameter after a tail', '/a/{p*}/{x}', /only literal segments may follow a tail parameter/],
    ['two tails', '/a/{p*}/{q*}', /only literal segments may follow a tail parameter/],
    ['tail with affix', '/a/x{p*}', /must be a whole segment/],
    ['bad literal characters', '/a/b;c', /characters a canonical path cannot hold/],
    ['percent in a literal', '/a/%41', /characters a canonical path cannot hold/],
    ['bad affix characters', '/a/{x};v', /characters a canonical path cannot hold/],
  ])('%s', (_what, path, message) => {
    const msg = buildError(r('bad-route', ['GET'], path));
    expect(msg).toMatch(/^route "bad-route": path /);
    expect(msg).toMatch(message);
  });
});
