// RFC 5280 section 6.1 basic path validation of one candidate path, trust
// anchor first, leaf last: signature and issuer name at every link, CA=true
// and keyCertSign at every issuer, pathLenConstraint, name constraints
// (URI, DNS, email, IP address, directory name), no critical extension left
// unprocessed, and the validity window of the whole path. Certificate
// policies are not processed: a certificate carrying a critical policy
// extension is refused as unsupported, which fails closed.
//
// Like OpenSSL, the trust anchor's own pathLenConstraint and name
// constraints apply to the path (RFC 5280 makes them optional inputs).
//
// pkijs's CertificateChainValidationEngine was evaluated for this and is not
// used: pkijs 4.0.0 does not enforce pathLenConstraint at all and merges
// the permittedSubtrees of successive CAs (a union) where RFC 5280 6.1.4
// (g) intersects them, so a constrained sub-CA could widen its own
// constraints by issuing a sub-CA; it is also asynchronous (WebCrypto).
// pkijs parses the certificates (Certificate.ts); the algorithm is here.
import type { RelativeDistinguishedNames } from 'pkijs';
import { hasKeyUsage, KeyUsageBit, NameType, OID, type GeneralName, type ParsedCertificate } from './Certificate.ts';

export type ChainResult = { readonly ok: true; readonly notBefore: number; readonly notAfter: number } | { readonly ok: false; readonly reason: string };

const TYPE_NAMES: Record<number, string> = { 1: 'email', 2: 'DNS', 4: 'directory', 6: 'URI', 7: 'IP' };

/**
 * Validates `path` = [anchor, intermediate..., leaf]. Signatures are
 * checked with `signedBy` (memoised by the caller). The result's window is
 * the intersection of every certificate's validity, anchor included, so the
 * caller checks the clock once for the whole path and can cache the rest.
 */
export function validatePath(path: readonly ParsedCertificate[], signedBy: (child: ParsedCertificate, parent: ParsedCertificate) => boolean): ChainResult {
  const anchor = path[0] as ParsedCertificate;
  const n = path.length - 1;
  let notBefore = anchor.notBefore;
  let notAfter = anchor.notAfter;
  // 6.1.2 (k), started by the anchor's own constraints as OpenSSL does.
  let maxPathLength = n;
  const permitted: (readonly GeneralName[])[] = [];
  const excluded: GeneralName[] = [];
  addCaConstraints(anchor);

  function addCaConstraints(ca: ParsedCertificate): void {
    const pathLen = ca.ext.basicConstraints?.pathLen ?? null;
    if (pathLen !== null && pathLen < maxPathLength) maxPathLength = pathLen;
    const nc = ca.ext.nameConstraints;
    if (nc !== null) {
      if (nc.permitted !== null) permitted.push(nc.permitted);
      excluded.push(...nc.excluded);
    }
  }

  for (let i = 1; i <= n; i++) {
    const issuer = path[i - 1] as ParsedCertificate;
    const cert = path[i] as ParsedCertificate;
    const leaf = i === n;
    // 6.1.3 (a): signature and issuer name; 6.1.4 (k), (n) for the issuer.
    if (!isCa(issuer)) return fail('chain holds an issuer that is not a CA');
    if (issuer.ext.keyUsage !== null && !hasKeyUsage(issuer.ext.keyUsage, KeyUsageBit.keyCertSign)) {
      return fail('chain holds an issuer without keyCertSign');
    }
    if (!signedBy(cert, issuer)) return fail('chain has a link whose signature does not verify');
    notBefore = Math.max(notBefore, cert.notBefore);
    notAfter = Math.min(notAfter, cert.notAfter);
    // 6.1.3 (b), (c): a self-issued intermediate is exempt.
    if (leaf || !cert.selfIssued) {
      const nameError = nameConstraintError(cert, permitted, excluded);
      if (nameError !== undefined) return fail(nameError);
    }
    if (leaf) break;
    // 6.1.4 (o): a critical extension the path processing does not know.
    if (cert.ext.otherCritical.length > 0) return fail('chain holds an unsupported critical extension');
    // 6.1.4 (l), (m).
    if (!cert.selfIssued) {
      if (maxPathLength <= 0) return fail('path length constraint exceeded');
      maxPathLength--;
    }
    addCaConstraints(cert);
  }
  return { ok: true, notBefore, notAfter };
}

function fail(reason: string): ChainResult {
  return { ok: false, reason };
}

function isCa(c: ParsedCertificate): boolean {
  return c.ext.basicConstraints?.ca === true;
}

