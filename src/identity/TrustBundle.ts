// X.509 trust bundles, one per trust domain, and chain verification against
// them. The bundle is chosen by the trust domain in the leaf's SPIFFE ID, so a
// CA of one domain can never vouch for an ID of another: that is the SPIFFE
// rule that plain TLS verification against a merged CA pool lacks.
import { isTrustDomain } from './SpiffeId.ts';
import { isSignedBy, isSigningCertificate, parseCertificates, type ParsedCertificate } from './Certificate.ts';

const MAX_BUNDLE_CERTIFICATES = 64;
const MAX_BUNDLE_BYTES = 1024 * 1024;
// Leaf + intermediates: more than this is not a workload chain.
const MAX_CHAIN_DEPTH = 8;

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

export type ChainResult =
  | { readonly ok: true; readonly notBefore: number; readonly notAfter: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Walks leaf -> intermediates -> an anchor of `anchors`, each link checked for
 * issuer name and signature, each issuer for CA=true and keyCertSign. The
 * result's window is the intersection of every certificate's validity, so
 * the caller checks time once for the whole chain.
 */
export function verifyChain(
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  anchors: readonly ParsedCertificate[],
): ChainResult {
  let current = leaf;
  let notBefore = leaf.notBefore;
  let notAfter = leaf.notAfter;
  const unused = [...intermediates];
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const anchor = anchors.find((a) => isSignedBy(current, a));
    if (anchor !== undefined) {
      return { ok: true, notBefore: Math.max(notBefore, anchor.notBefore), notAfter: Math.min(notAfter, anchor.notAfter) };
    }
    const i = unused.findIndex((c) => isSignedBy(current, c));
    if (i < 0) return { ok: false, reason: 'not signed by the trust bundle of its trust domain' };
    const next = unused[i] as ParsedCertificate;
    if (!isSigningCertificate(next)) return { ok: false, reason: 'chain holds an issuer that is not a CA' };
    unused.splice(i, 1);
    notBefore = Math.max(notBefore, next.notBefore);
    notAfter = Math.min(notAfter, next.notAfter);
    current = next;
  }
  return { ok: false, reason: 'chain too long' };
}
