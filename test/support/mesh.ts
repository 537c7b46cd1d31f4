// Pieces of a small SPIFFE mesh for end-to-end tests through
// deploy/envoy/mtls-sidecar.yaml: an HTTPS client that presents a workload's
// X509-SVID and authenticates the server by its SPIFFE ID (as mesh peers do,
// not by host name), and readers for the JSON-lines logs the processes write.
import { request as httpsRequest } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { uriSans } from '../../src/tls/PeerAuth.ts';
import type { SvidFiles } from './pki.ts';

export interface MeshCall {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface MeshResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface MeshClientOptions {
  /** The trust bundle (PEM) that must verify the server. */
  readonly ca: string;
  /** The SPIFFE ID the server's certificate must carry (its only URI SAN). */
  readonly serverId: string;
  /** The caller's SVID; null connects without a client certificate. */
  readonly svid: SvidFiles | null;
}

/**
 * One HTTPS request over a fresh connection (no agent: a pooled connection
 * would carry the previous caller's certificate). Resolves with the response;
 * rejects when the TLS handshake or the exchange fails, with Node's error
 * (its `code` names the TLS alert, e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED).
 */
export function meshRequest(port: number, opts: MeshClientOptions, call: MeshCall): Promise<MeshResponse> {
  return new Promise((resolve, reject) => {
    const body = call.body === undefined ? undefined : Buffer.from(call.body);
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: call.method ?? 'GET',
        path: call.path,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...call.headers },
        agent: false,
        ca: opts.ca,
        ...(opts.svid ? { cert: opts.svid.cert, key: opts.svid.key } : {}),
        // SVIDs carry a SPIFFE ID, not the host name or IP: authenticate the
        // server by that ID instead (the chain was verified against `ca`).
        checkServerIdentity: (_host: string, cert: PeerCertificate) => spiffeIdMismatch(cert, opts.serverId),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An Error when the certificate's only URI SAN is not `expected` (Node's checkServerIdentity contract). */
export function spiffeIdMismatch(cert: PeerCertificate, expected: string): Error | undefined {
  const uris = cert.raw ? uriSans(new X509Certificate(cert.raw).subjectAltName) : null;
  if (uris?.length === 1 && uris[0] === expected) return undefined;
  return new Error(`server presented ${JSON.stringify(uris)}, expected SPIFFE ID ${expected}`);
}

export type Json = Record<string, any>;

/** The JSON objects of a JSON-lines text (other lines skipped). */
export function jsonLines(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);
}

/** Polls until `find` returns something: logs are written by other processes. */
export async function eventually<T>(what: string, find: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
