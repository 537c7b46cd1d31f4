// Behaviour signals for continuous monitoring, per calling workload:
//   first_seen_route  this identity calls a route it was never allowed on before,
//   deny_spike        its denials in the current window jump above its own baseline,
//   rate_jump         its requests in the current window jump above its own baseline.
// and, for agents (MCP tools/call):
//   first_seen_tool   this identity calls a tool (of a server) it was never allowed to call before,
//   tool_deny_spike   its denied tool calls in the current window jump above its own baseline.
// Policies see the first three as input.behavior (tool signals are known only
// after the decision, so they are metrics and log events alone); raising any
// is a metric and a decision-log event (the Observer does both).
//
// Cheap and bounded: an LRU of at most `maxIdentities` identities, each with a
// few numbers and at most `maxRoutesPerIdentity` learned routes. Counting is
// per fixed window (`windowSeconds`); the baseline is an exponentially
// weighted mean of the identity's completed windows. The view is one of a few
// shared constant objects, so on steady traffic input.behavior never changes
// and decision-cache keys stay stable.
//
// What eviction costs, by design on the quiet side (false negatives, never
// false alarms): an identity dropped from the LRU (the least recently active,
// once more than maxIdentities are active) starts over when it returns, in
// learning for learningSeconds with all signals held false, and relearns its
// routes from scratch. An identity that uses more than maxRoutesPerIdentity
// distinct routes forgets its earliest-learned one, which is reported as
// first seen if used again (the one case that errs the other way; the route
// catalogue has fewer routes than the default limit). Tools likewise, at most
// maxToolsPerIdentity per identity, keyed by server and tool name.
import { LRUCache } from 'lru-cache';
import { fixedRecordValue } from './UnmaskedLine.ts';

export type SignalName = 'first_seen_route' | 'deny_spike' | 'rate_jump' | 'first_seen_tool' | 'tool_deny_spike';

/** input.behavior. Booleans only, so it takes a handful of values and only changes when a signal does. */
export type BehaviorView = {
  /** The identity has never been allowed on this route (since tracking began). */
  readonly first_seen_route: boolean;
  /** Denials this window exceed deny_spike_factor x the identity's baseline (and deny_spike_min). */
  readonly deny_spike: boolean;
  /** Requests this window exceed rate_jump_factor x the identity's baseline (and rate_jump_min). */
  readonly rate_jump: boolean;
  /** No baseline yet (new, returning after eviction, or no identity): the three signals are held false. */
  readonly learning: boolean;
};

/** A signal being raised: one per episode (a held signal is not raised again), or per first-seen pair until it is allowed. */
export interface SignalEvent {
  readonly signal: SignalName;
  readonly identity: string;
  readonly route: string | null;
  /** first_seen_tool, tool_deny_spike: the MCP server (the path before /mcp; null for a bare /mcp) and the tool. */
  readonly server?: string | null;
  readonly tool?: string;
  /** first_seen_tool: whether that first call was allowed. */
  readonly allowed?: boolean;
  /** deny_spike: denials this window; rate_jump: requests this window; tool_deny_spike: denied tool calls this window. */
  readonly count?: number;
  /** The identity's baseline per window for the same quantity, rounded to 2 decimals. */
  readonly baseline?: number;
}

export interface BehaviorOptions {
  readonly maxIdentities: number;
  readonly maxRoutesPerIdentity: number;
  readonly maxToolsPerIdentity: number;
  readonly windowSeconds: number;
  /** Span of the exponentially weighted baseline, in windows (alpha = 2 / (n + 1)). */
  readonly baselineWindows: number;
  readonly learningSeconds: number;
  readonly rateJumpFactor: number;
  readonly rateJumpMin: number;
  readonly denySpikeFactor: number;
  readonly denySpikeMin: number;
}

export const BEHAVIOR_DEFAULTS: BehaviorOptions = Object.freeze({
  maxIdentities: 10_000,
  maxRoutesPerIdentity: 64,
  maxToolsPerIdentity: 64,
  windowSeconds: 60,
  baselineWindows: 10,
  learningSeconds: 300,
  rateJumpFactor: 3,
  rateJumpMin: 30,
  denySpikeFactor: 3,
  denySpikeMin: 10,
});

const view = (first_seen_route: boolean, deny_spike: boolean, rate_jump: boolean, learning: boolean): BehaviorView =>
  fixedRecordValue(Object.freeze({ first_seen_route, deny_spike, rate_jump, learning }));
