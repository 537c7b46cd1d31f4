// Graceful shutdown under load: every Check already sent when stop() begins
// is answered; calls sent afterwards are refused (the listener is closed),
// never left hanging.
import { describe, expect, it } from 'vitest';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';

describe('graceful shutdown', () => {
  it('answers every in-flight Check while draining', async () => {
    const server = await startInProcess();
    const clients = [0, 1, 2, 3].map(() => new CheckClient(server.grpcPort));
    let shutdownBegan = false;
    let done = false;
    const inFlightFailures: string[] = [];
    let answered = 0;
    const loop = async (client: CheckClient) => {
      while (!done) {
        const sentBeforeShutdown = !shutdownBegan;
        try {
          await client.check(checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: 'spiffe://cluster.local/ns/web/sa/frontend' }));
          answered++;
        } catch (err) {
          // A refused connection means the call never reached the server: the
          // client had it queued when the GOAWAY came and tried a new
          // connection to the closed listener. Only a call the server accepted
          // is in flight, and none of those may fail.
          const neverArrived = /ECONNREFUSED/.test((err as Error).message);
          if (sentBeforeShutdown && !neverArrived) inFlightFailures.push((err as Error).message);
          else await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    // 8 concurrent loops over 4 connections keep Checks in flight at every moment.
    const loops = clients.flatMap((c) => [loop(c), loop(c)]);
    while (answered < 300) await new Promise((r) => setTimeout(r, 5));
    shutdownBegan = true;
    await server.stop(5000);
    done = true;
    await Promise.all(loops);
    for (const c of clients) c.close();
    expect(inFlightFailures).toEqual([]);
    expect(answered).toBeGreaterThanOrEqual(300);
  });
});
