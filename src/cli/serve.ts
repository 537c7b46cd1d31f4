// `ztauthz serve`: start, then stop gracefully on SIGTERM/SIGINT.
import type { Config } from '../config/schema.ts';
import { startServer } from '../server/Server.ts';
import { createLogger } from '../observe/Log.ts';

/** How long in-flight Checks may take to finish after SIGTERM. */
const GRACE_MS = 10_000;

export async function runServe(config: Config): Promise<number> {
  const log = createLogger(config.log.level);
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