/** Every possible view, indexed by bits (first_seen 1, deny_spike 2, rate_jump 4). */
const VIEWS: readonly BehaviorView[] = Array.from({ length: 8 }, (_, i) => view(!!(i & 1), !!(i & 2), !!(i & 4), false));
export const LEARNING_VIEW: BehaviorView = view(false, false, false, true);
export const QUIET_VIEW = VIEWS[0] as BehaviorView;
const NO_EVENTS: readonly SignalEvent[] = Object.freeze([]);

/** One MCP tools/call of a Check and whether it was allowed. */
export interface ToolUse {
  /** The path before /mcp (route param `server`); null for a bare /mcp. */
  readonly server: string | null;
  readonly tool: string;
  readonly allowed: boolean;
}
const NO_TOOLS: readonly ToolUse[] = Object.freeze([]);

class IdentityState {
  readonly since: number;
  readonly firstWindow: number;
  window: number;
  count = 0;
  denies = 0;
  rateBase = 0;
  denyBase = 0;
  /** Completed full windows fed into the baselines. */
  full = 0;
  rateUntil = 0;
  denyUntil = 0;
  toolDenies = 0;
  toolDenyBase = 0;
  toolDenyUntil = 0;
  readonly routes = new Set<string>();
  /** Tools allowed so far (server NUL tool), created on the first tool call: most identities are not agents. */
  tools: Set<string> | undefined;
  toolsReported: Set<string> | undefined;
  /** First-seen routes already reported and not yet learned, so a retried pair is one event. */
  reported: Set<string> | undefined;
  pending: SignalEvent[] | undefined;

  constructor(now: number, window: number) {
    this.since = now;
    this.firstWindow = window;
    this.window = window;
  }
}

export class BehaviorSignals {
  readonly #o: BehaviorOptions;
  readonly #windowMs: number;
  readonly #alpha: number;
  readonly #states: LRUCache<string, IdentityState>;

