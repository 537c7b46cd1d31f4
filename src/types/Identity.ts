// Who is calling, as policies see it in input.identity. Filled by the
// identify phase from verified material only (see src/identity/).

/** Which verified source named the workload. */
export type IdentitySource = 'certificate' | 'principal' | 'xfcc';

/** A parsed, valid SPIFFE ID. */
export interface SpiffeIdParts {
  readonly spiffe_id: string;
  readonly trust_domain: string;
  /** The path, "" for a trust domain's own ID. */
  readonly path: string;
  /** Kubernetes-form IDs (/ns/N/sa/S) only; null otherwise. */
  readonly namespace: string | null;
  readonly service_account: string | null;
}

/** The end user, from a verified JWT. */
export interface UserIdentity {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string[];
  /** Every verified claim of the token. */
  readonly claims: Record<string, unknown>;
  /** The token is a JWT-SVID: `sub` is a SPIFFE ID. */
  readonly spiffe?: SpiffeIdParts | undefined;
}

/**
 * input.identity. null as a whole when nothing was verified at all; otherwise
 * the workload fields are null when no workload ID was verified, `peer` is
 * null unless the authz connection itself is mTLS, `user` null without a
 * valid token.
 */
export interface Identity {
  readonly spiffe_id: string | null;
  readonly trust_domain: string | null;
  readonly path: string | null;
  readonly namespace: string | null;
  readonly service_account: string | null;
  readonly source: IdentitySource | null;
  /** The caller of ztauthz itself (the Envoy/sidecar), from the mTLS listener. */
  readonly peer: SpiffeIdParts | null;
  readonly user: UserIdentity | null;
}
