// A throwaway PKI for the TLS tests, made with the openssl CLI: CAs and X509-SVID
// shaped leaves (one URI SAN, CA=false, digitalSignature, server+client auth).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Ca {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly certDer: Buffer;
}

export interface Leaf {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certDer: Buffer;
  /** PKCS#8 DER, as the Workload API sends keys. */
  readonly keyDer: Buffer;
  /** As Node's X509Certificate#serialNumber prints it. */
  readonly serial: string;
}

export interface LeafOptions {
  /** URI SANs; an X509-SVID has exactly one. */
  uris?: string[];
  /**
   * Make a CA certificate instead (to check CAs never authenticate a workload).
   * It also has digitalSignature, so TLS itself accepts it as a client certificate.
   */
  ca?: boolean;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'ztauthz-pki-'));
  private n = 0;

  /** A self-signed CA for trust domain `td`. */
  ca(name: string, td: string): Ca {
    const key = this.file(`${name}.key`);
    const cert = this.file(`${name}.crt`);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/O=ztauthz tests/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      `subjectAltName=URI:spiffe://${td}`,
    ]);
    const certPem = readFileSync(cert, 'utf8');
    return { name, certPem, keyPem: readFileSync(key, 'utf8'), certDer: new X509Certificate(certPem).raw };
  }

  /** A leaf signed by `ca`, with a fresh key and a random serial. */
  leaf(ca: Ca, options: LeafOptions = {}): Leaf {
    const id = `leaf${++this.n}`;
    const key = this.file(`${id}.key`);
    const csr = this.file(`${id}.csr`);
    const cert = this.file(`${id}.crt`);
    const ext = this.file(`${id}.ext`);
    const caCert = this.file(`${id}-ca.crt`);
    const caKey = this.file(`${id}-ca.key`);
    writeFileSync(caCert, ca.certPem);
    writeFileSync(caKey, ca.keyPem);
    const lines = options.ca
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign', 'extendedKeyUsage=serverAuth,clientAuth']
      : ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyAgreement', 'extendedKeyUsage=serverAuth,clientAuth'];
    const uris = options.uris ?? [];
    if (uris.length > 0) lines.push(`subjectAltName=${uris.map((u) => `URI:${u}`).join(',')}`);
    writeFileSync(ext, `${lines.join('\n')}\n`);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    openssl(['req', '-new', '-key', key, '-out', csr, '-subj', '/O=ztauthz tests']);
    // A random positive 120-bit serial: every rotation is told apart by it.
    const serial = `0x4${randomBytes(15).toString('hex')}`;
    openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', serial, '-days', '1', '-extfile', ext, '-out', cert]);
    const certPem = readFileSync(cert, 'utf8');
    const keyPem = readFileSync(key, 'utf8');
    const x = new X509Certificate(certPem);
    return {
      certPem,
      keyPem,
      certDer: x.raw,
      keyDer: Buffer.from(createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' })),
      serial: x.serialNumber,
    };
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
