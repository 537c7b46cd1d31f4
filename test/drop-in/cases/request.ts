// Builds the CheckRequests of the cases, as Envoy's ext_authz filter sends them
// (proto-loader object form, lowerCamelCase). Envoy's stream id
// (attributes.request.http.id) is not set here: the suite puts the case id
// there to select the case (see ../harness.ts).

export interface HttpSpec {
  method?: string;
  path?: string;
  host?: string;
  scheme?: string;
  protocol?: string;
  /** Added to the pseudo-headers Envoy sends (:method, :path, :authority, :scheme). */
  headers?: Record<string, string>;
  /** Replaces every header, pseudo-headers included; null: no headers at all. */
  rawHeaders?: Record<string, string> | null;
  /** Envoy's encode_raw_headers form: repeated names kept apart. */
  headerMap?: Array<[string, string | Buffer]>;
  body?: string;
  rawBody?: Buffer;
  size?: number;
  query?: string;
  fragment?: string;
}

export interface AttributesSpec {
  sourceAddress?: string;
  sourcePort?: number;
  sourcePrincipal?: string;
  sourceCertificate?: string;
  sourceLabels?: Record<string, string>;
  destinationAddress?: string;
  destinationPort?: number;
  destinationPrincipal?: string;
  contextExtensions?: Record<string, string>;
  /** filterMetadata in google.protobuf.Struct object form (use struct() below). */
  metadataContext?: object;
  /** Seconds since the epoch (nanos 0), or null for no request.time. */
  time?: number | { seconds: number; nanos: number } | null;
  /** Leave attributes.request.http out entirely. */
  noHttp?: boolean;
}

/** A JSON value as a google.protobuf.Value in proto-loader object form. */
export function value(v: unknown): object {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
  return { structValue: struct(v as Record<string, unknown>) };
}

export function struct(o: Record<string, unknown>): object {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, value(v)])) };
}

/** metadataContext with filterMetadata {filter: Struct}. */
export function metadata(filters: Record<string, Record<string, unknown>>): object {
  return { filterMetadata: Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, struct(v)])) };
}

export function req(h: HttpSpec = {}, a: AttributesSpec = {}): object {
  const method = h.method ?? 'GET';
  const path = h.path ?? '/';
  const host = h.host ?? 'svc.example.com';
  const http: Record<string, unknown> = {
    method,
    path,
    host,
    scheme: h.scheme ?? 'http',
    protocol: h.protocol ?? 'HTTP/1.1',
  };
  const headers =
    h.rawHeaders === undefined ? { ':method': method, ':path': path, ':authority': host, ':scheme': h.scheme ?? 'http', ...h.headers } : h.rawHeaders;
  if (headers !== null) http['headers'] = headers;
  if (h.headerMap) http['headerMap'] = { headers: h.headerMap.map(([key, v]) => ({ key, rawValue: Buffer.isBuffer(v) ? v : Buffer.from(v) })) };
  if (h.body !== undefined) http['body'] = h.body;
  if (h.rawBody !== undefined) http['rawBody'] = h.rawBody;
  if (h.size !== undefined) http['size'] = h.size;
  else if (h.body !== undefined) http['size'] = Buffer.byteLength(h.body);
  if (h.query !== undefined) http['query'] = h.query;
  if (h.fragment !== undefined) http['fragment'] = h.fragment;

  const source: Record<string, unknown> = {
    address: { socketAddress: { address: a.sourceAddress ?? '10.1.2.3', portValue: a.sourcePort ?? 43210 } },
  };
  if (a.sourcePrincipal !== undefined) source['principal'] = a.sourcePrincipal;
  if (a.sourceCertificate !== undefined) source['certificate'] = a.sourceCertificate;
  if (a.sourceLabels !== undefined) source['labels'] = a.sourceLabels;
  const destination: Record<string, unknown> = {
    address: { socketAddress: { address: a.destinationAddress ?? '10.9.8.7', portValue: a.destinationPort ?? 8080 } },
  };
  if (a.destinationPrincipal !== undefined) destination['principal'] = a.destinationPrincipal;

  const request: Record<string, unknown> = {};
  const time = a.time === undefined ? { seconds: 1767225600, nanos: 0 } : typeof a.time === 'number' ? { seconds: a.time, nanos: 0 } : a.time;
  if (time !== null) request['time'] = time;
  if (!a.noHttp) request['http'] = http;
  const attributes: Record<string, unknown> = { source, destination, request };
  if (a.contextExtensions) attributes['contextExtensions'] = a.contextExtensions;
  if (a.metadataContext) attributes['metadataContext'] = a.metadataContext;
  return { attributes };
}

/** Shorthands for the common request shapes. */
export const get = (path: string, headers: Record<string, string> = {}, a: AttributesSpec = {}) => req({ method: 'GET', path, headers }, a);
export const post = (path: string, body: string, contentType: string, headers: Record<string, string> = {}, a: AttributesSpec = {}) =>
  req({ method: 'POST', path, body, headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), ...headers } }, a);

/** An unsigned-looking JWT (header.payload.signature), for decode-only policies. */
export function jwtOf(header: object, claims: object, signature = 'c2ln'): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b(header)}.${b(claims)}.${signature}`;
}
