// Wire types of the SPIFFE Workload API's X509-SVID stream (proto/spiffe/workload.proto)
// and their conversion into what the listener needs. Shared by the client and
// by test Workload API servers, so both sides speak from the same definition.
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { splitDerCertificates } from './TlsMaterial.ts';

const PROTO = fileURLToPath(new URL('../../proto/spiffe/workload.proto', import.meta.url));
const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
root.resolveAll();
const RequestType = root.lookupType('X509SVIDRequest');
const ResponseType = root.lookupType('X509SVIDResponse');

/** The metadata every Workload API call carries; servers refuse calls without it. */
export const WORKLOAD_API_HEADER = 'workload.spiffe.io';

export interface X509SvidMessage {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}

export interface X509SvidResponseMessage {
  svids: X509SvidMessage[];
  crl: Buffer[];
  federated_bundles: Record<string, Buffer>;
}

/** One SVID, its DER certificates split apart. */
export interface X509Svid {
  readonly spiffeId: string;
  /** DER certificates, leaf first. */
  readonly certChain: Buffer[];
  /** PKCS#8 DER. */
  readonly privateKey: Buffer;
  /** DER CA certificates of the SVID's trust domain. */
  readonly bundle: Buffer[];
  readonly hint: string;
}

/** One complete snapshot of the stream. */
export interface X509Context {
  readonly svids: X509Svid[];
  /** DER CA certificates by trust domain name ("example.org", without spiffe://). */
  readonly federatedBundles: Map<string, Buffer[]>;
}

const toBuffer = (b: Uint8Array | undefined): Buffer => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.alloc(0));

export function decodeX509SvidResponse(bytes: Buffer): X509SvidResponseMessage {
  const o = ResponseType.toObject(ResponseType.decode(bytes), { defaults: true, arrays: true, objects: true }) as {
    svids: Array<Record<string, unknown>>;
    crl: Uint8Array[];
    federated_bundles: Record<string, Uint8Array>;
  };
  return {
    svids: o.svids.map((s) => ({
      spiffe_id: String(s['spiffe_id'] ?? ''),
      x509_svid: toBuffer(s['x509_svid'] as Uint8Array),
      x509_svid_key: toBuffer(s['x509_svid_key'] as Uint8Array),
      bundle: toBuffer(s['bundle'] as Uint8Array),
      hint: String(s['hint'] ?? ''),
    })),
    crl: o.crl.map(toBuffer),
    federated_bundles: Object.fromEntries(Object.entries(o.federated_bundles).map(([k, v]) => [k, toBuffer(v)])),
  };
}

export function encodeX509SvidResponse(m: X509SvidResponseMessage): Buffer {
  return Buffer.from(ResponseType.encode(ResponseType.fromObject(m)).finish());
}

const encodeRequest = (): Buffer => Buffer.from(RequestType.encode(RequestType.create({})).finish());
// The request has no fields; anything decodes to it.
const decodeRequest = (): Record<string, never> => ({});

/** grpc-js definition of the one method we use, for clients and (test) servers alike. */
export const workloadApiServiceDefinition = {
  FetchX509SVID: {
    path: '/SpiffeWorkloadAPI/FetchX509SVID',
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeX509SvidResponse,
    responseDeserialize: decodeX509SvidResponse,
  },
} satisfies grpc.ServiceDefinition;

/**
 * Splits a response's DER blobs. Throws when any SVID's chain, key or bundle is
 * empty or does not split: a snapshot is used whole or not at all.
 */
export function toX509Context(m: X509SvidResponseMessage): X509Context {
  const svids = m.svids.map((s, i): X509Svid => {
    const where = `svids[${i}] (${s.spiffe_id || 'no spiffe_id'})`;
    const certChain = split(s.x509_svid, `${where} x509_svid`);
    const bundle = split(s.bundle, `${where} bundle`);
    if (certChain.length === 0) throw new Error(`${where}: empty x509_svid`);
    if (bundle.length === 0) throw new Error(`${where}: empty bundle`);
    if (s.x509_svid_key.length === 0) throw new Error(`${where}: empty x509_svid_key`);
    return { spiffeId: s.spiffe_id, certChain, privateKey: s.x509_svid_key, bundle, hint: s.hint };
  });
  const federatedBundles = new Map<string, Buffer[]>();
  for (const [key, der] of Object.entries(m.federated_bundles)) {
    federatedBundles.set(key.startsWith('spiffe://') ? key.slice('spiffe://'.length) : key, split(der, `federated_bundles[${key}]`));
  }
  return { svids, federatedBundles };
}

function split(der: Buffer, where: string): Buffer[] {
  try {
    return splitDerCertificates(der);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}
