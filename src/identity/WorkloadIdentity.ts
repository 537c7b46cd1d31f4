// Who the calling workload is, from verified material only. Precedence:
//  1. the forwarded peer certificate (attributes.source.certificate),
//     validated as an X509-SVID; a principal next to it must name the same ID;
//  2. attributes.source.principal, if it is a SPIFFE ID;
//  3. x-forwarded-client-cert, only when configured as written by a
//     sanitising proxy.
// A source that is present but fails decides "no identity": nothing falls
// back to a weaker source once a stronger one has spoken. The one exception
// is a principal that is not a SPIFFE ID at all (Envoy's DNS-SAN/Subject
// fallback): it claims no workload identity, so XFCC may still be consulted.
// Headers such as x-spiffe-id or x-user are never read: a client sets them.
import { LRUCache } from 'lru-cache';
import type { IdentitySource, SpiffeIdParts } from '../types/Identity.ts';
import { parseSpiffeId, SpiffeIdError, trustDomainError } from './SpiffeId.ts';
import { TrustBundles } from './TrustBundle.ts';
import { checkX509Svid, decodeCertificateAttribute, validityError, DEFAULT_CLOCK_TOLERANCE_MS, type SvidResult } from './X509Svid.ts';
import { MAX_PEM_BYTES } from './Pem.ts';
import { xfccCallerId, MAX_XFCC_BYTES } from './Xfcc.ts';

export interface WorkloadIdentityOptions {
  /** Use attributes.source.certificate (needs include_peer_certificate in Envoy). */
  readonly certificate: boolean;
  /** Use attributes.source.principal. */
  readonly principal: boolean;
  /** Trust x-forwarded-client-cert: only when a sanitising proxy writes it. */
  readonly xfcc: boolean;
  /** Accepted trust domains; empty = any. */
  readonly trustDomains: readonly string[];
  /** PEM CA bundles per trust domain; empty = no chain verification of forwarded certificates. */
  readonly trustBundles: ReadonlyMap<string, string>;
  readonly clockToleranceMs?: number;
  readonly maxCertificateBytes?: number;
  readonly maxXfccBytes?: number;
  /** Entries of the certificate validation cache. */
  readonly cacheSize?: number;
  /** Clock (ms since the epoch); tests pin it. */
  readonly now?: () => number;
}

export type WorkloadId = SpiffeIdParts & { readonly source: IdentitySource };

export interface IdentifyResult {
  readonly identity: WorkloadId | null;
  /** Why present material gave no identity, for the decision record ("certificate: two URI SANs"). */
  readonly reason: string | undefined;
  /**
   * For a certificate identity: the end of the chain's validity (seconds
   * since the epoch), which no cached decision may outlive.
   */
  readonly expiresAt?: number;
}

// Lifetime of cache entries that have no notAfter to expire at (failures,
// which are clock-independent since the bundles are fixed per instance).
const FAILURE_TTL_MS = 10 * 60_000;

export class WorkloadIdentifier {
  readonly #opts: WorkloadIdentityOptions;
  readonly #bundles: TrustBundles;
  readonly #domains: ReadonlySet<string>;
  readonly #cache: LRUCache<string, SvidResult>;
  readonly #now: () => number;
  readonly #tolerance: number;
  /** Full certificate validations and cache hits so far (for metrics). */
  readonly stats = { validations: 0, cacheHits: 0 };

