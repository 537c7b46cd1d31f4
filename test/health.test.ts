// grpc.health.v1.Health as ztauthz serves it (server/HealthService.ts, its
// own service on protobufjs): a real grpc-js server on 127.0.0.1 with only
// Health, and a client built from grpc-health-check's own health.proto (it
// has List), so the wire is checked against the library's definition.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HealthState } from '../src/server/HealthService.ts';

type Status = { status: string };
interface HealthClient extends grpc.Client {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: Status) => void): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<Status>;
  List(req: object, cb: (err: grpc.ServiceError | null, res: { statuses: Record<string, Status> }) => void): void;
}
const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
const Client = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health as new (target: string, creds: grpc.ChannelCredentials) => HealthClient;

let server: grpc.Server;
let health: HealthState;
let client: HealthClient;

beforeEach(async () => {
  health = new HealthState();
  server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
afterEach(async () => {
  client.close();
  health.endWatches();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

const check = (service: string) => new Promise<Status>((resolve, reject) => client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res))));

/** The next `n` messages of a Watch stream. */
function next(stream: grpc.ClientReadableStream<Status>, n: number): Promise<string[]> {
  return new Promise((resolve) => {
    const seen: string[] = [];
    const onData = (m: Status): void => {
      seen.push(m.status);
      if (seen.length === n) {
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

describe("grpc.health.v1, against a client from grpc-health-check's health.proto", () => {
  it('is NOT_SERVING until a policy is loaded, then SERVING, for "" and the Authorization service only', async () => {
    expect(await check('')).toEqual({ status: 'NOT_SERVING' });
    health.setServing(true);
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('envoy.service.auth.v3.Authorization')).toEqual({ status: 'SERVING' });
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const statuses = await new Promise((resolve, reject) => client.List({}, (err, res) => (err ? reject(err) : resolve(res.statuses))));
    expect(statuses).toEqual({ '': { status: 'SERVING' }, 'envoy.service.auth.v3.Authorization': { status: 'SERVING' } });
  });

  it('pushes every change to Watch streams, and shutdown ends them', async () => {
    const stream = client.Watch({ service: '' });
    const first = next(stream, 1);
    expect(await first).toEqual(['NOT_SERVING']);
    const changes = next(stream, 2);
    health.setServing(true);
    health.setServing(false);
    expect(await changes).toEqual(['SERVING', 'NOT_SERVING']);
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    health.endWatches();
    expect((await ended).code).toBe(grpc.status.OK);
  });

  it('answers SERVICE_UNKNOWN on Watch for another name and keeps the stream open until shutdown', async () => {
    const stream = client.Watch({ service: 'no.such.Service' });
    const messages: string[] = [];
    stream.on('data', (m: Status) => messages.push(m.status));
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    await new Promise((resolve) => stream.once('data', resolve));
    health.setServing(true);
    expect(await check('')).toEqual({ status: 'SERVING' });
    health.endWatches();
    expect((await ended).code).toBe(grpc.status.OK);
    expect(messages).toEqual(['SERVICE_UNKNOWN']);
  });
});
