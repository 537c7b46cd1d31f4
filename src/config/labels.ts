// OPA's top-level `labels`: name -> string, sent with every status report and
// decision-log upload so a control plane can tell instances apart. As in OPA,
// two labels are always present and set by ztauthz itself: `id` (this process's
// instance id, a random UUID chosen at start) and `version` (ztauthz's
// version). A file that sets either is refused rather than silently
// overridden. Shared by status reports and decision-log upload.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Labels ztauthz sets itself. */
export const RESERVED_LABELS = ['id', 'version'] as const;

/** Enough for any real deployment, small enough to send with every report. */
export const MAX_LABELS = 64;
const MAX_LABEL_VALUE = 1024;

/** The schema of `labels` (a field in config/schema/opa.ts). */
export const LABELS = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { error: 'must be a name of letters, digits, _ . -' }),
    z.string({ error: 'must be a string (quote numbers and booleans)' }).max(MAX_LABEL_VALUE, { error: `must be at most ${MAX_LABEL_VALUE} characters` }),
    { error: 'must be a mapping of label names to strings' },
  )
  .superRefine((labels, ctx) => {
    const n = Object.keys(labels).length;
    if (n > MAX_LABELS) ctx.addIssue({ code: 'custom', message: `has ${n} labels; at most ${MAX_LABELS}`, input: labels });
    for (const k of RESERVED_LABELS) {
      if (Object.hasOwn(labels, k))
        ctx.addIssue({
          code: 'custom',
          path: [k],
          message: `is set by ztauthz (${k === 'id' ? 'the instance id' : "ztauthz's version"}); remove it`,
          input: labels[k],
        });
    }
  });

let instanceId: string | undefined;

/** This process's instance id: chosen once, the same in every report and upload. */
export function instanceLabel(): string {
  instanceId ??= randomUUID();
  return instanceId;
}

let version: string | undefined;

/** ztauthz's version, from its package.json (src/config/, dist/config/ and the Bun bundle in dist/bun/ all sit two directories below it). */
export function ztauthzVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}

/** The labels as sent: the configured ones plus id and version. */
export function effectiveLabels(configured: Readonly<Record<string, string>>): Record<string, string> {
  return { ...configured, id: instanceLabel(), version: ztauthzVersion() };
}
