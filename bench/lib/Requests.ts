// The CheckRequests every contender answers, written once as binary protobuf
// (count-prefixed, ghz -B) so that ghz sends prepared messages round-robin:
// with JSON templates, ghz renders and re-parses every request and becomes
// the bottleneck before the server does. Envoy sends a new x-request-id and
// traceparent with every request, so every message carries its own.
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';

export interface Shape {
  /** Distinct callers: spiffe://cluster.local/ns/team-<i % 10>/sa/svc-<i>, i cycling over this many. */
  readonly identities?: number;
  /** Distinct models in the path, cycling. */
  readonly models?: number;
  /** Zipf-like choice of caller and model instead of cycling (the realistic mix). */
  readonly zipf?: { readonly identities: number; readonly models: number };
  /** Makes every request distinct (a header no policy reads): the miss path. */
  readonly distinct?: boolean;
  /** Headers in total, padded with x-bench-<i> headers up to this many. */
  readonly headers?: number;
  /** JSON body of about this many bytes, the model name inside (KServe v2 inference request). */
  readonly bodyBytes?: number;
  /** Route prefix cycling over this many tenants: /tenant-<i>/v2/models/... (route-growth runs). */
  readonly routePrefixes?: number;
  /** Fixed caller, for the native policy library. */
  readonly principal?: string;
  readonly model?: string;
}

/** Ranks 0..size-1 with P(k) proportional to 1/(k+1)^s, drawn by inverse CDF. */
export function zipfRanks(size: number, count: number, s: number, rand: () => number): number[] {
  const cdf = new Float64Array(size);
  let sum = 0;
  for (let k = 0; k < size; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const u = rand() * sum;
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out.push(lo);
  }
  return out;
}

const hex = (n: number, rand: () => number): string => {
  let out = '';
  for (let i = 0; i < n; i++) out += ((rand() * 16) | 0).toString(16);
  return out;
};

function one(shape: Shape, i: number, caller: string, model: string, runTag: string, rand: () => number): Record<string, unknown> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'bench/1',
    'x-request-id': `${hex(8, rand)}-${hex(4, rand)}-4${hex(3, rand)}-8${hex(3, rand)}-${hex(12, rand)}`,
    traceparent: `00-${hex(32, rand)}-${hex(16, rand)}-01`,
  };
  // The run's tag keeps a measured run from hitting entries its warm-up stored.
  if (shape.distinct) headers['x-client-seq'] = `${runTag}-${i}`;
  for (let h = Object.keys(headers).length; h < (shape.headers ?? 0); h++) headers[`x-bench-${h}`] = `value-${h}-abcdefghijklmnop`;
  const prefix = shape.routePrefixes ? `/tenant-${i % shape.routePrefixes}` : '';
  const http: Record<string, unknown> = {
    method: 'POST',
    path: `${prefix}/v2/models/${model}/infer`,
    host: 'inference.ml-serving.svc.cluster.local',
    scheme: 'http',
    protocol: 'HTTP/2',
    headers,
  };
  if (shape.bodyBytes) {
    http['body'] = inferenceBody(model, shape.bodyBytes);
    headers['content-length'] = String(Buffer.byteLength(http['body'] as string));
  }
  return {
    attributes: {
      source: { address: { socketAddress: { address: '10.8.0.12', portValue: 32768 + ((rand() * 28000) | 0) } }, principal: caller },
      destination: { address: { socketAddress: { address: '10.8.1.7', portValue: 8080 } } },
      request: { http },
    },
  };
}
/** A KServe v2 inference request of about `bytes` bytes: FP32 data padding it out. */
function inferenceBody(model: string, bytes: number): string {
  const head = `{"id":"bench","model_name":"${model}","inputs":[{"name":"x","shape":[1,N],"datatype":"FP32","data":[`;
  const values: string[] = [];
  let size = head.length + 4;
  for (let i = 0; size < bytes; i++) {
    const v = ((i * 7919) % 1000) / 1000 + 0.0001;
    const s = v.toFixed(4);
    values.push(s);
    size += s.length + 1;
  }
  return `${head.replace('N', String(values.length)) + values.join(',')}]}]}`;
}

export function callerFor(i: number): string {
  return `spiffe://cluster.local/ns/team-${i % 10}/sa/svc-${i}`;
}

/**
 * `count` requests of a shape, as proto3 JSON objects; the callers cycle over
 * shape.identities (or follow the Zipf mix), the models over shape.models.
 */
export function requests(shape: Shape, count: number, runTag: string, rand: () => number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const zipf = shape.zipf;
  const who = zipf ? zipfRanks(zipf.identities, count, 1.1, rand) : undefined;
  const what = zipf ? zipfRanks(zipf.models, count, 1.1, rand) : undefined;
  for (let i = 0; i < count; i++) {
    // A fixed permutation, so the most frequent caller is not also the lowest number.
    const id = who ? (who[i]! * 7919) % zipf!.identities : i % (shape.identities ?? 1);
    const caller = shape.principal ?? callerFor(id);
    const model = shape.model ?? `model-${what ? what[i] : i % (shape.models ?? 1)}`;
    out.push(one(shape, i, caller, model, runTag, rand));
  }
  return out;
}

/** ghz's binary data: each message preceded by its length as a varint. */
export function delimited(messages: readonly Record<string, unknown>[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const m of messages) {
    const bytes = encodeCheckRequestJson(m);
    let n = bytes.length;
    const prefix: number[] = [];
    while (n > 0x7f) {
      prefix.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    prefix.push(n);
    parts.push(Uint8Array.from(prefix), bytes);
  }
  return Buffer.concat(parts);
}
