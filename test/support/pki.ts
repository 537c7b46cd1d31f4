// Real X.509 certificates for the identity tests, issued by the openssl CLI
// (an encoder independent of the pkijs reader in src/identity/Certificate.ts,
// so a bug cannot cancel itself out): a CA per trust domain, intermediates
// with chosen constraints, and leaf SVIDs with chosen SANs, key usage, EKU,
// basic constraints and validity dates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Ca {
  readonly name: string;
  readonly dir: string;
  readonly pem: string;
}

export interface LeafOptions {
  /** URI SANs; default one: spiffe://<ca name>/ns/default/sa/test. [] = no SAN extension. */
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  /** openssl keyUsage value; null leaves the extension out. */
  readonly keyUsage?: string | null;
  /** openssl extendedKeyUsage value; null leaves the extension out. */
  readonly extKeyUsage?: string | null;
  /** openssl basicConstraints value; null leaves the extension out. */
  readonly basicConstraints?: string | null;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Further openssl extension lines, e.g. "1.2.3.4=critical,ASN1:NULL". */
  readonly extra?: readonly string[];
  readonly subject?: string;
}

export interface IntermediateOptions {
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly ca?: boolean;
  readonly pathLen?: number;
  readonly nameConstraints?: string;
  readonly keyUsage?: string;
  readonly extra?: readonly string[];
}

