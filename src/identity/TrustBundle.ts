// X.509 trust bundles, one per trust domain, and chain verification against
// them. The bundle is chosen by the trust domain in the leaf's SPIFFE ID, so a
// CA of one domain can never vouch for an ID of another: that is the SPIFFE
// rule that plain TLS verification against a merged CA pool lacks.
import { isTrustDomain } from './SpiffeId.ts';
import { isSignedBy, isSigningCertificate, parseCertificates, type ParsedCertificate } from './Certificate.ts';
import { validatePath, type ChainResult } from './PathValidation.ts';

export type { ChainResult };

const MAX_BUNDLE_CERTIFICATES = 64;
const MAX_BUNDLE_BYTES = 1024 * 1024;
// Leaf + intermediates: more than this is not a workload chain.
const MAX_CHAIN_DEPTH = 8;
// Complete paths to an anchor validated before giving up.
const MAX_PATHS_TRIED = 16;
// Partial paths looked at: intermediates that all sign each other would
// otherwise make every ordering of them a candidate.
const MAX_SEARCH_STEPS = 256;

export class TrustBundles {
  readonly #anchors: ReadonlyMap<string, readonly ParsedCertificate[]>;

  private constructor(anchors: Map<string, readonly ParsedCertificate[]>) {
    this.#anchors = anchors;
  }

  /**
   * Parses PEM bundles keyed by trust domain. Throws an Error naming the trust
   * domain on anything unusable, so a bad configuration stops the start.
   */
  static fromPem(bundles: ReadonlyMap<string, string>): TrustBundles {
    const anchors = new Map<string, readonly ParsedCertificate[]>();
    for (const [td, pem] of bundles) {
      if (!isTrustDomain(td)) throw new Error(`trust bundle: "${td}" is not a trust domain name`);
      let certs: ParsedCertificate[];
      try {
        certs = parseCertificates(pem, { strict: false, maxCertificates: MAX_BUNDLE_CERTIFICATES, maxBytes: MAX_BUNDLE_BYTES });
      } catch (e) {
        throw new Error(`trust bundle for ${td}: ${(e as Error).message}`);
      }
      if (!certs.every(isSigningCertificate)) throw new Error(`trust bundle for ${td}: holds a certificate that is not a CA`);
      if (certs.some((c) => c.ext.otherCritical.length > 0))
        throw new Error(`trust bundle for ${td}: holds a certificate with an unsupported critical extension`);
      anchors.set(td, certs);
    }
    return new TrustBundles(anchors);
  }

  static empty(): TrustBundles {
    return new TrustBundles(new Map());
  }

  get size(): number {
    return this.#anchors.size;
  }

  anchorsFor(trustDomain: string): readonly ParsedCertificate[] | undefined {
    return this.#anchors.get(trustDomain);
  }
}

/**
 * Builds the paths from `leaf` through `intermediates` (as sent, in any
 * order, each used once) to an anchor of `anchors`, and validates them per
 * RFC 5280 (PathValidation.ts) until one passes. Signatures are checked at
 * most once per pair and the search is bounded, so a hostile set of
 * intermediates that all name each other costs a fixed amount of work. When
 * no path passes, the reason is that of the first path found to an anchor.
 */
export function verifyChain(leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[], anchors: readonly ParsedCertificate[]): ChainResult {
  const verified = new Map<ParsedCertificate, Map<ParsedCertificate, boolean>>();
  const signedBy = (child: ParsedCertificate, parent: ParsedCertificate): boolean => {
    let row = verified.get(child);
    if (row === undefined) verified.set(child, (row = new Map()));
    let ok = row.get(parent);
    if (ok === undefined) row.set(parent, (ok = isSignedBy(child, parent)));
    return ok;
  };
  let firstFailure: ChainResult | undefined;
  let budget = MAX_PATHS_TRIED;
  let steps = MAX_SEARCH_STEPS;
  const below: ParsedCertificate[] = [leaf]; // leaf ... current
  const search = (current: ParsedCertificate): ChainResult | undefined => {
    if (--steps < 0) return firstFailure ?? { ok: false, reason: 'chain search limit reached' };
    for (const anchor of anchors) {
      if (!signedBy(current, anchor)) continue;
      const r = validatePath([anchor, ...below.toReversed()], signedBy);
      if (r.ok) return r;
      firstFailure ??= r;
      if (--budget === 0) return firstFailure;
    }
    if (below.length >= MAX_CHAIN_DEPTH) return undefined;
    for (const next of intermediates) {
      if (below.includes(next) || !signedBy(current, next)) continue;
      below.push(next);
      const r = search(next);
      below.pop();
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return search(leaf) ?? firstFailure ?? { ok: false, reason: 'not signed by the trust bundle of its trust domain' };
}
