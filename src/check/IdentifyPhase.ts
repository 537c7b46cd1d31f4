// The identify phase: who is calling, from verified material only. The
// workload from Envoy's forwarded certificate / principal / trusted XFCC, the
// caller of ztauthz itself from the mTLS listener, the end user from a
// verified JWT. A present but invalid token is answered 401 here (unless the
// configuration hands it to the policy).
import type { WorkloadIdentifier } from '../identity/WorkloadIdentity.ts';
import type { UserTokenVerifier } from '../identity/UserToken.ts';
import type { Identity, SpiffeIdParts } from '../types/Identity.ts';
import type { JsonObject } from '../types/Json.ts';
import { CheckError, Reason } from '../types/Reason.ts';

export interface Identified {
  /** input.identity: null when nothing at all was verified. */
  readonly identity: Identity | null;
  /** Why a present source gave nothing (for the decision record). */
  readonly notes: readonly string[];
  /** Seconds since the epoch after which this identity must not be relied on (token or certificate expiry). */
  readonly expiresAt: number | undefined;
  /**
   * True when the same request bytes always give this same identity: no
   * token was looked at (its validity depends on the clock and on fetched
   * keys) and no present source was refused (a certificate not yet valid).
   */
  readonly fromBytesAlone: boolean;
}

export class IdentifyPhase {
  readonly #workload: WorkloadIdentifier;
  readonly #tokens: UserTokenVerifier | undefined;

  constructor(workload: WorkloadIdentifier, tokens: UserTokenVerifier | undefined) {
    this.#workload = workload;
    this.#tokens = tokens;
  }

  async identify(attributes: JsonObject, headers: Readonly<Record<string, string>>, peer: SpiffeIdParts | null): Promise<Identified> {
    const notes: string[] = [];
    const workload = this.#workload.identify(attributes, headers as Record<string, string>);
    if (workload.reason) notes.push(workload.reason);
    let expiresAt = workload.expiresAt;

    let user = null;
    let tokenSeen = false;
    if (this.#tokens) {
      const token = await this.#tokens.verify(headers);
      tokenSeen = token.user !== null || token.error !== undefined;
      if (token.error) {
        notes.push(`token: ${token.error.reason}`);
        if (token.deny) {
          const keysDown = token.error.code === Reason.tokenKeysUnavailable;
          throw new CheckError(keysDown ? Reason.tokenKeysUnavailable : Reason.tokenInvalid, token.error.reason, {
            httpStatus: keysDown ? 503 : 401,
            headers: [{ key: 'www-authenticate', value: token.error.wwwAuthenticate }],
          });
        }
      }
      user = token.user;
      if (token.expiresAt !== undefined) expiresAt = expiresAt === undefined ? token.expiresAt : Math.min(expiresAt, token.expiresAt);
    }

    const w = workload.identity;
    const fromBytesAlone = !tokenSeen && notes.length === 0;
    if (!w && !peer && !user) return { identity: null, notes, expiresAt, fromBytesAlone };
    return {
      identity: {
        spiffe_id: w?.spiffe_id ?? null,
        trust_domain: w?.trust_domain ?? null,
        path: w?.path ?? null,
        namespace: w?.namespace ?? null,
        service_account: w?.service_account ?? null,
        source: w?.source ?? null,
        peer,
        user,
      },
      notes,
      expiresAt,
      fromBytesAlone,
    };
  }
}
