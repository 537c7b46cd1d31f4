// The single swap point for the listener's TLS material. The listener
// (server/h2/H2Transport.ts) builds its TLS server from current() and calls
// setSecureContext on each published set: new handshakes get the new pair,
// established connections keep theirs, nothing restarts.
//
// It never publishes a set that failed validation (loadTlsMaterial refuses a
// half-written or mismatched set first), so a bad file or Workload API message
// leaves the previous pair serving rather than breaking new connections.
import type { TlsMaterial } from './TlsMaterial.ts';

export class RotatingCertificateProvider {
  private material: TlsMaterial | null;
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
    const same = prev?.certChainPem.equals(next.certChainPem) && prev.privateKeyPem.equals(next.privateKeyPem) && prev.caBundlePem.equals(next.caBundlePem);
    if (same) return;
    this.material = next;
    for (const l of this.updateListeners) l(next, prev);
  }

  /** Called after every change that was published (the listener's context, logs). Returns the unsubscribe function. */
  onUpdate(listener: (m: TlsMaterial, previous: TlsMaterial | null) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }
}
