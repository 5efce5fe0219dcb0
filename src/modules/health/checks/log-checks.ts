import { Inventory } from '../../../config/inventory.schema';
import { DockerPort } from '../../../integrations/contracts';
import { CheckDefinition, CheckResult, describeFailure } from '../check';

const MAX_LINES = 5;
const MAX_LINE_LENGTH = 300;

/** Docker's timestamps=1 prefix: `2026-01-19T02:00:00.123456789Z message`. */
function splitTimestamp(line: string): { at?: number; text: string } {
  const match = line.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s(.*)$/s);
  return match ? { at: Date.parse(match[1]), text: match[2] } : { text: line };
}

/** Runbook step 3: the last N log lines of each service, scanned for errors (grep -i error). */
/** `since`: only lines from then on count (a smoke test after a recovery ignores the outage's own lines). */
export function logChecks(inventory: Inventory, docker: DockerPort, now: () => Date, since?: Date): CheckDefinition[] {
  const pattern = new RegExp(inventory.logs.pattern, 'i');
  return inventory.stack.services.map((service) => ({
    id: `logs:${service.name}`,
    title: `no error lines in ${service.container}'s last ${inventory.logs.tail} log lines`,
    timeoutMs: 3000,
    async run(ctx) {
      const base = {
        check: `logs:${service.name}`,
        title: `no error lines in ${service.container}'s logs`,
        expected: `no line matching /${inventory.logs.pattern}/i in the last ${inventory.logs.tail}`,
      };
      let lines: string[];
      try {
        lines = await docker.tailLogs(service.container, inventory.logs.tail, { ...ctx, timestamps: true });
      } catch (error) {
        const { observed } = describeFailure(error);
        return [{ ...base, verdict: 'unknown', observed: `logs not read: ${observed}` }];
      }
      const windowStart = inventory.logs.windowSeconds > 0 ? now().getTime() - inventory.logs.windowSeconds * 1000 : -Infinity;
      const from = Math.max(windowStart, since?.getTime() ?? -Infinity);
      const matching = lines
        .map(splitTimestamp)
        .filter((l) => (l.at === undefined || l.at >= from) && pattern.test(l.text))
        .map((l) => l.text.slice(0, MAX_LINE_LENGTH));
      if (matching.length === 0)
        return [
          { ...base, verdict: 'pass', observed: `no error lines in ${lines.length} lines` } satisfies Omit<CheckResult, 'durationMs'>,
        ];
      return [
        {
          ...base,
          verdict: 'fail',
          observed: `${matching.length} error line(s), last: ${matching[matching.length - 1]}`,
          nextStep: `investigate with docker-compose logs ${service.name} (runbook step 3); then the matching Common Issue`,
          details: { lines: matching.slice(-MAX_LINES), total: matching.length },
        },
      ];
    },
  }));
}
