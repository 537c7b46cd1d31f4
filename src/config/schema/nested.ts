// The objects inside list-valued keys (jwt.issuers, routes.table,
// cache.routes): their shape is checked here, with the path of the bad field
// in the message (jwt.issuers[0].audiences: required). Checks that need more
// than one object, the route catalogue or a file (a path template's
// parameters, a route named twice, a JWKS that parses) stay with the code that
// uses them: route/RouteConfig.ts, identity/UserToken.ts, server/Pipeline.ts.
import { z } from 'zod';
import { ENTRYPOINT, GRPC_BODY_FIELDS, LABEL, METHOD, PARAM_NAME, ROUTE_NAME } from '../../route/RouteSpec.ts';

const matching = (re: RegExp, what: string) => z.string().regex(re, { error: `must be ${what} (${re.source})` });

/** One entry of jwt.issuers (identity/UserToken.ts's IssuerOptions). */
export const ISSUER = z
  .strictObject({
    issuer: z.string(),
    audiences: z.array(z.string().min(1)).min(1, { error: 'must name at least one audience' }),
    jwks_file: z.string().min(1).optional(),
    jwks_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    algorithms: z.array(z.string()).min(1).optional(),
    clock_tolerance_s: z.number().min(0).max(300).optional(),
    header: matching(/^[A-Za-z0-9-]{1,64}$/, 'a header name').optional(),
    spiffe_trust_domain: z.string().optional(),
  })
  .refine((i) => (i.jwks_file === undefined) !== (i.jwks_url === undefined), { error: 'set exactly one of jwks_file and jwks_url' });

/** Where a route reads a value: exactly one of a JSON body field, a gRPC body field or a query parameter. */
const FIELD_SOURCE = z
  .strictObject({
    json_body: matching(/^[^.]{1,128}(\.[^.]{1,128}){0,7}$/, 'a field path like "model" or "request.model"').optional(),
    grpc_body: z.enum(Object.keys(GRPC_BODY_FIELDS) as [keyof typeof GRPC_BODY_FIELDS]).optional(),
    query: z.string().min(1).max(128).optional(),
  })
  .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, { error: 'must have exactly one of json_body, grpc_body, query' });

/** One entry of routes.table (route/RouteSpec.ts's RouteSpec); RouteConfig.ts checks the path template against it. */
export const ROUTE = z.strictObject({
  name: matching(ROUTE_NAME, 'a route name'),
  methods: z
    .array(z.string().refine((m) => m === '*' || METHOD.test(m), { error: 'must be an upper-case HTTP method or "*"' }))
    .min(1, { error: 'must be a non-empty list of HTTP methods, or ["*"]' }),
  path: z.string(),
  api: matching(LABEL, 'a label'),
  action: matching(LABEL, 'a label').optional(),
  entrypoint: matching(ENTRYPOINT, 'a decision path like envoy/authz/allow').optional(),
  model_from: FIELD_SOURCE.optional(),
  version_from: FIELD_SOURCE.optional(),
  params_from: z.record(matching(PARAM_NAME, 'a parameter name'), FIELD_SOURCE).optional(),
  jsonrpc: z.enum(['mcp', 'a2a']).optional(),
});

/** One entry of cache.routes. */
export const CACHE_ROUTE = z.strictObject({
  route: z.string(),
  key: z
    .array(matching(/^[A-Za-z0-9_.-]+$/, 'an input field path like identity.spiffe_id'))
    .min(1)
    .optional(),
  ttl_ms: z.int({ error: 'must be a whole number of milliseconds' }).min(0).optional(),
});
