// What is asked, as policies see it in input.route. Filled by the route phase
// (see src/route/) from the canonical path, method and, where a route says so,
// the body.

/** Route parameters: strings, and lists of names (MCP argument names). */
export type RouteParams = Record<string, string | readonly string[]>;

export interface RouteMatch {
  /** The route's name from the table, e.g. "kserve-v2-infer". */
  readonly name: string;
  /** API family, e.g. "kserve-v2", "openai", "model-registry". */
  readonly api: string;
  /** What is done, e.g. "infer", "load_model", "read_features". */
  readonly action: string;
  readonly model: string | null;
  readonly version: string | null;
  /** Every template parameter, plus body-derived ones. */
  readonly params: Readonly<RouteParams>;
  /** The decision path that decides this route. */
  readonly entrypoint: string;
}
