// Builds the policy input document from a CheckRequest: opa-envoy-plugin's
// contract (attributes, version, parsed_path, parsed_query, parsed_body,
// truncated_body, source_principal), so its policies run unchanged.
import type { CheckRequestView } from './CheckRequest.ts';
import type { JsonObject } from '../types/Json.ts';
import { parseBody } from './RequestBody.ts';
import type { JsonBodyLimits } from './JsonBody.ts';
import { CheckError, Reason } from '../types/Reason.ts';
import { parseQueryString } from './QueryString.ts';
import { goParsedPathAndQuery } from './GoUrl.ts';
import type { ProtoDescriptorSet } from './GrpcBody.ts';

export interface InputOptions {
  /** Parse the body into parsed_body/truncated_body (opa-envoy-plugin's skip-request-body-parse, inverted). */
  readonly parseBody: boolean;
  /** "deny": a truncated body is denied before the policy runs; "policy": the policy sees truncated_body. */
  readonly truncatedBody: 'deny' | 'policy';
  /** Bounds and duplicate-key rule for JSON bodies (request.max_body_depth, ...); absent: the configuration defaults. */
  readonly json?: JsonBodyLimits | undefined;
  /** compat: opa-envoy: parsed_path and parsed_query from the raw target as opa-envoy-plugin parses it (GoUrl.ts), not the canonical one; bodies as parseBody's compat says. */
  readonly compat?: boolean | undefined;
  /** Decodes gRPC bodies (request.proto_descriptor); without it they are null. */
  readonly protoDescriptors?: ProtoDescriptorSet | undefined;
}

const VERSION: JsonObject = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' }) as JsonObject;

/** The request target after canonicalisation (src/route/CanonicalPath.ts): decoded segments and the raw query. */
export interface TargetView {
  readonly path: string;
  readonly segments: readonly string[];
  readonly query: string;
}

/**
 * `target` is the canonical form, so parsed_path is what route matching saw:
 * "/people" -> ["people"], "/" -> [""], as opa-envoy-plugin, but "//admin" and
 * "a%2Fb" never get this far (opa-envoy-plugin v1.19.1-envoy gives ["admin",
 * "x"] and ["a", "b"]). With compat, opa-envoy-plugin's own parse (GoUrl.ts).
 */
export function buildPolicyInput(req: CheckRequestView, target: TargetView, opts: InputOptions): JsonObject {
  const go = opts.compat ? goParsedPathAndQuery(req.http.path) : undefined;
  const input: JsonObject = {
    attributes: req.attributes,
    version: VERSION,
    parsed_path: go ? go.segments : (target.segments as string[]),
    parsed_query: go ? go.query : parseQueryString(target.query),
  };
  if (opts.parseBody) {
    const body = parseBody(
      req.http.headers,
      req.http.body,
      req.http.rawBody,
      opts.json,
      { descriptors: opts.protoDescriptors, segments: target.segments },
      opts.compat === true,
    );
    // A body of a type not parsed is reported truncated but not denied: nothing was misread.
    if (body.truncated && opts.truncatedBody === 'deny' && !body.unparsedType) {
      throw new CheckError(
        Reason.bodyTruncated,
        'Envoy sent a partial body (raise with_request_body.max_request_bytes, or set request.truncated_body: policy)',
      );
    }
    input['parsed_body'] = body.parsed;
    input['truncated_body'] = body.truncated;
  }
  const principal = (req.attributes['source'] as JsonObject | undefined)?.['principal'];
  if (typeof principal === 'string' && principal !== '') input['source_principal'] = principal;
  return input;
}
