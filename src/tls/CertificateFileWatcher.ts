// Re-reads the listener's certificate, key and CA files on an interval and hands
// each consistent new set to the provider. Polling rather than fs.watch: SVID
// helpers and Kubernetes secret volumes replace files by rename or symlink swap,
// which fs.watch on the file itself stops seeing; three small reads per interval
// cost nothing.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { loadTlsMaterial, type TlsMaterial } from './TlsMaterial.ts';
import type { RotatingCertificateProvider } from './RotatingCertificateProvider.ts';

export interface CertificateFiles {
  /** PEM certificate chain, leaf first. */
  certFile: string;
  /** PEM private key of the leaf. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to. */
  caFile: string;
}

export interface CertificateFileWatcherOptions {
  intervalMs: number;
  /** A changed set that could not be used; the previous set keeps serving. */
  onRejected?: (err: Error) => void;
}

export interface CertificateFileWatcher {
  /** Reads the files now; resolves true when a new set was published. */
  check(): Promise<boolean>;
  close(): void;
}

/** Reads and validates the three files once (for start-up: throws with the reason). */
export async function readCertificateFiles(files: CertificateFiles): Promise<TlsMaterial> {
  const [certChain, privateKey, caBundle] = await Promise.all([readFile(files.certFile), readFile(files.keyFile), readFile(files.caFile)]);
  return loadTlsMaterial({ certChain, privateKey, caBundle });
}

export function watchCertificateFiles(
  files: CertificateFiles,
  provider: RotatingCertificateProvider,
  options: CertificateFileWatcherOptions,
): CertificateFileWatcher {
  // Digest of the last contents tried, accepted or not: a set that failed is
  // not retried (nor reported again) until one of the files changes.
  let lastTried: string | null = null;
  let running: Promise<boolean> | null = null;
  let closed = false;

  const attempt = async (): Promise<boolean> => {
    let contents: Buffer[];
    try {
      contents = await Promise.all([readFile(files.certFile), readFile(files.keyFile), readFile(files.caFile)]);
    } catch (err) {
      // A file briefly missing during a rename-based swap: try again next tick.
      const digest = `read-error:${(err as Error).message}`;
      if (digest !== lastTried) options.onRejected?.(err as Error);
      lastTried = digest;
      return false;
    }
    const hash = createHash('sha256');
    for (const c of contents) hash.update(createHash('sha256').update(c).digest());
    const digest = hash.digest('hex');
    if (digest === lastTried || closed) return false;
    lastTried = digest;
    const [certChain, privateKey, caBundle] = contents as [Buffer, Buffer, Buffer];
    let material: TlsMaterial;
    try {
      material = loadTlsMaterial({ certChain, privateKey, caBundle });
    } catch (err) {
      options.onRejected?.(err as Error);
      return false;
    }
    const before = provider.current();
    provider.update(material);
    return provider.current() !== before;
  };

  const check = (): Promise<boolean> => {
    // One read at a time; a caller arriving mid-read waits for that read.
    running ??= attempt().finally(() => (running = null));
    return running;
  };

  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  return {
    check,
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
