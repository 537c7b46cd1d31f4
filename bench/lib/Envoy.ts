// A real Envoy (.tools/bin/envoy) for the latency ztauthz adds: a plaintext
// HTTP/2 listener routing every request to a gRPC upstream, optionally with
// the ext_authz filter calling ztauthz first. Ports are picked by the OS
// (listener and admin on port 0; the admin address from --admin-address-path,
// the listener's from the admin /listeners).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPinned, type Pinned } from './Pinned.ts';

export interface EnvoyOptions {
  readonly envoy: string;
  readonly cores: string;
  /** Where the bootstrap and the admin address file go. */
  readonly dir: string;
  /** The gRPC upstream every request is routed to. */
  readonly upstreamPort: number;
  /** ztauthz's gRPC port: adds the ext_authz filter. */
  readonly authzPort?: number;
}

export interface RunningEnvoy {
  readonly process: Pinned;
  readonly listenPort: number;
  readonly adminPort: number;
  /** Counters from the admin /stats whose names match `filter`. */
  stats(filter: string): Promise<Record<string, number>>;
}

const http2Cluster = (name: string, port: number): string => `
    - name: ${name}
      type: STATIC
      connect_timeout: 0.25s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options: {}
      load_assignment:
        cluster_name: ${name}
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: ${port} }`;

// As deploy/envoy/ext-authz.yaml: gRPC, 0.5 s, fail closed, V3. No request
// body (the gRPC messages here are CheckRequests; nothing reads them).
const EXT_AUTHZ = `
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      grpc_service:
                        envoy_grpc: { cluster_name: ztauthz }
                        timeout: 0.5s
                      transport_api_version: V3
                      failure_mode_allow: false`;

export function bootstrap(o: Pick<EnvoyOptions, 'upstreamPort' | 'authzPort'>): string {
  return `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
overload_manager:
  resource_monitors:
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: 10000
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: { address: 127.0.0.1, port_value: 0 }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                codec_type: AUTO
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: upstream }
                http_filters:${o.authzPort ? EXT_AUTHZ : ''}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:${http2Cluster('upstream', o.upstreamPort)}${o.authzPort ? http2Cluster('ztauthz', o.authzPort) : ''}
`;
}

export async function startEnvoy(o: EnvoyOptions): Promise<RunningEnvoy> {
  const config = join(o.dir, `envoy-${o.authzPort ? 'ext-authz' : 'alone'}.yaml`);
  const adminFile = `${config}.admin`;
  writeFileSync(config, bootstrap(o));
  const p = await startPinned({
    cores: o.cores,
    command: o.envoy,
    // --concurrency 1: one worker thread, on the one core it is pinned to.
    args: ['-c', config, '--disable-hot-restart', '--concurrency', '1', '--admin-address-path', adminFile, '--log-level', 'info'],
    cwd: o.dir,
    ready: /starting main dispatch loop/,
    timeoutMs: 30_000,
  });
  try {
    const adminPort = Number(/:(\d+)$/.exec(readFileSync(adminFile, 'utf8').trim())?.[1]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`).then(
        (r) => r.text(),
        () => '',
      );
      if (ready.trim() === 'LIVE') break;
      if (Date.now() > deadline) throw new Error(`envoy not LIVE: ${p.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const listeners = (await (await fetch(`http://127.0.0.1:${adminPort}/listeners?format=json`)).json()) as {
      listener_statuses: Array<{ name: string; local_address: { socket_address: { port_value: number } } }>;
    };
    const listenPort = listeners.listener_statuses.find((l) => l.name === 'ingress')?.local_address.socket_address.port_value;
    if (!listenPort) throw new Error(`envoy: no ingress listener in ${JSON.stringify(listeners)}`);
    return {
      process: p,
      listenPort,
      adminPort,
      stats: async (filter) => {
        const text = await (await fetch(`http://127.0.0.1:${adminPort}/stats?filter=${encodeURIComponent(filter)}`)).text();
        const out: Record<string, number> = {};
        for (const m of text.matchAll(/^([^:\n]+): (\d+)$/gm)) out[m[1]!] = Number(m[2]);
        return out;
      },
    };
  } catch (err) {
    await p.stop();
    throw err;
  }
}
