import { z } from 'zod';
import { ProcedureDefinition, StepContext } from '../../src/procedures/procedure';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

type Params = { waitMs?: number };
const parameters = z.object({ waitMs: z.number().int().min(0).max(600_000).optional() }).strict();

/** What the fixture steps did, by run id (to prove a later step never ran). */
export const ran: string[] = [];

/**
 * A P3 fixture with steps `one` (waits waitMs, observing ctx.signal unless `ignoreSignal`)
 * and `two` (quick); both lock `test:<id>`.
 */
export function waitingProcedure(
  id: string,
  options: {
    ignoreSignal?: boolean;
    timeoutMs?: number;
    waitMs?: number;
    requiresApproval?: boolean;
    severity?: 'P1' | 'P2' | 'P3';
    domain?: 'system' | 'database';
    confirm?: string;
  } = {},
): ProcedureDefinition<Params> {
  const wait = (ctx: StepContext<Params>) => ctx.parameters.waitMs ?? options.waitMs ?? 100;
  return {
    id,
    title: `fixture ${id}`,
    severity: options.severity ?? 'P3',
    domain: options.domain ?? 'system',
    parameters,
    ...(options.confirm ? { confirmation: () => options.confirm! } : {}),
    locks: () => [`test:${id.replace(/\./g, '-')}`],
    requiresApproval: options.requiresApproval ?? false,
    steps: [
      {
        id: 'one',
        title: 'wait',
        timeoutMs: options.timeoutMs ?? 120_000,
        plan: async (ctx) => ({ waitMs: wait(ctx) }),
        run: async (ctx) => {
          ctx.progress({ percent: 0 });
          if (options.ignoreSignal) await sleep(wait(ctx));
          else await waitOrAbort(wait(ctx), ctx.signal);
          ran.push(`${ctx.runId}:one`);
          return { waited: wait(ctx) };
        },
      },
      {
        id: 'two',
        title: 'quick',
        timeoutMs: 5000,
        plan: async () => ({}),
        run: async (ctx) => {
          ran.push(`${ctx.runId}:two`);
          return { done: true };
        },
      },
    ],
  };
}

type SlotParams = { slot: number; waitMs?: number };
const slotParameters = z
  .object({ slot: z.number().int().min(0).max(9999), waitMs: z.number().int().min(0).max(60_000).optional() })
  .strict();

/**
 * A P3 fixture for load tests: one step that waits `waitMs` (default `options.waitMs`,
 * observing ctx.signal) and locks `test:<id>-<slot>`, so that each client of a load test
 * runs its own without 409s from the others.
 */
export function slottedProcedure(id: string, options: { waitMs?: number } = {}): ProcedureDefinition<SlotParams> {
  const wait = (ctx: StepContext<SlotParams>) => ctx.parameters.waitMs ?? options.waitMs ?? 1000;
  return {
    id,
    title: `fixture ${id}`,
    severity: 'P3',
    domain: 'system',
    parameters: slotParameters,
    locks: (p) => [`test:${id.replace(/\./g, '-')}-${p.slot}`],
    requiresApproval: false,
    steps: [
      {
        id: 'wait',
        title: 'wait',
        timeoutMs: 120_000,
        plan: async (ctx) => ({ waitMs: wait(ctx) }),
        run: async (ctx) => {
          await waitOrAbort(wait(ctx), ctx.signal);
          return { waited: wait(ctx) };
        },
      },
    ],
  };
}
