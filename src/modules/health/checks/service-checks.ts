import { Inventory } from '../../../config/inventory.schema';
import { ContainerInfo, DockerPort } from '../../../integrations/contracts';
import { CheckDefinition, CheckResult, describeFailure } from '../check';

type Result = Omit<CheckResult, 'durationMs'>;

/** The verdict for one expected service, from its container's state and health. */
export function serviceVerdict(service: Inventory['stack']['services'][number], container: ContainerInfo | undefined): Result {
  const base = { check: `service:${service.name}`, title: `${service.container} running${service.healthcheck ? ' and healthy' : ''}` };
  const expected = service.healthcheck ? 'running (healthy)' : 'running (no healthcheck expected)';
  const restartNext = `restart it (runbook: docker-compose up -d ${service.name}); see Common Issues: Issue 6 (API Container Crashes) for the backend, Emergency Procedures: System Complete Outage if several are down`;
  if (!container)
    return { ...base, verdict: 'fail', observed: 'missing: no such container in the compose project', expected, nextStep: restartNext };
  const restarts = container.restartCount > 0 ? `, restart count ${container.restartCount}` : '';
  switch (container.state) {
    case 'running':
      break;
    case 'restarting':
      return {
        ...base,
        verdict: 'fail',
        observed: `restarting (crash loop, last exit code ${container.exitCode}${restarts})`,
        expected,
        nextStep: `read its logs, then ${restartNext}`,
      };
    case 'paused':
      return {
        ...base,
        verdict: 'fail',
        observed: 'paused',
        expected,
        nextStep: `unpause it (docker-compose unpause ${service.name}) once the reason is understood`,
      };
    case 'exited':
    case 'dead':
      return {
        ...base,
        verdict: 'fail',
        observed: `${container.state} (exit code ${container.exitCode}${restarts})`,
        expected,
        nextStep: restartNext,
      };
    default:
      return { ...base, verdict: 'fail', observed: container.state, expected, nextStep: restartNext };
  }
  switch (container.health) {
    case 'healthy':
      return { ...base, verdict: 'pass', observed: `running (healthy${restarts})`, expected };
    case 'starting':
      return {
        ...base,
        verdict: 'warn',
        observed: `running (health: starting${restarts})`,
        expected,
        nextStep: 'wait for its healthcheck, then check again',
      };
    case 'unhealthy':
      return {
        ...base,
        verdict: 'fail',
        observed: `running (unhealthy, failing streak ${container.failingStreak}${restarts})`,
        expected,
        nextStep: `inspect its healthcheck log (docker inspect ${service.container}) and its logs, then ${restartNext}`,
      };
    default:
      // No healthcheck: reported as such, never as healthy.
      return service.healthcheck
        ? {
            ...base,
            verdict: 'fail',
            observed: `running, no healthcheck${restarts}`,
            expected,
            nextStep: 'the container defines no healthcheck although the inventory expects one: fix the compose file or the inventory',
          }
        : { ...base, verdict: 'pass', observed: `running, no healthcheck${restarts}`, expected };
  }
}

/** Runbook step 2: every service present, running, and healthy where it has a healthcheck. */
export function serviceChecks(inventory: Inventory, docker: DockerPort): CheckDefinition {
  return {
    id: 'services',
    title: 'compose services',
    timeoutMs: 3000,
    async run(ctx) {
      let containers: ContainerInfo[];
      try {
        containers = await docker.listProjectContainers(inventory.stack.composeProject, ctx);
      } catch (error) {
        const { verdict, observed } = describeFailure(error);
        return [
          {
            check: 'services',
            title: 'Docker engine answers',
            verdict: verdict === 'fail' ? 'unknown' : verdict,
            observed: `Docker engine: ${observed}`,
            expected: 'the Docker engine lists the compose project',
            nextStep: 'check the Docker engine on the production host (systemctl status docker)',
          },
        ];
      }
      const longRunning = containers.filter((c) => !c.oneOff);
      const byName = new Map(longRunning.map((c) => [c.name, c]));
      const expectedNames = new Set(inventory.stack.services.map((s) => s.container));
      const results: Result[] = inventory.stack.services.map((service) => serviceVerdict(service, byName.get(service.container)));
      for (const extra of longRunning.filter((c) => !expectedNames.has(c.name))) {
        results.push({
          check: `service-extra:${extra.name}`,
          title: `unexpected container ${extra.name}`,
          verdict: 'warn',
          observed: `${extra.name} (service ${extra.service ?? '?'}) is ${extra.state} in project ${inventory.stack.composeProject}`,
          expected: "only the inventory's services",
          nextStep: 'find out who started it; add it to the inventory or remove it',
        });
      }
      return results;
    },
  };
}