/** The names of `cert` that name constraints apply to (RFC 5280 4.2.1.10). */
function constrainedNames(cert: ParsedCertificate): GeneralName[] {
  const names: GeneralName[] = [...cert.ext.altNames];
  if (cert.subject.typesAndValues.length > 0) names.push({ type: NameType.directory, value: cert.subject });
  // emailAddress attributes of the subject are rfc822 names for this purpose.
  for (const tv of cert.subject.typesAndValues) {
    if (tv.type === OID.emailAddress) {
      const v = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      names.push({ type: NameType.rfc822, value: typeof v === 'string' ? v : '' });
    }
  }
  return names;
}

function nameConstraintError(cert: ParsedCertificate, permitted: readonly (readonly GeneralName[])[], excluded: readonly GeneralName[]): string | undefined {
  if (permitted.length === 0 && excluded.length === 0) return undefined;
  for (const name of constrainedNames(cert)) {
    for (const e of excluded) {
      if (e.type !== name.type) continue;
      const m = matches(name, e);
      if (m !== false) return m === 'unsupported' ? unsupported(name) : `${label(name)} name excluded by name constraints`;
    }
    // The intersection of every CA's permitted subtrees: each CA that
    // constrains this name form must permit the name.
    for (const subtrees of permitted) {
      const sameForm = subtrees.filter((s) => s.type === name.type);
      if (sameForm.length === 0) continue;
      let ok = false;
      for (const s of sameForm) {
        const m = matches(name, s);
        if (m === 'unsupported') return unsupported(name);
        if (m) {
          ok = true;
          break;
        }
      }
      if (!ok) return `${label(name)} name not permitted by name constraints`;
    }
  }
  return undefined;
}

function label(name: GeneralName): string {
  return TYPE_NAMES[name.type] ?? 'other';
}

function unsupported(name: GeneralName): string {
  return `unsupported name constraint for a ${label(name)} name`;
}

/** Whether `name` lies in the subtree `base` (same form); 'unsupported' when that cannot be decided. */
export function matches(name: GeneralName, base: GeneralName): boolean | 'unsupported' {
  switch (name.type) {
    case NameType.dns:
      return dnsMatches(name.value, base.value as string);
    case NameType.rfc822:
      return emailMatches(name.value, base.value as string);
    case NameType.uri: {
      const host = uriHost(name.value);
      return host === null ? 'unsupported' : hostMatches(host, base.value as string);
    }
    case NameType.ip:
      return ipMatches(name.value, base.value as Uint8Array);
    case NameType.directory:
      return directoryMatches(name.value, base.value as RelativeDistinguishedNames);
    default:
      return 'unsupported';
  }
}

/** A DNS constraint matches the name itself and anything with labels added on the left; a leading "." only the latter. */
function dnsMatches(name: string, base: string): boolean {
  const n = name.toLowerCase();
  const b = base.toLowerCase();
  if (b === '') return true;
  if (b.startsWith('.')) return n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

/** A host constraint (URI and email host parts): exactly that host, or with a leading "." any host below it. */
function hostMatches(host: string, base: string): boolean {
  const h = host.toLowerCase();
  const b = base.toLowerCase();
  if (b.startsWith('.')) return h.endsWith(b) && h.length > b.length;
  return h === b;
}

function emailMatches(name: string, base: string): boolean | 'unsupported' {
  const at = name.lastIndexOf('@');
  if (at <= 0) return 'unsupported';
  if (base.includes('@')) {
    const bat = base.lastIndexOf('@');
    return name.slice(0, at) === base.slice(0, bat) && name.slice(at + 1).toLowerCase() === base.slice(bat + 1).toLowerCase();
  }
  return hostMatches(name.slice(at + 1), base);
}

/** The host of a URI with an authority ("scheme://[userinfo@]host[:port]..."), lower-cased; null without one. */
export function uriHost(uri: string): string | null {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (m === null) return null;
  let authority = m[1] as string;
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let host: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    host = authority.slice(0, close + 1);
  } else {
    host = authority.replace(/:[0-9]*$/, '');
  }
  return host === '' ? null : host.toLowerCase();
}

function ipMatches(name: Uint8Array, base: Uint8Array): boolean {
  if (base.length !== 2 * name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const mask = base[name.length + i] as number;
    if (((name[i] as number) & mask) !== ((base[i] as number) & mask)) return false;
  }
  return true;
}

/** The constraint's attributes are a prefix of the subject's. */
function directoryMatches(name: RelativeDistinguishedNames, base: RelativeDistinguishedNames): boolean {
  const n = name.typesAndValues;
  const b = base.typesAndValues;
  if (b.length > n.length) return false;
  for (let i = 0; i < b.length; i++) if (!(n[i] as (typeof n)[number]).isEqual(b[i] as (typeof b)[number])) return false;
  return true;
}
