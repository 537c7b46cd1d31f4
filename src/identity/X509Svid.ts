// X509-SVID leaf validation per the SPIFFE X509-SVID standard, for the
// caller's certificate that Envoy forwards (attributes.source.certificate).
// Split in two: checkX509Svid does everything that does not depend on the
// clock (and can be cached per certificate text), checkValidity the rest.
import type { SpiffeIdParts } from '../types/Identity.ts';
import { CertificateError, KeyUsageBit, OID, hasKeyUsage, parseChain, type ParsedCertificate } from './Certificate.ts';
import { decodeEnvoyPem, PemError, MAX_PEM_BYTES } from './Pem.ts';
import { parseSpiffeId, SpiffeIdError } from './SpiffeId.ts';
import { verifyChain, type TrustBundles } from './TrustBundle.ts';

export const DEFAULT_CLOCK_TOLERANCE_MS = 30_000;

export interface X509Svid {
  readonly id: SpiffeIdParts;
  /** Validity of the whole verified chain (ms since the epoch). */
  readonly notBefore: number;
  readonly notAfter: number;
}

export type SvidResult = { readonly ok: true; readonly svid: X509Svid } | { readonly ok: false; readonly reason: string };

export interface X509SvidOptions {
  /**
   * Trust bundles per trust domain. Empty or absent: no chain verification
   * (the TLS handshake with Envoy already verified the peer); otherwise the
   * leaf must chain to the bundle of its own trust domain.
   */
  readonly bundles?: TrustBundles | undefined;
  readonly maxBytes?: number;
}

const fail = (reason: string): SvidResult => ({ ok: false, reason });

/** The leaf rules of the standard, on a parsed certificate. undefined = conforming. */
export function leafError(leaf: ParsedCertificate): string | undefined {
  const ext = leaf.ext;
  if (ext.version !== 3) return 'not an X.509 v3 certificate';
  if (ext.uris.length === 0) return 'no URI SAN';
  if (ext.uris.length > 1) return 'two URI SANs';
  if (ext.basicConstraints?.ca === true) return 'CA=true';
  const ku = ext.keyUsage;
  if (ku === null) return 'no key usage';
  if (!ku.critical) return 'key usage not critical';
  if (!hasKeyUsage(ku, KeyUsageBit.digitalSignature)) return 'key usage lacks digitalSignature';
  if (hasKeyUsage(ku, KeyUsageBit.keyCertSign)) return 'key usage has keyCertSign';
  if (hasKeyUsage(ku, KeyUsageBit.cRLSign)) return 'key usage has cRLSign';
  // X509-SVID 4.4: an EKU is optional, but when present it MUST set both
  // serverAuth and clientAuth; anyExtendedKeyUsage alone does not.
  const eku = ext.extKeyUsage;
  if (eku !== null && !(eku.includes(OID.serverAuth) && eku.includes(OID.clientAuth))) {
    return 'extended key usage lacks serverAuth or clientAuth';
  }
  // RFC 5280: a critical extension the validator does not understand means reject.
  if (ext.otherCritical.length > 0) return 'unsupported critical extension';
  return undefined;
}

/** Structure, SPIFFE ID and chain: every check that does not look at the clock. */
export function checkX509Svid(pem: string, opts: X509SvidOptions = {}): SvidResult {
  let certs: ParsedCertificate[];
  try {
    certs = parseChain(pem, { strict: true, maxBytes: opts.maxBytes ?? MAX_PEM_BYTES });
  } catch (e) {
    if (e instanceof CertificateError) return fail(e.message);
    throw e;
  }
  const [leaf, ...intermediates] = certs as [ParsedCertificate, ...ParsedCertificate[]];
  const err = leafError(leaf);
  if (err !== undefined) return fail(err);
  const id = parseSpiffeId(leaf.ext.uris[0] as string);
  if (id instanceof SpiffeIdError) return fail(`URI SAN is not a SPIFFE ID (${id.message})`);
  if (id.path === '') return fail('SPIFFE ID has no path');
  let notBefore = leaf.notBefore;
  let notAfter = leaf.notAfter;
  const bundles = opts.bundles;
  if (bundles !== undefined && bundles.size > 0) {
    const anchors = bundles.anchorsFor(id.trust_domain);
    if (anchors === undefined) return fail('no trust bundle for its trust domain');
    const chain = verifyChain(leaf, intermediates, anchors);
    if (!chain.ok) return fail(chain.reason);
    notBefore = chain.notBefore;
    notAfter = chain.notAfter;
  }
  return { ok: true, svid: { id, notBefore, notAfter } };
}

/** undefined when `now` lies in the window widened by `toleranceMs`, otherwise why not. */
export function validityError(svid: X509Svid, now: number, toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS): string | undefined {
  if (now + toleranceMs < svid.notBefore) return 'not yet valid';
  if (now - toleranceMs > svid.notAfter) return 'expired';
  return undefined;
}

export interface ValidateOptions extends X509SvidOptions {
  /** ms since the epoch; default Date.now(). */
  readonly now?: number;
  readonly toleranceMs?: number;
}

/** Full validation of a PEM X509-SVID (leaf first, then any intermediates). */
export function validateX509Svid(pem: string, opts: ValidateOptions = {}): SvidResult {
  const r = checkX509Svid(pem, opts);
  if (!r.ok) return r;
  const err = validityError(r.svid, opts.now ?? Date.now(), opts.toleranceMs);
  return err === undefined ? r : fail(err);
}

/** Envoy's URL-encoded PEM to PEM, as a result instead of an exception. */
export function decodeCertificateAttribute(encoded: string, maxBytes = MAX_PEM_BYTES): { ok: true; pem: string } | { ok: false; reason: string } {
  try {
    return { ok: true, pem: decodeEnvoyPem(encoded, maxBytes) };
  } catch (e) {
    if (e instanceof PemError) return { ok: false, reason: e.message };
    throw e;
  }
}

/** Full validation of attributes.source.certificate (URL-encoded PEM). */
export function validateEnvoyCertificate(encoded: string, opts: ValidateOptions = {}): SvidResult {
  const d = decodeCertificateAttribute(encoded, opts.maxBytes);
  return d.ok ? validateX509Svid(d.pem, opts) : fail(d.reason);
}
