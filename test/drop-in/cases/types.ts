// The shape of a differential case: a policy (Rego with `package PKG`, and its
// data as data.PKG) and the CheckRequests sent to both servers.

/** Server settings a group of cases runs under; each has its opa-envoy-plugin and its ztauthz. */
export interface ServerConfig {
  /** opa-envoy-plugin's dry-run; ztauthz's decision.dry_run. */
  readonly dryRun?: boolean;
  /** opa-envoy-plugin's skip-request-body-parse; ztauthz's request.parse_body inverted. */
  readonly skipBodyParse?: boolean;
  /**
   * opa-envoy-plugin's proto-descriptor (a FileDescriptorSet), with which it
   * parses gRPC request bodies into parsed_body; ztauthz has no equivalent.
   */
  readonly protoDescriptor?: Uint8Array;
}

export interface DropInRequest {
  /** Unique within its case; the pair is `<case id>/<request name>`. */
  readonly name: string;
  /** A CheckRequest in proto-loader object form (see req() in request.ts). */
  readonly request: object;
}

export interface DropInCase {
  /** A Rego identifier; the package is cases.<id>. */
  readonly id: string;
  /** What the case covers, for the report. */
  readonly about: string;
  /** Rego v1 text starting with `package PKG`; `PKG` anywhere is replaced by the package. */
  readonly rego: string;
  /** The case's data document, at data.PKG. */
  readonly data?: unknown;
  /** The rule of the package that is the decision; default `allow`. */
  readonly decision?: string;
  /** The server group: cases with other settings, or that must load alone, run in their own. Default "main". */
  readonly group?: string;
  readonly config?: ServerConfig;
  readonly requests: readonly DropInRequest[];
}
