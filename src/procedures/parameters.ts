import { z } from 'zod';

/**
 * The zod building blocks of procedure parameters, so that every procedure words the same
 * mistake the same way (the message is what a 400 shows, under the parameter's name).
 */

/** A whole number in [min, max]: "must be a whole number of <what> from <min> to <max>, for example <example>". */
export function wholeNumber(what: string, min: number, max: number, example: number) {
  const error = `must be a whole number of ${what} from ${min} to ${max}, for example ${example}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A number (fractions allowed) in [min, max] of some unit, e.g. minutes. */
export function amount(what: string, min: number, max: number, example: number) {
  const error = `must be a number of ${what} from ${min} to ${max}, for example ${example}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

/** true or false, with a note on what false means when that is not obvious. */
export function flag(note?: string) {
  return z.boolean({ error: note ? `must be true or false (${note})` : 'must be true or false' });
}

/** A Prometheus range such as 30s, 5m or 1h. */
export function promRange() {
  return z
    .string({ error: 'must be a Prometheus range like 5m or 1h' })
    .regex(/^[1-9][0-9]{0,3}[smh]$/, { error: 'must be a Prometheus range like 5m, 30s or 1h' });
}
