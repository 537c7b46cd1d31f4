// The single swap point for the listener's TLS material. It implements grpc-js's
// experimental CertificateProvider interface, so grpc-js itself calls
// setSecureContext on its running http2 server when we publish: new handshakes
// get the new pair, established connections keep theirs, nothing restarts.
//
// Unlike grpc-js's FileWatcherCertificateProvider, this one never publishes null
// and never publishes a set that failed validation: grpc-js answers either by
// dropping every new connection until a good set arrives, which is exactly the
// outage a half-written file must not cause.
import type * as grpc from '@grpc/grpc-js';
import type { TlsMaterial } from './TlsMaterial.ts';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

export class RotatingCertificateProvider implements grpc.experimental.CertificateProvider {
  private material: TlsMaterial | null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly updateListeners = new Set<(m: TlsMaterial, previous: TlsMaterial | null) => void>();

  constructor(initial: TlsMaterial | null = null) {
    this.material = initial;
  }

  /** The material being served (null before the first set arrived). */
  current(): TlsMaterial | null {
    return this.material;
  }

  /**
   * Serves `next` from the next handshake on. `next` must come from
   * loadTlsMaterial/tlsMaterialFromDer (validated). Publishing the same content
   * again is a no-op, so pollers may call this freely.
   */
  update(next: TlsMaterial): void {
    const prev = this.material;
    const identityChanged = !prev?.certChainPem.equals(next.certChainPem) || !prev.privateKeyPem.equals(next.privateKeyPem);
    const caChanged = !prev?.caBundlePem.equals(next.caBundlePem);
    if (!identityChanged && !caChanged) return;
    this.material = next;
    // Identity first: each intermediate state (new pair + old CAs) is itself a consistent context.
    if (identityChanged) for (const l of this.identityListeners) l(identityUpdate(next));
    if (caChanged) for (const l of this.caListeners) l({ caCertificate: next.caBundlePem });
    for (const l of this.updateListeners) l(next, prev);
  }

  /** Called after every change that was published (for logs and metrics). */
  onUpdate(listener: (m: TlsMaterial, previous: TlsMaterial | null) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  // grpc-js subscribes in _addWatcher *before* it registers the server's own
  // watcher, so the current value must be delivered on a later tick (as
  // grpc-js's own provider does) or the server would never see it.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => {
      const m = this.material;
      if (m && this.caListeners.has(listener)) listener({ caCertificate: m.caBundlePem });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      const m = this.material;
      if (m && this.identityListeners.has(listener)) listener(identityUpdate(m));
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

function identityUpdate(m: TlsMaterial): grpc.experimental.IdentityCertificateUpdate {
  return { certificate: m.certChainPem, privateKey: m.privateKeyPem };
}
