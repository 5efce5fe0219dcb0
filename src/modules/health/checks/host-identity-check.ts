import { Inventory } from '../../../config/inventory.schema';
import { DockerPort } from '../../../integrations/contracts';
import { CheckDefinition, describeFailure, singleCheck } from '../check';

const WRONG_HOST_NEXT =
  'the control plane reaches another Docker engine than the ERP host: check stack.dockerHost (or DOCKER_HOST) and the inventory before acting on any other item';

/** Runbook step 1 ("SSH to server; check hostname"): the Docker engine reached is the ERP host's. */
export function hostIdentityCheck(inventory: Inventory, docker: DockerPort): CheckDefinition {
  const { hostName, engineId } = inventory.stack;
  const pinned = [hostName && `host ${hostName}`, engineId && `engine ${engineId}`].filter(Boolean).join(', ');
  return singleCheck(
    {
      id: 'host:identity',
      title: 'the Docker engine reached is the ERP host (hostname)',
      timeoutMs: 2000,
      expected: pinned || 'any host (stack.hostName not set)',
      nextStep: WRONG_HOST_NEXT,
      system: 'Docker engine',
    },
    async (ctx) => {
      let info: Awaited<ReturnType<DockerPort['engineInfo']>>;
      try {
        info = await docker.engineInfo(ctx);
      } catch (error) {
        // No engine to ask: which host it would be cannot be told (the services item says why it is unreachable).
        return { verdict: 'unknown', observed: `Docker engine: cannot tell which host: ${describeFailure(error).observed}` };
      }
      const observed = `host ${info.name}, engine ${info.id}`;
      const wrong = [
        hostName && info.name.toLowerCase() !== hostName.toLowerCase() ? `host name ${info.name}, not ${hostName}` : null,
        engineId && info.id !== engineId ? `engine ${info.id}, not ${engineId}` : null,
      ].filter(Boolean);
      if (wrong.length) return { verdict: 'fail', observed: `another host: ${wrong.join('; ')}` };
      return { verdict: 'pass', observed: pinned ? observed : `${observed} (not pinned: set stack.hostName to check it)` };
    },
  );
}
