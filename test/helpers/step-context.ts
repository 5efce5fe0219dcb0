import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseInventory } from '../../src/config/inventory.loader';
import { Inventory } from '../../src/config/inventory.schema';
import { EarlierStep, earlierSteps, StepContext, StepOutput } from '../../src/procedures/procedure';

const ROOT = resolve(__dirname, '..', '..', '..');

/** The example inventory (ops.example.yaml), or the stand-in's (stack/ops.stack.yaml). */
export function exampleInventory(file = 'ops.example.yaml'): Inventory {
  const path = join(ROOT, file);
  return parseInventory(readFileSync(path, 'utf8'), path, {});
}

export interface TestStepContext<P> extends StepContext<P> {
  /** What the step logged (info and warn), in order. */
  logged: string[];
  /** What the step reported as progress, in order. */
  progressed: Record<string, unknown>[];
}

/**
 * A StepContext for calling one step alone in a unit test: the example inventory, a fixed
 * clock, an operator as requester, and the earlier steps' outputs given by id.
 */
export function stepContext<P>(
  parameters: P,
  options: {
    inventory?: Inventory;
    outputs?: Record<string, StepOutput>;
    requester?: StepContext<P>['requester'];
    now?: Date;
    signal?: AbortSignal;
  } = {},
): TestStepContext<P> {
  const now = options.now ?? new Date('2026-03-02T08:00:00Z');
  const earlier: EarlierStep[] = Object.entries(options.outputs ?? {}).map(([id, output]) => ({
    id,
    title: id,
    startedAt: now,
    finishedAt: now,
    output,
  }));
  const logged: string[] = [];
  const progressed: Record<string, unknown>[] = [];
  return {
    runId: '00000000-0000-4000-8000-000000000001',
    parameters,
    inventory: options.inventory ?? exampleInventory(),
    signal: options.signal ?? new AbortController().signal,
    requester: options.requester ?? { username: 'olga', userId: '00000000-0000-4000-8000-0000000000aa', role: 'operator' },
    ...earlierSteps(earlier),
    log: { info: (m) => void logged.push(m), warn: (m) => void logged.push(`warn: ${m}`) },
    now: () => now,
    progress: (update) => void progressed.push(update),
    logged,
    progressed,
  };
}
