// OPA's own configuration keys (services, bundles, keys, persistence_directory,
// status, labels),
// accepted as OPA writes them so an opa-envoy-plugin config file works as it is.
// Only what ztauthz implements is in the shapes: a credential or option it does
// not implement is refused with a line saying so (config/opa.ts) instead of
// being ignored. Part of the schema in ../schema.ts.
import { z } from 'zod';
import { LABELS } from '../labels.ts';
import { bool, MiB, mapping, oneOf, record, section, str } from './fields.ts';

const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] as const;

const seconds = (min: number, max: number) => z.int({ error: 'must be a whole number of seconds' }).min(min).max(max);

/** One entry of services: a bundle server or an OCI registry. */
export const SERVICE = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  type: z.enum(['oci'], { error: 'must be "oci" or absent (an OPA bundle server)' }).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  response_header_timeout_seconds: seconds(1, 3600).optional(),
  allow_insecure_tls: z.literal(false, { error: 'true is not supported: ztauthz always verifies the server certificate' }).optional(),
  tls: z.strictObject({ ca_cert: z.string().min(1), system_ca_required: z.boolean().optional() }).optional(),
  credentials: z
    .strictObject({
      bearer: z
        .strictObject({ token: z.string().min(1).optional(), token_path: z.string().min(1).optional(), scheme: z.string().min(1).optional() })
        .refine((b) => (b.token === undefined) !== (b.token_path === undefined), { error: 'set exactly one of token and token_path' })
        .optional(),
      client_tls: z.strictObject({ cert: z.string().min(1), private_key: z.string().min(1) }).optional(),
    })
    .optional(),
});

/** One entry of bundles. */
export const BUNDLE = z.strictObject({
  service: z.string().min(1),
  resource: z.string().min(1).optional(),
  persist: z.boolean().optional(),
  size_limit_bytes: z
    .int()
    .min(1024)
    .max(256 * MiB)
    .optional(),
  polling: z
    .strictObject({
      min_delay_seconds: seconds(1, 86400).optional(),
      max_delay_seconds: seconds(1, 86400).optional(),
      long_polling_timeout_seconds: seconds(1, 3600).optional(),
    })
    .optional(),
  signing: z
    .strictObject({
      keyid: z.string().min(1),
      scope: z.string().min(1).optional(),
      exclude_files: z.array(z.string()).max(0, { error: 'is not supported: every file of a signed bundle must be listed' }).optional(),
    })
    .optional(),
});

/** One entry of keys: a verification key for signed bundles. */
export const KEY = z.strictObject({
  key: z.string().min(1),
  algorithm: z.enum(SIGNING_ALGORITHMS).optional(),
  scope: z.string().min(1).optional(),
});

export const OPA = {
  services: mapping(
    SERVICE,
    'OPA\'s services (as in an OPA or opa-envoy-plugin config file): name -> {url, type ("oci" for an OCI registry), headers, credentials.bearer {token | token_path, scheme}, credentials.client_tls {cert, private_key}, tls.ca_cert, response_header_timeout_seconds}. Other credentials (oauth2, s3_signing, gcp_metadata, azure_managed_identity, plugin) are refused. See docs/bundles.md.',
  ),
  bundles: mapping(
    BUNDLE,
    "OPA's bundles: name -> {service, resource (default bundles/<name>), polling {min_delay_seconds 60, max_delay_seconds 120, long_polling_timeout_seconds}, signing {keyid, scope}, persist, size_limit_bytes}. Downloaded per OPA's bundle protocol (ETag, long polling) and served in place of policy.path; several bundles (at most 16) are combined into one policy, their manifest roots must not overlap; /readyz answers ready once every bundle has loaded. See docs/bundles.md.",
  ),
  keys: mapping(
    KEY,
    "OPA's keys: id -> {key (PEM public key, or the secret for HS*), algorithm (default RS256), scope}, named by bundles.<name>.signing.keyid.",
  ),
  persistence_directory: str(
    '',
    'Where bundles with persist: true keep their last good copy (read at start when the service cannot be reached). Empty: .opa in the working directory, as OPA.',
  ),
  status: section({
    service: str(
      '',
      "The service (in services) status reports are POSTed to, at <url>/status[/<partition_name>], as OPA's status plugin does: on start, after every bundle poll, activation or failure, and a last one at stop. Empty with a status section in the file: the first service unless console or prometheus is on, as OPA; empty otherwise: no reports. See docs/bundles.md.",
    ),
    partition_name: str('', 'Appended to the status path (/status/<partition_name>), to route reports to different backends.'),
    console: bool(false, 'Also write each status report to the service log (info, "msg":"status report").'),
    trigger: oneOf(
      ['periodic', 'manual'],
      'periodic',
      "periodic: report on every bundle change, as OPA's default. manual is refused (ztauthz has no SDK to trigger a report).",
    ),
    prometheus: bool(false, "Accepted for OPA config files: ztauthz's /metrics always carries the bundle metrics (ztauthz_bundle_*), so it changes nothing."),
  }),
  labels: record(
    LABELS,
    'Labels (name -> string) sent with every status report and in every uploaded decision record (decision_log.upload); ztauthz adds id (a random instance id chosen at start) and version, which may not be set here.',
  ),
};
