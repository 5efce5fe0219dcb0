/** Disk cleanup's prune: stopped containers that are no inventory service's, and dangling images nothing uses. */
import { Inventory } from '../../../../config/inventory.schema';
import { ContainerSummary, ImageSummary } from '../../../../integrations/contracts';
import { defineStep } from '../../../../procedures/procedure';
import { call, CleanupContext, DiskCleanupDeps, DiskCleanupParameters, explained, MINUTE } from './shared';

/** Container states `docker container prune` removes. */
const STOPPED = ['created', 'exited', 'dead'];

/** Why a container must never be pruned (an inventory service's container), or null. */
export function protectedBecause(c: ContainerSummary, inventory: Inventory): string | null {
  if (inventory.stack.services.some((s) => s.container === c.name))
    return `the container of an inventory service (stack.services): a stopped service is someone's decision, not garbage`;
  const labels = c.labels;
  if (
    labels['com.docker.compose.project'] === inventory.stack.composeProject &&
    inventory.stack.services.some((s) => s.name === (labels['com.docker.compose.service'] ?? '')) &&
    labels['com.docker.compose.oneoff'] !== 'True'
  ) {
    return `a container of the compose service ${labels['com.docker.compose.service']} of project ${inventory.stack.composeProject}`;
  }
  return null;
}

/** Splits the engine's containers and dangling images into what prune removes and what it keeps (and why). */
export function pruneSelection(all: ContainerSummary[], dangling: ImageSummary[], inventory: Inventory) {
  const stopped = all.filter((c) => STOPPED.includes(c.state));
  const containers = stopped.filter((c) => !protectedBecause(c, inventory));
  const kept = stopped
    .filter((c) => protectedBecause(c, inventory))
    .map((c) => ({ id: c.id.slice(0, 12), name: c.name, state: c.state, reason: protectedBecause(c, inventory) }));
  const removed = new Set(containers.map((c) => c.id));
  const staying = all.filter((c) => !removed.has(c.id));
  const usedBy = (i: ImageSummary) => staying.filter((c) => c.imageId === i.id).map((c) => c.name);
  return {
    containers,
    kept,
    images: dangling.filter((i) => usedBy(i).length === 0),
    imagesKept: dangling
      .filter((i) => usedBy(i).length > 0)
      .map((i) => ({ id: i.id, sizeBytes: i.sizeBytes, reason: `used by ${usedBy(i).join(', ')}` })),
  };
}

async function pruneTargets(docker: DiskCleanupDeps['docker'], ctx: CleanupContext) {
  const all = await docker.listContainers({ all: true, size: true }, call(ctx, 60_000));
  const images = await docker.listImages({ dangling: true }, call(ctx, 30_000));
  return pruneSelection(all, images, ctx.inventory);
}

export const showContainer = (c: ContainerSummary) => ({
  id: c.id.slice(0, 12),
  name: c.name,
  image: c.image,
  state: c.state,
  status: c.status,
  createdAt: c.createdAt,
  sizeBytes: c.sizeRwBytes ?? 0,
  oneOff: c.labels['com.docker.compose.oneoff'] === 'True',
});
export const showImage = (i: ImageSummary) => ({ id: i.id, createdAt: i.createdAt, sizeBytes: i.sizeBytes });

/** Removes what pruneTargets chose; a removal that fails is listed, the others go on. */
async function prune(docker: DiskCleanupDeps['docker'], ctx: CleanupContext) {
  const t = await pruneTargets(docker, ctx);
  const removedContainers: ReturnType<typeof showContainer>[] = [];
  const removedImages: ReturnType<typeof showImage>[] = [];
  const skipped: { target: string; reason: string }[] = [];
  for (const c of t.containers) {
    if (ctx.signal.aborted) throw new Error('cancelled while removing containers');
    if (protectedBecause(c, ctx.inventory)) continue; // never: checked again right before
    try {
      await docker.removeContainer(c.id, call(ctx, 60_000));
      removedContainers.push(showContainer(c));
    } catch (error) {
      skipped.push({ target: `container ${c.name}`, reason: (error as Error).message });
    }
  }
  for (const i of t.images) {
    if (ctx.signal.aborted) throw new Error('cancelled while removing images');
    try {
      await docker.removeImage(i.id, call(ctx, 60_000));
      removedImages.push(showImage(i));
    } catch (error) {
      skipped.push({ target: `image ${i.id}`, reason: (error as Error).message });
    }
  }
  const reclaimedBytes = removedContainers.reduce((s, c) => s + c.sizeBytes, 0) + removedImages.reduce((s, i) => s + i.sizeBytes, 0);
  return { removedContainers, removedImages, skipped, neverRemoved: t.kept, imagesKept: t.imagesKept, reclaimedBytes };
}

export const pruneStep = ({ docker }: Pick<DiskCleanupDeps, 'docker'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'prune',
    title: 'Remove stopped containers that are not inventory services, and dangling images',
    timeoutMs: 10 * MINUTE,
    plan: async (ctx) => {
      const t = await pruneTargets(docker, ctx);
      return {
        containers: t.containers.map(showContainer),
        images: t.images.map(showImage),
        neverRemoved: t.kept,
        imagesKept: t.imagesKept,
        bytesToFree: t.containers.reduce((s, c) => s + (c.sizeRwBytes ?? 0), 0) + t.images.reduce((s, i) => s + i.sizeBytes, 0),
      };
    },
    run: (ctx) =>
      explained(
        'pruning containers and images',
        'check the Docker engine (docker info); running the procedure again removes only what is still stopped or dangling',
        () => prune(docker, ctx),
      ),
  });
