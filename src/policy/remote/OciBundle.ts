// A bundle in an OCI registry (services.<name>.type: oci), per the OCI
// distribution API: GET the manifest of <repository>:<tag>, whose digest acts
// as the ETag (an unchanged digest is "not modified"), then GET the bundle
// layer's blob and check it against its digest, so a registry or proxy that
// serves other bytes is caught before they are even unpacked. A registry that
// answers 401 with a Bearer challenge (ghcr.io, Docker Hub, most hosted ones)
// gets its token exchange: the configured credentials go to the challenge's
// realm, and the token it hands out is used for the pull.
import { createHash } from 'node:crypto';
import { BundleDownloadError, serviceGet, serviceHeaders, type FetchRequest, type FetchResult, type HttpServiceOptions } from './BundleHttp.ts';

const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];
/** Layer types a bundle travels as (OPA pushes the first; plain tar+gzip is what generic tools use). */
const BUNDLE_LAYER_TYPES = [
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.openpolicyagent.policy.layer.v1+gzip',
];
/** A manifest is a few hundred bytes; this bounds a registry that answers with something else. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** OPA's resource names the registry too (ghcr.io/org/repo:tag); the service URL already does. */
export function ociReference(service: HttpServiceOptions, resource: string): { repository: string; reference: string } {
  let ref = resource.replace(/^\/+/, '');
  const host = new URL(service.url).host;
  if (ref.startsWith(`${host}/`)) ref = ref.slice(host.length + 1);
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const [repository, reference] =
    at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  if (!/^[a-z0-9]+([._/-][a-z0-9]+)*$/.test(repository))
    throw new BundleDownloadError(`OCI resource ${JSON.stringify(resource)}: ${JSON.stringify(repository)} is not a repository name`);
  return { repository, reference };
}

/** A token response is a small JSON object. */
const MAX_TOKEN_BYTES = 64 * 1024;

/** Parses `Bearer realm="...",service="...",scope="..."`. */
export function bearerChallenge(header: string | undefined): { realm: string; params: Record<string, string> } | undefined {
  const m = /^\s*Bearer\s+(.*)$/i.exec(header ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const [, k, v] of m[1]!.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[k!.toLowerCase()] = v!;
  const realm = params['realm'];
  if (!realm || !/^https?:\/\//.test(realm)) return undefined;
  delete params['realm'];
  return { realm, params };
}

export async function fetchOciBundle(service: HttpServiceOptions, resource: string, r: FetchRequest): Promise<FetchResult> {
  const { repository, reference } = ociReference(service, resource);
  const base = service.url.endsWith('/') ? service.url : `${service.url}/`;
  const headers = serviceHeaders(service);
  let token: string | undefined;
  const get = async (url: URL, extra: Record<string, string>, maxBytes: number) => {
    const send = () =>
      serviceGet(service, url, { ...headers, ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) }, service.headerTimeoutMs, maxBytes, r.signal);
    const first = await send();
    const challenge = first.res.statusCode === 401 && token === undefined ? bearerChallenge(first.res.headers['www-authenticate']) : undefined;
    if (!challenge) return first;
    token = await registryToken(service, headers, challenge, r.signal);
    return send();
  };
  const manifestUrl = new URL(`v2/${repository}/manifests/${reference}`, base);
  const m = await get(manifestUrl, { accept: MANIFEST_TYPES.join(', ') }, MAX_MANIFEST_BYTES);
  if (m.res.statusCode !== 200) throw new BundleDownloadError(`GET ${manifestUrl.href}: HTTP ${m.res.statusCode}`, m.res.statusCode);
  const digest = `sha256:${createHash('sha256').update(m.body).digest('hex')}`;
  if (digest === r.etag) return { status: 'not_modified', longPolling: false };
  let layers: unknown;
  try {
    layers = (JSON.parse(m.body.toString('utf8')) as { layers?: unknown }).layers;
  } catch {
    throw new BundleDownloadError(`${manifestUrl.href}: the manifest is not JSON`);
  }
  const layer = Array.isArray(layers)
    ? (layers as Array<{ mediaType?: unknown; digest?: unknown; size?: unknown }>).find((l) => BUNDLE_LAYER_TYPES.includes(String(l.mediaType)))
    : undefined;
  if (!layer || typeof layer.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(layer.digest)) {
    throw new BundleDownloadError(`${manifestUrl.href}: no bundle layer (${BUNDLE_LAYER_TYPES[0]}) with a sha256 digest`);
  }
  if (typeof layer.size === 'number' && layer.size > r.maxBytes)
    throw new BundleDownloadError(`${manifestUrl.href}: bundle layer of ${layer.size} bytes is over the limit of ${r.maxBytes}`);
  const blobUrl = new URL(`v2/${repository}/blobs/${layer.digest}`, base);
  const b = await get(blobUrl, {}, r.maxBytes);
  if (b.res.statusCode !== 200) throw new BundleDownloadError(`GET ${blobUrl.href}: HTTP ${b.res.statusCode}`, b.res.statusCode);
  const got = `sha256:${createHash('sha256').update(b.body).digest('hex')}`;
  if (got !== layer.digest) throw new BundleDownloadError(`${blobUrl.href}: content digest ${got} is not the manifest's ${layer.digest}`);
  return { status: 'bundle', bytes: b.body, etag: digest, longPolling: false };
}

/** The distribution token exchange: GET realm?service=&scope= with the configured credentials. */
async function registryToken(
  service: HttpServiceOptions,
  headers: Record<string, string>,
  c: { realm: string; params: Record<string, string> },
  signal: AbortSignal | undefined,
): Promise<string> {
  const url = new URL(c.realm);
  for (const [k, v] of Object.entries(c.params)) url.searchParams.set(k, v);
  const { res, body } = await serviceGet(service, url, headers, service.headerTimeoutMs, MAX_TOKEN_BYTES, signal);
  if (res.statusCode !== 200) throw new BundleDownloadError(`registry token from ${url.origin}${url.pathname}: HTTP ${res.statusCode}`);
  let parsed: { token?: unknown; access_token?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new BundleDownloadError(`registry token from ${url.origin}${url.pathname}: not JSON`);
  }
  const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
  if (typeof token !== 'string' || token === '') throw new BundleDownloadError(`registry token from ${url.origin}${url.pathname}: no token in the answer`);
  return token;
}
