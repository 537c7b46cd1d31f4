// `ztauthz serve`: start, then stop gracefully on SIGTERM/SIGINT. With
// server.workers above 1 this process becomes the primary of a cluster
// (server/Cluster.ts) and each worker it forks comes back here as a worker
// (server/ClusterWorker.ts).
import cluster from 'node:cluster';
import type { Config } from '../config/schema.ts';
import { startServer } from '../server/Server.ts';
import { runPrimary } from '../server/Cluster.ts';
import { runWorker } from '../server/ClusterWorker.ts';
import { createLogger } from '../observe/Log.ts';

/** How long in-flight Checks may take to finish after SIGTERM. */
const GRACE_MS = 10_000;

export async function runServe(config: Config): Promise<number> {
  if (cluster.isWorker) return runWorker(config, GRACE_MS);
  const log = createLogger(config.log.level);
  if (config.server.workers > 1) return runPrimary(config, log, GRACE_MS);
  const server = await startServer(config, log);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info('shutting down', { signal });
      server.stop(GRACE_MS).then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info('stopped');
  return 0;
}
