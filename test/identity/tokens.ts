// Real signing keys and JWTs for the user-token tests, and a real JWKS
// server on 127.0.0.1 that counts its fetches.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';

export interface TestKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA', kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

export const nowS = (): number => Math.floor(Date.now() / 1000);

export async function sign(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

const b64url = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A JWT with any header, HMAC-signed with `secret` (or unsigned when secret is null). */
export function handMade(header: Record<string, unknown>, claims: JWTPayload, secret: string | null): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const sig = secret === null ? '' : createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

export interface JwksServer {
  readonly url: string;
  /** Requests served per path. */
  readonly hits: Map<string, number>;
  /** What GET /jwks answers; replace to rotate keys. */
  body: string;
  close(): Promise<void>;
}

/**
 * /jwks serves `body`; /status/500 fails; /hang never answers; /redirect
 * redirects to /jwks; /huge sends 2 MiB.
 */
export async function startJwksServer(): Promise<JwksServer> {
  const hits = new Map<string, number>();
  const state = { body: '{"keys":[]}' };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(state.body);
    else if (path === '/status/500') res.writeHead(500).end('down');
    else if (path === '/redirect') res.writeHead(302, { location: '/jwks' }).end();
    else if (path === '/huge') res.writeHead(200, { 'content-type': 'application/json' }).end(' '.repeat(2 * 1024 * 1024));
    else if (path === '/hang')
      return; // never answers
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    get body() {
      return state.body;
    },
    set body(v: string) {
      state.body = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
