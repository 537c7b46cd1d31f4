// Agent traffic: MCP (Streamable HTTP) and A2A carry JSON-RPC 2.0 in POST
// bodies, so for their routes the action is the JSON-RPC method
// ("tools/call", "message/send") and the parameters say what it acts on: the
// tool, resource or prompt name, the argument names (never their values), the
// task, the id. A batch (a JSON array) becomes one call per element; the
// pipeline decides each and allows the batch only if it allows them all.
//
// The body is the one the input phase parsed (parsed_body): the policy and the
// router see the same values. Anything that is not a well-formed JSON-RPC
// request, notification or response is refused (body_invalid) with the
// reason: an agent route never reaches the policy with a guessed action.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { RouteMatch, RouteParams } from '../types/Route.ts';
import type { BodyInput } from './BodyFields.ts';
import { RouteReason } from './RouteReasons.ts';

export type JsonRpcFamily = 'mcp' | 'a2a';

/** What one JSON-RPC POST asks for. */
export interface JsonRpcCalls {
  /** One match per call, in body order; a single message gives one. */
  readonly calls: readonly RouteMatch[];
  /** Whether the body was a JSON array (a batch), even of one call. */
  readonly batch: boolean;
}

/** Method names and the names policies compare: bounded, printable, compared exactly (no case folding). */
const MAX_NAME = 256;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The action of a JSON-RPC response a client posts back (to a server's sampling or elicitation request). */
export const RESPONSE_ACTION = 'response';

/**
 * The calls of a JSON-RPC POST on an MCP or A2A route. `headers` are the
 * request's (lower-case names): MCP's session and protocol version become
 * params. Throws CheckError body_missing, body_truncated or body_invalid.
 */
export function readJsonRpc(
  match: RouteMatch,
  family: JsonRpcFamily,
  body: BodyInput,
  headers: Readonly<Record<string, string>>,
  maxBatch: number,
): JsonRpcCalls {
  const route = match.name;
  if (body.parsed === undefined) throw new CheckError(RouteReason.bodyMissing, `route "${route}" reads the JSON-RPC body, but request.parse_body is off`);
  if (body.truncated)
    throw new CheckError(
      Reason.bodyTruncated,
      `route "${route}" reads the JSON-RPC body, which Envoy sent only in part (raise with_request_body.max_request_bytes)`,
    );
  if (body.text === '' && body.raw.length === 0) {
    throw new CheckError(
      RouteReason.bodyMissing,
      `route "${route}" reads the JSON-RPC body, but Envoy sent no body (set with_request_body on the ext_authz filter)`,
    );
  }
  if (!(body.contentType ?? '').toLowerCase().includes('application/json')) {
    invalid(route, `its content-type is ${JSON.stringify(body.contentType ?? '')}, not application/json`);
  }
  const shared: RouteParams = { ...match.params };
  if (family === 'mcp') {
    header(headers, 'mcp-session-id', 'session', shared, route);
    header(headers, 'mcp-protocol-version', 'protocol_version', shared, route);
  }
  const parsed = body.parsed;
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) invalid(route, 'the body is an empty JSON-RPC batch');
    if (parsed.length > maxBatch) invalid(route, `the JSON-RPC batch has ${parsed.length} calls, more than routes.jsonrpc_max_batch (${maxBatch})`);
    return { calls: parsed.map((m, i) => call(match, family, m, shared, `${route}, batch element ${i}`)), batch: true };
  }
  return { calls: [call(match, family, parsed, shared, route)], batch: false };
}

function call(match: RouteMatch, family: JsonRpcFamily, message: JsonValue, shared: Readonly<RouteParams>, where: string): RouteMatch {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) invalid(where, 'a JSON-RPC message must be a JSON object');
  if (message['jsonrpc'] !== '2.0') invalid(where, 'a JSON-RPC message must have "jsonrpc": "2.0"');
  const params: RouteParams = { ...shared };
  if (Object.hasOwn(message, 'id')) params['id'] = idText(message['id'], where);
  if (!Object.hasOwn(message, 'method')) {
    // A response to a request the server sent (MCP sampling, elicitation): it must say which request it answers.
    const isResponse = Object.hasOwn(message, 'result') !== Object.hasOwn(message, 'error');
    if (!isResponse || params['id'] === undefined)
      invalid(where, 'a JSON-RPC message without "method" must be a response (an "id" and one of "result" or "error")');
    return { ...match, action: RESPONSE_ACTION, params };
  }
  const method = name(message['method'], '"method"', where);
  const args = message['params'];
  if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
    invalid(where, `"params" of ${method} must be a JSON object`);
  }
  if (args !== undefined) (family === 'mcp' ? mcpParams : a2aParams)(method, args, params, where);
  return { ...match, action: method, params };
}