const HOUR = 3600_000;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// openssl ca takes GeneralizedTime, YYYYMMDDHHMMSSZ.
function asn1Time(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

const CA_CONF = `[ca]
default_ca = d
[d]
database = ./index.txt
new_certs_dir = .
serial = ./serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
[p]
organizationName = optional
commonName = optional
`;

export class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'ztauthz-pki-'));
  #n = 0;

  constructor() {
    // One key pair for every leaf: issuing is what the tests vary, and EC key
    // generation per leaf would only cost time.
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key'], this.dir);
    openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/O=ztauthz-test', '-out', 'leaf.csr'], this.dir);
  }

  /**
   * A self-signed root CA, valid from an hour ago for `days`. `name` is usually
   * the trust domain; `basicConstraints` and `extra` (openssl -addext values)
   * change or add extensions.
   */
  ca(name: string, days = 2, opts: { basicConstraints?: string; extra?: readonly string[] } = {}): Ca {
    const dir = this.#caDir(name);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key'], dir);
    openssl(
      [
        'req',
        '-new',
        '-x509',
        '-key',
        'ca.key',
        '-subj',
        `/O=${name}`,
        '-days',
        String(days),
        '-out',
        'ca.pem',
        '-addext',
        `basicConstraints=${opts.basicConstraints ?? 'critical,CA:TRUE'}`,
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        `subjectAltName=URI:spiffe://${name}`,
        ...(opts.extra ?? []).flatMap((e) => ['-addext', e]),
      ],
      dir,
    );
    return { name, dir, pem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
  }

  /**
   * An intermediate CA signed by `parent`, with its own key. Defaults: CA=true,
   * keyCertSign+cRLSign; `ca: false` makes it CA=false (keyCertSign kept),
   * `pathLen` adds a pathLenConstraint, `nameConstraints` an openssl
   * nameConstraints value (e.g. "critical,permitted;URI:td.example"),
   * `keyUsage` replaces the key usage, `extra` adds extension lines.
   */
  intermediate(parent: Ca, name: string, opts: IntermediateOptions = {}): Ca {
    const dir = this.#caDir(name);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key'], dir);
    openssl(['req', '-new', '-key', 'ca.key', '-subj', `/O=${name}`, '-out', 'ca.csr'], dir);
    const pathLen = opts.pathLen === undefined ? '' : `,pathlen:${opts.pathLen}`;
    const ext = [
      opts.ca === false ? 'basicConstraints=critical,CA:FALSE' : `basicConstraints=critical,CA:TRUE${pathLen}`,
      `keyUsage=${opts.keyUsage ?? 'critical,keyCertSign,cRLSign'}`,
      ...(opts.nameConstraints === undefined ? [] : [`nameConstraints=${opts.nameConstraints}`]),
      ...(opts.extra ?? []),
    ];
    const pem = this.#issue(parent, join(dir, 'ca.csr'), `/O=${name}`, ext, opts.notBefore, opts.notAfter);
    writeFileSync(join(dir, 'ca.pem'), pem);
    return { name, dir, pem };
  }

  /** A leaf certificate issued by `ca`, as PEM. Defaults make a conforming X509-SVID. */
  leaf(ca: Ca, o: LeafOptions = {}): string {
    const uris = o.uris ?? [`spiffe://${ca.name}/ns/default/sa/test`];
    const ext: string[] = [];
    const bc = o.basicConstraints === undefined ? 'critical,CA:FALSE' : o.basicConstraints;
    if (bc !== null) ext.push(`basicConstraints=${bc}`);
    const ku = o.keyUsage === undefined ? 'critical,digitalSignature' : o.keyUsage;
    if (ku !== null) ext.push(`keyUsage=${ku}`);
    const eku = o.extKeyUsage === undefined ? 'serverAuth,clientAuth' : o.extKeyUsage;
    if (eku !== null) ext.push(`extendedKeyUsage=${eku}`);
    const names = [...uris.map((u, i) => `URI.${i + 1} = ${u}`), ...(o.dns ?? []).map((d, i) => `DNS.${i + 1} = ${d}`)];
    if (names.length > 0) ext.push('subjectAltName=@alt');
    ext.push(...(o.extra ?? []));
    return this.#issue(ca, join(this.dir, 'leaf.csr'), o.subject ?? '/O=ztauthz-test', ext, o.notBefore, o.notAfter, names);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #caDir(name: string): string {
    const dir = join(this.dir, `ca-${++this.#n}-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    writeFileSync(join(dir, 'ca.cnf'), CA_CONF);
    return dir;
  }

  #issue(ca: Ca, csr: string, subject: string, ext: string[], notBefore?: Date, notAfter?: Date, names: string[] = []): string {
    const n = ++this.#n;
    const extFile = join(this.dir, `ext-${n}.cnf`);
    writeFileSync(extFile, `[v3]\n${ext.join('\n')}\n[alt]\n${names.join('\n')}\n`);
    const out = join(this.dir, `cert-${n}.pem`);
    const start = notBefore ?? new Date(Date.now() - HOUR);
    const end = notAfter ?? new Date(Date.now() + 24 * HOUR);
    openssl(
      [
        'ca',
        '-config',
        'ca.cnf',
        '-batch',
        '-notext',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-in',
        csr,
        '-subj',
        subject,
        '-startdate',
        asn1Time(start),
        '-enddate',
        asn1Time(end),
        '-extfile',
        extFile,
        '-extensions',
        'v3',
        '-out',
        out,
      ],
      ca.dir,
    );
    return readFileSync(out, 'utf8');
  }
}

/** Full URL-encoding of source.certificate: every byte outside the URL-unreserved set as %XX (ztauthz accepts it; not what Envoy 1.40 sends). */
export function envoyUrlEncode(pem: string): string {
  return pem.replace(/[^A-Za-z0-9._~-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** What Envoy (1.40 included) sends in source.certificate: only newline, space, "+", "/" and "=" replaced (test/e2e-mesh.test.ts pins it). */
export function envoyLegacyUrlEncode(pem: string): string {
  return pem.replace(/[\n +/=]/g, (c) => ({ '\n': '%0A', ' ': '%20', '+': '%2B', '/': '%2F', '=': '%3D' })[c] as string);
}

/** An X509-SVID on disk, for processes that read certificate files (Envoy, `ztauthz serve --grpc-tls-mode files`). */
export interface SvidFiles {
  /** The SPIFFE ID, the certificate's one URI SAN. */
  readonly id: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The issuing CA's certificate: the trust bundle for this SVID. */
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * A conforming X509-SVID for `id` issued by `ca`, written as `<name>.pem` and
 * `<name>.key` in the Pki's directory. The key is the Pki's shared leaf key
 * (see the constructor); `opts` as for Pki.leaf, e.g. a different validity.
 */
export function writeSvid(pki: Pki, ca: Ca, id: string, name: string, opts: Omit<LeafOptions, 'uris'> = {}): SvidFiles {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`writeSvid: name ${JSON.stringify(name)} must be a plain file name`);
  const cert = pki.leaf(ca, { ...opts, uris: [id] });
  const key = readFileSync(join(pki.dir, 'leaf.key'), 'utf8');
  const certFile = join(pki.dir, `${name}.pem`);
  const keyFile = join(pki.dir, `${name}.key`);
  writeFileSync(certFile, cert);
  writeFileSync(keyFile, key, { mode: 0o600 });
  return { id, certFile, keyFile, caFile: join(ca.dir, 'ca.pem'), cert, key };
}
