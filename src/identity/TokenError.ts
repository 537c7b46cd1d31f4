// The answer to a present but unusable bearer token: an RFC 6750 challenge
// for the client, and a detailed reason for the decision record only. The
// client-facing description is one of a few fixed sentences, so nothing of
// the token (or of why exactly it failed) is echoed back.

export type TokenProblemKind = 'malformed' | 'too_large' | 'expired' | 'not_yet_valid' | 'invalid' | 'unavailable';

export interface TokenError {
  readonly status: 401;
  /** Reason code for the decision: the keys being unobtainable is not the client's fault. */
  readonly code: 'token_invalid' | 'token_keys_unavailable';
  /** The WWW-Authenticate header value. */
  readonly wwwAuthenticate: string;
  /** For the decision record, e.g. "token: expired". */
  readonly reason: string;
}

const DESCRIPTION: Readonly<Record<TokenProblemKind, string>> = {
  malformed: 'The access token is malformed',
  too_large: 'The access token is too large',
  expired: 'The access token expired',
  not_yet_valid: 'The access token is not valid yet',
  invalid: 'The access token is invalid',
  unavailable: 'The access token could not be verified',
};

export const REALM = 'ztauthz';

export function tokenError(kind: TokenProblemKind, reason: string): TokenError {
  return {
    status: 401,
    code: kind === 'unavailable' ? 'token_keys_unavailable' : 'token_invalid',
    wwwAuthenticate: `Bearer realm="${REALM}", error="invalid_token", error_description="${DESCRIPTION[kind]}"`,
    reason,
  };
}
