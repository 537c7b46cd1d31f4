// A gRPC client for Authorization/Check and Health built from Envoy's
// official definitions (not ztauthz's proto/), so every test that talks to the
// server also exercises wire compatibility.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { OFFICIAL_INCLUDE_DIRS, LOCAL_PROTO_DIR } from './official-protos.ts';

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

const authDef = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
  ...LOADER_OPTIONS,
  includeDirs: [...OFFICIAL_INCLUDE_DIRS],
});
const healthDef = protoLoader.loadSync('grpc/health/v1/health.proto', { ...LOADER_OPTIONS, includeDirs: [LOCAL_PROTO_DIR] });

type Ctor = new (addr: string, creds: grpc.ChannelCredentials, opts?: grpc.ClientOptions) => grpc.Client;
const AuthorizationClient = (grpc.loadPackageDefinition(authDef) as any).envoy.service.auth.v3.Authorization as Ctor;
const HealthClient = (grpc.loadPackageDefinition(healthDef) as any).grpc.health.v1.Health as Ctor;

export interface CheckResult {
  status?: { code?: number; message?: string };
  okResponse?: {
    headers?: Array<{ header: { key: string; value: string } }>;
    headersToRemove?: string[];
    responseHeadersToAdd?: Array<{ header: { key: string; value: string } }>;
    queryParametersToSet?: Array<{ key: string; value: string }>;
    queryParametersToRemove?: string[];
  };
  deniedResponse?: { status?: { code?: string }; headers?: Array<{ header: { key: string; value: string } }>; body?: string };
  dynamicMetadata?: { fields: Record<string, any> };
}

export class CheckClient {
  readonly client: grpc.Client;
  readonly health: grpc.Client;

  /** A port on 127.0.0.1, or a whole target ("unix:///run/authz.sock"). */
  constructor(port: number | string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), opts: grpc.ClientOptions = {}) {
    const target = typeof port === 'number' ? `127.0.0.1:${port}` : port;
    this.client = new AuthorizationClient(target, creds, { 'grpc.max_send_message_length': 64 * 1024 * 1024, ...opts });
    this.health = new HealthClient(target, creds, opts);
  }

  check(request: object, deadlineMs = 5000): Promise<CheckResult> {
    return new Promise((resolve, reject) => {
      (this.client as any).Check(request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: CheckResult) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  healthCheck(service = ''): Promise<{ status: string }> {
    return new Promise((resolve, reject) => {
      (this.health as any).Check({ service }, (err: grpc.ServiceError | null, res: { status: string }) => (err ? reject(err) : resolve(res)));
    });
  }

  watch(service = ''): grpc.ClientReadableStream<{ status: string }> {
    return (this.health as any).Watch({ service });
  }

  close(): void {
    this.client.close();
    this.health.close();
  }
}

export interface RequestSpec {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  principal?: string;
  body?: string;
  rawBody?: Buffer;
  contextExtensions?: Record<string, string>;
}

/** A CheckRequest in proto-loader object form (camelCase), as Envoy would send it. */
export function checkRequest(spec: RequestSpec = {}): object {
  const http: Record<string, unknown> = {
    id: '1234',
    method: spec.method ?? 'GET',
    path: spec.path ?? '/',
    host: spec.host ?? 'svc.local',
    scheme: 'http',
    protocol: 'HTTP/1.1',
    headers: { ':method': spec.method ?? 'GET', ':path': spec.path ?? '/', ':authority': spec.host ?? 'svc.local', ...spec.headers },
  };
  if (spec.body !== undefined) http['body'] = spec.body;
  if (spec.rawBody !== undefined) http['rawBody'] = spec.rawBody;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.1', portValue: 51234 } },
        ...(spec.principal ? { principal: spec.principal } : {}),
      },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
      request: { time: { seconds: 1700000000, nanos: 0 }, http },
      ...(spec.contextExtensions ? { contextExtensions: spec.contextExtensions } : {}),
    },
  };
}

export function headerValue(res: CheckResult, key: string): string | undefined {
  const list = res.okResponse?.headers ?? res.deniedResponse?.headers ?? [];
  return list.find((h) => h.header.key === key)?.header.value;
}
