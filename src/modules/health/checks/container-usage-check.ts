/**
 * metric:cpu-memory: CPU and memory of the stack's containers (docker stats through the
 * Docker engine, so on the ERP host), summed over the inventory's containers and judged
 * against the runbook's bands. Gives two results: metric:cpu and metric:memory.
 */
import { Inventory } from '../../../config/inventory.schema';
import { ContainerStats, DockerPort } from '../../../integrations/contracts';
import { bandVerdict, CheckContext, CheckDefinition, CheckResult, describeFailure } from '../check';

type Result = Omit<CheckResult, 'durationMs'>;

export const ISSUE2 = 'see Common Issues: Issue 2 (High API Response Time): procedure api.high-latency';

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Each container's statistics (the sampler's cached reading when there is one), undefined where the engine did not answer. */
async function readStats(
  containers: string[],
  docker: DockerPort,
  cached: (container: string) => ContainerStats | undefined,
  ctx: CheckContext,
): Promise<(ContainerStats | undefined)[]> {
  return Promise.all(
    containers.map(
      (c) =>
        cached(c) ??
        docker.stats(c, ctx).then(
          (s) => s,
          () => undefined,
        ),
    ),
  );
}

/** Both results unknown, saying why: the engine's failure when it does not answer at all. */
async function noStatistics(docker: DockerPort, ctx: CheckContext, expected: { cpu: string; memory: string }): Promise<Result[]> {
  let observed = 'no container statistics';
  try {
    await docker.ping(ctx);
  } catch (error) {
    observed = `Docker engine: ${describeFailure(error).observed}`;
  }
  return [
    { check: 'metric:cpu', title: 'CPU usage', verdict: 'unknown', observed, expected: expected.cpu },
    { check: 'metric:memory', title: 'memory usage', verdict: 'unknown', observed, expected: expected.memory },
  ];
}

function judge(known: ContainerStats[], total: number, inventory: Inventory, expected: { cpu: string; memory: string }): Result[] {
  const t = inventory.thresholds;
  const cpu = known.reduce((sum, s) => sum + s.cpuPercent, 0);
  const memory = known.reduce((sum, s) => sum + s.memoryBytes, 0);
  const limit = Math.max(...known.map((s) => s.memoryLimitBytes));
  const memoryPercent = limit > 0 ? (memory / limit) * 100 : 0;
  const cpuVerdict = bandVerdict(cpu, t.cpuPercent);
  const memVerdict = bandVerdict(memoryPercent, t.memoryPercent);
  const partial = known.length < total ? ` (${known.length} of ${total} containers)` : '';
  return [
    {
      check: 'metric:cpu',
      title: 'CPU usage',
      verdict: cpuVerdict,
      observed: `${round(cpu)} %${partial}`,
      expected: expected.cpu,
      ...(cpuVerdict === 'pass' ? {} : { nextStep: ISSUE2 }),
    },
    {
      check: 'metric:memory',
      title: 'memory usage',
      verdict: memVerdict,
      observed: `${round(memoryPercent)} % (${round(memory / 2 ** 20, 0)} MiB of ${round(limit / 2 ** 20, 0)} MiB)${partial}`,
      expected: expected.memory,
      ...(memVerdict === 'pass' ? {} : { nextStep: ISSUE2 }),
    },
  ];
}

export function containerUsageCheck(
  inventory: Inventory,
  docker: DockerPort,
  cached: (container: string) => ContainerStats | undefined,
): CheckDefinition {
  const t = inventory.thresholds;
  const expected = {
    cpu: `< ${t.cpuPercent.fail} % (warn at ${t.cpuPercent.warn} %)`,
    memory: `< ${t.memoryPercent.fail} % (warn at ${t.memoryPercent.warn} %)`,
  };
  return {
    id: 'metric:cpu-memory',
    title: 'CPU and memory of the stack',
    timeoutMs: 4000,
    async run(ctx) {
      const containers = inventory.stack.services.map((s) => s.container);
      const known = (await readStats(containers, docker, cached, ctx)).filter((s) => s !== undefined);
      return known.length === 0 ? noStatistics(docker, ctx, expected) : judge(known, containers.length, inventory, expected);
    },
  };
}
