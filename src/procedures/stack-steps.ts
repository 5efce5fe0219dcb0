import { setTimeout as sleep } from 'node:timers/promises';
import { Inventory } from '../config/inventory.schema';
import { DockerPort, HttpProbePort } from '../integrations/contracts';

/** The container of an inventory service (its name may differ per stack: inventory). */
export function containerOf(inventory: Inventory, service: string): string {
  const found = inventory.stack.services.find((s) => s.name === service);
  if (!found) throw new Error(`stack.services has no ${service} service`);
  return found.container;
}

/**
 * Waits until the backend container runs (healthy, when it has a healthcheck) and its health
 * URL answers 2xx, for at most `seconds` (default backups.backendHealthySeconds).
 */
export async function waitBackendHealthy(
  inventory: Inventory,
  docker: DockerPort,
  http: HttpProbePort,
  signal: AbortSignal,
  seconds = inventory.backups.backendHealthySeconds,
): Promise<Record<string, unknown>> {
  const name = containerOf(inventory, 'backend');
  const hasHealthcheck = inventory.stack.services.find((s) => s.name === 'backend')?.healthcheck ?? false;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let last = 'not checked yet';
  while (Date.now() < deadline) {
    if (signal.aborted) throw new Error('cancelled while waiting for the backend');
    try {
      // The container's state and the health URL, asked at once.
      const [info, probe] = await Promise.all([
        docker.inspectContainer(name, { timeoutMs: 5000 }),
        http.get(inventory.urls.backendHealth, { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, error: e.message })),
      ]);
      const healthy = info.state === 'running' && (!hasHealthcheck || info.health === 'healthy');
      if (healthy && probe.status >= 200 && probe.status < 300)
        return { container: name, state: info.state, health: info.health, healthUrlStatus: probe.status, waitedMs: Date.now() - started };
      last = `container ${info.state}/${info.health}, ${inventory.urls.backendHealth} → ${probe.status || (probe as { error?: string }).error}`;
    } catch (error) {
      last = (error as Error).message;
    }
    // Asking is cheap (a few ms each): a short period notices the healthcheck's verdict early.
    await sleep(50);
  }
  throw new Error(`the backend was not healthy within ${seconds} s (${last})`);
}

/** Starts the backend (already running is fine; failures are swallowed: best effort). */
export async function startBackend(inventory: Inventory, docker: DockerPort): Promise<void> {
  await docker.startContainer(containerOf(inventory, 'backend'), { timeoutMs: 30_000 }).catch(() => undefined);
}