  constructor(opts: Partial<BehaviorOptions> = {}) {
    this.#o = { ...BEHAVIOR_DEFAULTS, ...opts };
    for (const [key, value] of Object.entries(this.#o)) {
      const ok = typeof value === 'number' && Number.isFinite(value) && (value > 0 || (key === 'learningSeconds' && value === 0));
      if (!ok) throw new RangeError(`behaviour option ${key} must be a positive number (got ${value})`);
    }
    this.#windowMs = this.#o.windowSeconds * 1000;
    this.#alpha = 2 / (this.#o.baselineWindows + 1);
    this.#states = new LRUCache({ max: this.#o.maxIdentities });
  }

  /** Identities tracked now (at most maxIdentities). */
  get size(): number {
    return this.#states.size;
  }

  /** Counts one request of `identity` on `route` (a route name, null: none matched) and returns its view. */
  observe(identity: string | null, route: string | null, now: number): BehaviorView {
    if (identity === null) return LEARNING_VIEW;
    const w = Math.floor(now / this.#windowMs);
    let s = this.#states.get(identity);
    if (!s) this.#states.set(identity, (s = new IdentityState(now, w)));
    this.#roll(s, w);
    s.count++;
    const learning = this.#learning(s, now);
    if (learning) return LEARNING_VIEW;
    const o = this.#o;
    if (s.count >= o.rateJumpMin && s.count > o.rateJumpFactor * s.rateBase) {
      if (now >= s.rateUntil) this.#raise(s, { signal: 'rate_jump', identity, route, count: s.count, baseline: round2(s.rateBase) });
      s.rateUntil = Math.max(s.rateUntil, (w + 2) * this.#windowMs);
    }
    const firstSeen = route !== null && !s.routes.has(route);
    if (firstSeen && !(s.reported ??= new Set()).has(route) && s.reported.size < o.maxRoutesPerIdentity) {
      s.reported.add(route);
      this.#raise(s, { signal: 'first_seen_route', identity, route });
    }
    return VIEWS[(firstSeen ? 1 : 0) | (now < s.denyUntil ? 2 : 0) | (now < s.rateUntil ? 4 : 0)] as BehaviorView;
  }

  /**
   * After the decision: an allowed route is learned, a denial counts towards
   * deny_spike. `tools`: the MCP tool calls the Check decided (a batch may
   * hold several). Returns the signals raised since the identity's last
   * settle (including those observe() raised), each once.
   */
  settle(identity: string | null, route: string | null, allowed: boolean, now: number, tools: readonly ToolUse[] = NO_TOOLS): readonly SignalEvent[] {
    if (identity === null) return NO_EVENTS;
    const s = this.#states.peek(identity);
    if (!s) return NO_EVENTS;
    const w = Math.floor(now / this.#windowMs);
    this.#roll(s, w);
    const o = this.#o;
    if (!allowed) {
      s.denies++;
      if (!this.#learning(s, now) && s.denies >= o.denySpikeMin && s.denies > o.denySpikeFactor * s.denyBase) {
        if (now >= s.denyUntil) this.#raise(s, { signal: 'deny_spike', identity, route, count: s.denies, baseline: round2(s.denyBase) });
        s.denyUntil = Math.max(s.denyUntil, (w + 2) * this.#windowMs);
      }
    } else if (route !== null && !s.routes.has(route)) {
      if (s.routes.size >= o.maxRoutesPerIdentity) s.routes.delete(s.routes.values().next().value as string);
      s.routes.add(route);
      s.reported?.delete(route);
    }
    for (const use of tools) this.#tool(s, identity, route, use, w, now);
    const events = s.pending;
    if (!events) return NO_EVENTS;
    s.pending = undefined;
    return events;
  }

  /** first_seen_tool once per tool until it is allowed; tool_deny_spike once per episode, like deny_spike. */
  #tool(s: IdentityState, identity: string, route: string | null, use: ToolUse, w: number, now: number): void {
    const o = this.#o;
    const key = `${use.server ?? ''}\u0000${use.tool}`;
    const learning = this.#learning(s, now);
    const tools = (s.tools ??= new Set());
    if (!tools.has(key) && !learning && !(s.toolsReported ??= new Set()).has(key) && s.toolsReported.size < o.maxToolsPerIdentity) {
      s.toolsReported.add(key);
      this.#raise(s, { signal: 'first_seen_tool', identity, route, server: use.server, tool: use.tool, allowed: use.allowed });
    }
    if (use.allowed) {
      if (tools.has(key)) return;
      if (tools.size >= o.maxToolsPerIdentity) tools.delete(tools.values().next().value as string);
      tools.add(key);
      s.toolsReported?.delete(key);
      return;
    }
    s.toolDenies++;
    if (!learning && s.toolDenies >= o.denySpikeMin && s.toolDenies > o.denySpikeFactor * s.toolDenyBase) {
      if (now >= s.toolDenyUntil)
        this.#raise(s, {
          signal: 'tool_deny_spike',
          identity,
          route,
          server: use.server,
          tool: use.tool,
          count: s.toolDenies,
          baseline: round2(s.toolDenyBase),
        });
      s.toolDenyUntil = Math.max(s.toolDenyUntil, (w + 2) * this.#windowMs);
    }
  }

  #learning(s: IdentityState, now: number): boolean {
    return s.full < 1 || now - s.since < this.#o.learningSeconds * 1000;
  }

  #raise(s: IdentityState, event: SignalEvent): void {
    // Bounded: a burst of raises between two settles keeps the first few.
    if ((s.pending ??= []).length < 8) s.pending.push(event);
  }

  /** Closes the windows before `w`: the last one feeds the baselines (unless it was the partial first one), empty ones decay them. */
  #roll(s: IdentityState, w: number): void {
    if (w <= s.window) return;
    if (s.window !== s.firstWindow) {
      if (s.full === 0) {
        s.rateBase = s.count;
        s.denyBase = s.denies;
        s.toolDenyBase = s.toolDenies;
      } else {
        s.rateBase += this.#alpha * (s.count - s.rateBase);
        s.denyBase += this.#alpha * (s.denies - s.denyBase);
        s.toolDenyBase += this.#alpha * (s.toolDenies - s.toolDenyBase);
      }
      s.full++;
    }
    const empty = w - s.window - 1;
    if (empty > 0) {
      const decay = s.full === 0 ? 0 : (1 - this.#alpha) ** empty;
      s.rateBase *= decay;
      s.denyBase *= decay;
      s.toolDenyBase *= decay;
      s.full += empty;
    }
    s.window = w;
    s.count = 0;
    s.denies = 0;
    s.toolDenies = 0;
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
