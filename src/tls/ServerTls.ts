// mTLS for the gRPC listener: one RotatingCertificateProvider fed from
// certificate files or the SPIFFE Workload API. The listener
// (server/h2/H2Transport.ts) builds its TLS server from the provider's
// current material and calls setSecureContext on every update: new handshakes
// get the new pair, established connections keep theirs.
import { RotatingCertificateProvider } from './RotatingCertificateProvider.ts';
import { readCertificateFiles, watchCertificateFiles, type CertificateFiles } from './CertificateFileWatcher.ts';
import { WorkloadApiClient, type WorkloadApiOptions, type X509Context } from './WorkloadApi.ts';
import { tlsMaterialFromDer, type TlsMaterial } from './TlsMaterial.ts';

export interface ServerTls {
  readonly provider: RotatingCertificateProvider;
  /** Stops watching files / the Workload API. The listener keeps the last material. */
  close(): void;
}

export interface RotationEvents {
  /** A new set is being served. */
  onRotated?: (m: TlsMaterial, previous: TlsMaterial | null) => void;
  /** A new set was refused (half-written files, mismatched key, bad Workload API message); the previous one keeps serving. */
  onRejected?: (err: Error) => void;
}

/**
 * mTLS from PEM files, re-read every refreshIntervalMs. Throws (with the reason)
 * when the files are not a consistent set at start: the server must not start
 * without a certificate.
 */
export async function startFileServerTls(files: CertificateFiles, options: RotationEvents & { refreshIntervalMs?: number } = {}): Promise<ServerTls> {
  const provider = new RotatingCertificateProvider(await readCertificateFiles(files));
  if (options.onRotated) provider.onUpdate(options.onRotated);
  const watcher = watchCertificateFiles(files, provider, {
    intervalMs: options.refreshIntervalMs ?? 5_000,
    ...(options.onRejected ? { onRejected: options.onRejected } : {}),
  });
  return { provider, close: () => watcher.close() };
}

export interface WorkloadApiTlsOptions extends RotationEvents, Omit<WorkloadApiOptions, 'onUpdate'> {
  /** Which SVID to serve when the workload has several; default: the first (the Workload API's default SVID). */
  pickSvid?: (ctx: X509Context) => X509Context['svids'][number] | undefined;
  /**
   * Also trust federated trust domains' bundles for client certificates. Off by
   * default: Node's TLS has one CA store and cannot check that a certificate
   * naming trust domain A was issued by A's bundle, so with federation on, a
   * CA of domain B could vouch for an ID in domain A at the TLS layer.
   */
  trustFederatedBundles?: boolean;
  /** How long to wait for the first SVID before giving up (default 30 s). */
  firstSvidTimeoutMs?: number;
}

/**
 * mTLS from the SPIFFE Workload API: waits for the first X509-SVID (throws if
 * none arrives in time or the API refuses the call as malformed), then follows
 * the stream, feeding each new SVID and bundle to the same provider as files do.
 */
export async function startWorkloadApiServerTls(options: WorkloadApiTlsOptions): Promise<ServerTls> {
  const provider = new RotatingCertificateProvider();
  if (options.onRotated) provider.onUpdate(options.onRotated);
  const pick = options.pickSvid ?? ((ctx: X509Context) => ctx.svids[0]);
  let firstResolve!: () => void;
  const first = new Promise<void>((resolve) => (firstResolve = resolve));
  let lastRejection: string | null = null;
  const client = new WorkloadApiClient({
    ...options,
    onUpdate(ctx) {
      try {
        provider.update(materialFromContext(ctx, pick, options.trustFederatedBundles ?? false));
        firstResolve();
      } catch (err) {
        lastRejection = (err as Error).message;
        options.onRejected?.(err as Error);
      }
    },
  });
  client.start();
  const timeoutMs = options.firstSvidTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      first,
      client.fatal(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no X509-SVID from the Workload API within ${timeoutMs} ms (${lastRejection ?? client.lastError() ?? 'no error reported'})`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    client.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { provider, close: () => client.stop() };
}

/** The listener's material from one Workload API snapshot. */
export function materialFromContext(
  ctx: X509Context,
  pick: (ctx: X509Context) => X509Context['svids'][number] | undefined,
  trustFederated: boolean,
): TlsMaterial {
  const svid = pick(ctx);
  if (!svid) throw new Error('Workload API update holds no usable X509-SVID');
  const cas = [...svid.bundle];
  if (trustFederated) for (const b of ctx.federatedBundles.values()) cas.push(...b);
  return tlsMaterialFromDer(svid.certChain, svid.privateKey, cas);
}
