// Turns a Decision into a CheckResponse (as a protobufjs-encodable object) and
// back into protojson for humans (`ztauthz check`).
import type { Decision, HeaderPair } from '../types/Decision.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import { CheckResponseType, PROTOJSON_OBJECT } from './ProtoCodec.ts';
import { structToJson } from './CheckRequest.ts';

/** google.rpc.Code values Envoy looks at: OK allows, anything else denies. */
export const GrpcCode = { OK: 0, PERMISSION_DENIED: 7 } as const;

export interface ResponseOptions {
  /** Answer OK whatever the decision (dry run): the real decision goes to the decision record only. */
  readonly dryRun: boolean;
}

/** A CheckResponse in protobufjs' object form (camelCase, enums as numbers). */
export type CheckResponseObject = Record<string, unknown>;

export function toCheckResponse(decision: Decision, decisionId: string, opts: ResponseOptions): CheckResponseObject {
  const metadata: JsonObject = { ...(decision.dynamicMetadata ?? {}), decision_id: decisionId };
  if (decision.allowed || opts.dryRun) {
    // In dry-run a denial's headers/body are not applied: only what an allow
    // would carry, so a dry-run rollout changes nothing for traffic.
    const d = decision.allowed ? decision : undefined;
    return {
      // code 0 (OK) is proto3's default: left unset, as protojson and Envoy's own encoder do.
      status: {},
      okResponse: {
        headers: headerOptions(d?.headers),
        headersToRemove: d?.requestHeadersToRemove ?? [],
        responseHeadersToAdd: headerOptions(d?.responseHeadersToAdd),
        queryParametersToSet: d?.queryParametersToSet.map((p) => ({ key: p.key, value: p.value })) ?? [],
        queryParametersToRemove: d?.queryParametersToRemove ?? [],
      },
      dynamicMetadata: jsonToStruct(metadata),
    };
  }
  return {
    status: { code: GrpcCode.PERMISSION_DENIED, message: decision.reason },
    deniedResponse: {
      status: { code: decision.httpStatus },
      headers: headerOptions(decision.headers),
      body: decision.body,
    },
    dynamicMetadata: jsonToStruct(metadata),
  };
}

export function encodeCheckResponse(resp: CheckResponseObject): Uint8Array {
  return CheckResponseType.encode(resp).finish();
}

/** The response as protojson (lowerCamelCase, Struct as JSON), as grpcurl prints it. */
export function checkResponseToJson(resp: CheckResponseObject): JsonObject {
  const msg = CheckResponseType.decode(encodeCheckResponse(resp));
  const obj = CheckResponseType.toObject(msg, PROTOJSON_OBJECT) as JsonObject;
  if (obj['dynamicMetadata']) obj['dynamicMetadata'] = structToJson(obj['dynamicMetadata']);
  return obj;
}

function headerOptions(headers: readonly HeaderPair[] | undefined): unknown[] {
  if (!headers || headers.length === 0) return [];
  // No append fields: Envoy then overrides an existing header, so a client
  // cannot smuggle its own value next to one the policy sets.
  return headers.map((h) => ({ header: { key: h.key, value: h.value } }));
}

/** Plain JSON -> google.protobuf.Struct object form. */
export function jsonToStruct(obj: JsonObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) fields[k] = jsonToValue(obj[k] as JsonValue);
  return { fields };
}

function jsonToValue(v: JsonValue): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'number':
      return { numberValue: v };
    case 'boolean':
      return { boolValue: v };
  }
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v) };
}
