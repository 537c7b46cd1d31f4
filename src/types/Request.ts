// The decoded request as the phases read it (built by src/envoy/CheckRequest.ts).
import type { JsonObject } from './Json.ts';

/** The parts of a CheckRequest the pipeline works with, already validated against the limits. */
export interface CheckRequestView {
  /** protojson-shaped attributes, as policies see them. */
  readonly attributes: JsonObject;
  /** attributes.request.http, for convenience. */
  readonly http: HttpView;
}

export interface HttpView {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** raw_body as bytes (empty when Envoy sent `body` or nothing). */
  readonly rawBody: Buffer;
}