/** tools/call names a tool, resources/* a URI, prompts/get a prompt; arguments by name only. */
function mcpParams(method: string, args: JsonObject, params: RouteParams, where: string): void {
  if (method === 'tools/call') {
    params['tool'] = name(args['name'], 'the tool name (params.name)', where);
    argumentNames(args['arguments'], params, where);
  } else if (method === 'prompts/get') {
    params['prompt'] = name(args['name'], 'the prompt name (params.name)', where);
    argumentNames(args['arguments'], params, where);
  } else if (method === 'resources/read' || method === 'resources/subscribe' || method === 'resources/unsubscribe') {
    params['uri'] = text(args['uri'], 'params.uri', where);
  }
}

/** A2A names the task (tasks/*: params.id; messages: params.message.taskId) and the conversation (contextId). */
function a2aParams(method: string, args: JsonObject, params: RouteParams, where: string): void {
  if (method.startsWith('tasks/')) {
    const id = args['id'] ?? args['taskId'];
    if (id !== undefined) params['task'] = name(id, 'the task id (params.id)', where);
    return;
  }
  const message = args['message'];
  if (message === undefined) return;
  if (message === null || typeof message !== 'object' || Array.isArray(message)) invalid(where, '"params.message" must be a JSON object');
  if (message['taskId'] !== undefined) params['task'] = name(message['taskId'], 'params.message.taskId', where);
  if (message['contextId'] !== undefined) params['context'] = name(message['contextId'], 'params.message.contextId', where);
}

function argumentNames(args: JsonValue | undefined, params: RouteParams, where: string): void {
  if (args === undefined || args === null) {
    params['arguments'] = [];
    return;
  }
  if (typeof args !== 'object' || Array.isArray(args)) invalid(where, '"params.arguments" must be a JSON object');
  // Sorted: the same arguments in another order are the same call to a policy (and to the decision cache).
  params['arguments'] = Object.keys(args).sort();
}

/** JSON-RPC ids are strings or numbers; MCP forbids null, and nothing else is an id. As text in params (policies compare strings). */
function idText(id: JsonValue | undefined, where: string): string {
  if (typeof id === 'string') return bounded(id, 'the JSON-RPC id', where);
  // MCP: "string or integer"; past 2^53 two ids could read as one.
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id)) invalid(where, `a numeric JSON-RPC id must be an integer within ±2^53, not ${id}`);
    return String(id);
  }
  return invalid(
    where,
    `a JSON-RPC id must be a string or an integer, not ${id === null ? 'null' : Array.isArray(id) ? 'an array' : typeof id === 'object' ? 'an object' : typeof id}`,
  );
}

function name(v: JsonValue | undefined, what: string, where: string): string {
  if (typeof v !== 'string' || v === '') invalid(where, `${what} must be a non-empty string`);
  return bounded(v, what, where);
}

function text(v: JsonValue | undefined, what: string, where: string): string {
  if (typeof v !== 'string' || v === '') invalid(where, `${what} must be a non-empty string`);
  if (v.length > 8192) invalid(where, `${what} is longer than 8192 characters`);
  return v;
}

function bounded(v: string, what: string, where: string): string {
  if (v.length > MAX_NAME) invalid(where, `${what} is longer than ${MAX_NAME} characters`);
  if (CONTROL.test(v)) invalid(where, `${what} contains a control character`);
  return v;
}

function header(headers: Readonly<Record<string, string>>, h: string, param: string, params: RouteParams, where: string): void {
  const v = headers[h];
  if (v !== undefined) params[param] = bounded(v, `the ${h} header`, where);
}

function invalid(where: string, why: string): never {
  throw new CheckError(Reason.bodyInvalid, `route "${where}": ${why}`);
}
