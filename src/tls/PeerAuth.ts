// Who is calling ztauthz itself, and may they ask at all. The identity comes only
// from a client certificate that the TLS handshake verified against the CA
// bundle (grpc-js reports no certificate for an unverified connection). Node
// does not look at URI SANs, so the SPIFFE ID is taken from the leaf here and
// parsed by the injected parseId (the project's SPIFFE ID parser).
//
// Refusals use two codes, following gRPC's status-code contract:
//   UNAUTHENTICATED   - no verified client certificate, or it carries no valid
//                       SPIFFE ID: we cannot tell who the caller is.
//   PERMISSION_DENIED - the caller is identified (verified SPIFFE ID) but is
//                       not on the allowlist.
// Envoy's ext_authz filter treats both as a failed check (it denies unless
// failure_mode_allow), and operators can tell "broken mTLS setup" apart from
// "a workload that should not call the authorizer" in Envoy's stats and logs.
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** What parseId returns for a valid SPIFFE ID; it may carry more fields. */
export interface ParsedSpiffeId {
  readonly spiffe_id: string;
  readonly trust_domain: string;
}

export type ParseSpiffeId<P extends ParsedSpiffeId> = (uri: string) => P | null;

/** A refusal: gRPC's UNAUTHENTICATED (16) or PERMISSION_DENIED (7), and why. */
export interface Refusal {
  readonly code: 7 | 16;
  readonly details: string;
}

/** grpc-js's AuthContext (1.14 does not export the type from its index). */
export interface PeerAuthContext {
  transportSecurityType?: string;
  sslPeerCertificate?: PeerCertificate;
}

/** Anything grpc-js hands a handler or interceptor: calls and intercepting calls. */
export interface HasAuthContext {
  getAuthContext(): PeerAuthContext;
}

export interface PeerAuthOptions<P extends ParsedSpiffeId> {
  /**
   * SPIFFE IDs allowed to call, exactly (`spiffe://td/ns/mesh/sa/envoy`), and
   * trust domains, whole (`spiffe://td`). Must not be empty.
   */
  allowed: readonly string[];
  parseId: ParseSpiffeId<P>;
}

/** Peer identities by certificate fingerprint: a connection's calls all present the same certificate. */
const CACHE_SIZE = 512;

export class PeerAuth<P extends ParsedSpiffeId = ParsedSpiffeId> {
  private readonly ids = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly parseId: ParseSpiffeId<P>;
  private readonly cache = new Map<string, P | null>();

  constructor(options: PeerAuthOptions<P>) {
    this.parseId = options.parseId;
    if (options.allowed.length === 0) throw new Error('peer allowlist is empty: no caller could ever be served');
    for (const entry of options.allowed) {
      const id = options.parseId(entry);
      if (!id) throw new Error(`peer allowlist: ${JSON.stringify(entry)} is not a SPIFFE ID or trust domain (spiffe://td)`);
      if (id.spiffe_id === `spiffe://${id.trust_domain}`) this.domains.add(id.trust_domain);
      else this.ids.add(id.spiffe_id);
    }
  }

  /**
   * The caller's SPIFFE ID from its verified client certificate, or null: no
   * TLS, no verified certificate, a CA certificate, not exactly one URI SAN, or
   * a URI SAN parseId refuses (including a trust domain's own ID, which never
   * names a workload).
   */
  peerIdentity(call: HasAuthContext): P | null {
    let ctx: ReturnType<HasAuthContext['getAuthContext']>;
    try {
      ctx = call.getAuthContext();
    } catch {
      // grpc-js throws here when the TLS socket closed before the call was
      // handled (the peer certificate is gone): no verified caller, refused.
      return null;
    }
    const cert = ctx.sslPeerCertificate;
    if (ctx.transportSecurityType !== 'ssl' || !cert?.raw) return null;
    const key = cert.fingerprint256;
    if (this.cache.has(key)) return this.cache.get(key)!;
    const identity = this.identify(cert.raw);
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, identity);
    return identity;
  }

  isAllowed(peer: ParsedSpiffeId | null): boolean {
    if (!peer) return false;
    return this.ids.has(peer.spiffe_id) || this.domains.has(peer.trust_domain);
  }

  /** The peer when allowed, otherwise the gRPC error to answer with. */
  authorize(call: HasAuthContext): { peer: P; error?: undefined } | { peer: P | null; error: Refusal } {
    const peer = this.peerIdentity(call);
    if (!peer) {
      return {
        peer: null,
        error: { code: 16, details: 'ztauthz: caller has no verified client certificate with a SPIFFE ID' },
      };
    }
    if (!this.isAllowed(peer)) {
      return { peer, error: { code: 7, details: `ztauthz: caller ${peer.spiffe_id} is not allowed to call this service` } };
    }
    return { peer };
  }

  private identify(der: Buffer): P | null {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return null;
    }
    // An X509-SVID leaf is never a CA; a CA certificate must not authenticate a workload.
    if (cert.ca) return null;
    const uris = uriSans(cert.subjectAltName);
    if (uris?.length !== 1) return null;
    const id = this.parseId(uris[0]!);
    if (!id || id.spiffe_id === `spiffe://${id.trust_domain}`) return null;
    return id;
  }
}

/**
 * The URI entries of Node's subjectAltName text ("DNS:a, URI:spiffe://td/x").
 * Node quotes a value as a JSON string when it holds a separator or quote, so a
 * hostile SAN cannot split into two entries. Returns null if the text does not
 * follow that grammar.
 */
export function uriSans(altNames: string | undefined): string[] | null {
  if (!altNames) return [];
  const out: string[] = [];
  let at = 0;
  while (at < altNames.length) {
    const colon = altNames.indexOf(':', at);
    if (colon < 0) return null;
    const kind = altNames.slice(at, colon);
    let value: string;
    let end: number;
    if (altNames[colon + 1] === '"') {
      end = colon + 2;
      while (end < altNames.length && altNames[end] !== '"') end += altNames[end] === '\\' ? 2 : 1;
      if (end >= altNames.length) return null;
      end += 1;
      try {
        value = JSON.parse(altNames.slice(colon + 1, end)) as string;
      } catch {
        return null;
      }
    } else {
      const sep = altNames.indexOf(', ', colon + 1);
      end = sep < 0 ? altNames.length : sep;
      value = altNames.slice(colon + 1, end);
    }
    if (kind === 'URI') out.push(value);
    if (end === altNames.length) break;
    if (altNames.slice(end, end + 2) !== ', ') return null;
    at = end + 2;
  }
  return out;
}
