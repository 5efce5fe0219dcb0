/**
 * Alertmanager's webhook payload (version 4). Unknown fields are dropped (a newer
 * Alertmanager may add some); every field we store is checked and named when wrong.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** RFC 3339 as Alertmanager writes it (nanoseconds, Z or offset); 0001-01-01T00:00:00Z is "not ended". */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const timestamp = z
  .string({ error: 'must be an RFC 3339 time, for example 2026-01-19T02:00:00Z' })
  .regex(RFC3339, { error: 'must be an RFC 3339 time, for example 2026-01-19T02:00:00Z' })
  .refine((v) => !Number.isNaN(Date.parse(v)), { error: 'must be an RFC 3339 time, for example 2026-01-19T02:00:00Z' });

const labelSet = z.record(
  z.string().min(1, { error: 'label names must not be empty' }).max(256, { error: 'label names must be at most 256 characters' }),
  z.string({ error: 'label values must be strings' }).max(8192, { error: 'label values must be at most 8192 characters' }),
  { error: 'must be an object of string labels' },
);

const status = z.enum(['firing', 'resolved'], { error: 'must be firing or resolved' });

const webhookAlert = z.object({
  status,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string({ error: 'must be a string' }).max(4096, { error: 'must be at most 4096 characters' }).optional(),
  fingerprint: z
    .string({ error: "must be the alert's fingerprint (hex)" })
    .regex(/^[0-9a-fA-F]{1,64}$/, { error: "must be the alert's fingerprint (hex)" }),
});

export const webhookPayload = z.object({
  version: z.literal('4', { error: 'must be "4" (Alertmanager\'s webhook payload version)' }),
  groupKey: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(4096, { error: 'must be at most 4096 characters' }),
  truncatedAlerts: z
    .number({ error: 'must be a whole number ≥ 0' })
    .int({ error: 'must be a whole number ≥ 0' })
    .min(0, { error: 'must be a whole number ≥ 0' })
    .max(2_147_483_647, { error: 'must be at most 2147483647' })
    .default(0),
  status,
  receiver: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(255, { error: 'must be at most 255 characters' }),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string({ error: 'must be a string' }).max(4096, { error: 'must be at most 4096 characters' }).optional(),
  alerts: z
    .array(webhookAlert, { error: 'must be an array of alerts' })
    .min(1, { error: 'must hold at least one alert' })
    .max(5000, { error: 'must hold at most 5000 alerts' }),
});

export type WebhookPayload = z.infer<typeof webhookPayload>;

/** The problems of a payload, each naming its field (alerts.0.fingerprint: …). */
export function payloadProblems(error: z.ZodError): { field: string; problem: string }[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : 'body',
    problem: issue.path.length ? issue.message : "must be a JSON object: Alertmanager's webhook payload (version 4)",
  }));
}

/**
 * The identity of a notification: its group, its status and the sorted
 * fingerprint:status:startsAt of its alerts. A retry (5xx, timeout) or a repeat of the same
 * notification has the same key; the same alerts firing again later (a new startsAt) do not.
 */
export function dedupeKey(payload: Pick<WebhookPayload, 'groupKey' | 'status' | 'alerts'>): string {
  const alerts = payload.alerts.map((a) => `${a.fingerprint.toLowerCase()}:${a.status}:${Date.parse(a.startsAt)}`).sort();
  return createHash('sha256')
    .update(JSON.stringify([payload.groupKey, payload.status, alerts]))
    .digest('hex');
}