  /** Throws on invalid trust domains or bundles (a configuration error). */
  constructor(opts: WorkloadIdentityOptions) {
    for (const td of opts.trustDomains) {
      const err = trustDomainError(td);
      if (err !== undefined) throw new Error(`trust domain "${td}": ${err}`);
    }
    this.#opts = opts;
    this.#bundles = TrustBundles.fromPem(opts.trustBundles);
    this.#domains = new Set(opts.trustDomains);
    this.#now = opts.now ?? Date.now;
    this.#tolerance = opts.clockToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS;
    this.#cache = new LRUCache<string, SvidResult>({
      max: opts.cacheSize ?? 256,
      // The key is the certificate text (at most 3x maxCertificateBytes);
      // bound memory by it, not just by count.
      maxSize: 8 * 1024 * 1024,
      sizeCalculation: (_v, key) => key.length + 1,
    });
  }

  get cachedCertificates(): number {
    return this.#cache.size;
  }

  identify(attributes: Record<string, unknown>, headers: Record<string, string>): IdentifyResult {
    const source = asRecord(attributes['source']);
    const certificate = nonEmptyString(source?.['certificate']);
    const principal = nonEmptyString(source?.['principal']);

    if (this.#opts.certificate && certificate !== undefined) {
      const r = this.#certificate(certificate);
      if (!r.ok) return none(`certificate: ${r.reason}`);
      if (principal !== undefined && principal !== r.svid.id.spiffe_id) {
        return none('certificate and principal name different identities');
      }
      const accepted = this.#accept(r.svid.id, 'certificate');
      return accepted.identity === null ? accepted : { ...accepted, expiresAt: Math.floor(r.svid.notAfter / 1000) };
    }

    let reason: string | undefined;
    if (this.#opts.principal && principal !== undefined) {
      const id = parseSpiffeId(principal);
      if (!(id instanceof SpiffeIdError)) {
        if (id.path === '') return none('principal: a trust domain, not a workload');
        return this.#accept(id, 'principal');
      }
      reason = 'principal: not a SPIFFE ID';
    }

    const xfcc = headers['x-forwarded-client-cert'];
    if (this.#opts.xfcc && xfcc !== undefined) {
      const r = xfccCallerId(xfcc, { maxBytes: this.#opts.maxXfccBytes ?? MAX_XFCC_BYTES });
      if (!r.ok) return none(join(reason, `xfcc: ${r.reason}`));
      return this.#accept(r.id, 'xfcc');
    }
    return none(reason);
  }

  #accept(id: SpiffeIdParts, source: IdentitySource): IdentifyResult {
    if (this.#domains.size > 0 && !this.#domains.has(id.trust_domain)) {
      return none(`${source}: trust domain not accepted`);
    }
    return { identity: { ...id, source }, reason: undefined };
  }

  // The same sidecar certificate arrives on every request: parse it and
  // validate its chain once, then check only the clock.
  #certificate(encoded: string): SvidResult {
    const maxBytes = this.#opts.maxCertificateBytes ?? MAX_PEM_BYTES;
    // Oversized text is refused uncached, so it cannot flush the cache.
    if (encoded.length > 3 * maxBytes) return { ok: false, reason: 'certificate too large' };
    let r = this.#cache.get(encoded);
    if (r === undefined) {
      this.stats.validations++;
      r = this.#validate(encoded, maxBytes);
      // The entry's content is clock-independent (the window is checked below
      // on every use), so its lifetime only frees memory: until notAfter, or
      // briefly for a certificate that has already expired.
      const left = r.ok ? r.svid.notAfter + this.#tolerance - Date.now() : 0;
      this.#cache.set(encoded, r, { ttl: left > 0 ? left : FAILURE_TTL_MS });
    } else {
      this.stats.cacheHits++;
    }
    if (!r.ok) return r;
    const err = validityError(r.svid, this.#now(), this.#tolerance);
    return err === undefined ? r : { ok: false, reason: err };
  }

  #validate(encoded: string, maxBytes: number): SvidResult {
    const d = decodeCertificateAttribute(encoded, maxBytes);
    if (!d.ok) return d;
    return checkX509Svid(d.pem, { bundles: this.#bundles, maxBytes });
  }
}

function none(reason: string | undefined): IdentifyResult {
  return { identity: null, reason };
}

function join(a: string | undefined, b: string): string {
  return a === undefined ? b : `${a}; ${b}`;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
