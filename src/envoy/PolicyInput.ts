// Builds the policy input document from a CheckRequest: opa-envoy-plugin's
// contract (attributes, version, parsed_path, parsed_query, parsed_body,
// truncated_body, source_principal), so its policies run unchanged.
import type { CheckRequestView } from './CheckRequest.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import { parseBody } from './RequestBody.ts';
import { parseQueryString } from './QueryString.ts';
import { CheckError, Reason } from '../types/Reason.ts';

export interface InputOptions {
  /** Parse the body into parsed_body/truncated_body (opa-envoy-plugin's skip-request-body-parse, inverted). */
  readonly parseBody: boolean;
  /** "deny": a truncated body is denied before the policy runs; "policy": the policy sees truncated_body. */
  readonly truncatedBody: 'deny' | 'policy';
}

const VERSION: JsonObject = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' }) as JsonObject;

export function buildPolicyInput(req: CheckRequestView, opts: InputOptions): JsonObject {
  const { path } = req.http;
  const q = path.indexOf('?');
  const pathOnly = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : stripFragment(path.slice(q + 1));

  const input: JsonObject = {
    attributes: req.attributes,
    version: VERSION,
    parsed_path: parsePath(stripFragment(pathOnly)),
    parsed_query: parseQueryString(query),
  };
  if (opts.parseBody) {
    const body = parseBody(req.http.headers, req.http.body, req.http.rawBody);
    if (body.truncated && opts.truncatedBody === 'deny') {
      throw new CheckError(Reason.bodyTruncated, 'Envoy sent a partial body (raise with_request_body.max_request_bytes, or set request.truncated_body: policy)');
    }
    input['parsed_body'] = body.parsed;
    input['truncated_body'] = body.truncated;
  }
  const principal = (req.attributes['source'] as JsonObject | undefined)?.['principal'];
  if (typeof principal === 'string' && principal !== '') input['source_principal'] = principal;
  return input;
}

function stripFragment(s: string): string {
  const h = s.indexOf('#');
  return h < 0 ? s : s.slice(0, h);
}

/**
 * "/people" -> ["people"], "/" -> [""]. Only the one leading "/" of an
 * origin-form path is removed and segments are split before decoding, so
 * "//admin/x" is ["", "admin", "x"] (not opa-envoy-plugin's ["x"], which
 * treated "//admin" as an authority) and "a%2Fb" stays one segment "a/b".
 */
export function parsePath(path: string): JsonValue[] {
  const rest = path.startsWith('/') ? path.slice(1) : path;
  const segments = rest.split('/');
  const out: JsonValue[] = new Array(segments.length);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (!seg.includes('%')) {
      out[i] = seg;
      continue;
    }
    try {
      out[i] = decodeURIComponent(seg);
    } catch {
      throw new CheckError(Reason.requestMalformed, 'path has an invalid percent-encoding');
    }
  }
  return out;
}
