/** Waits for `closing` at most `ms`: a queue or worker on an unreachable Redis must not hold a shutdown. */
export async function closeWithin(closing: Promise<unknown> | undefined, ms = 2000): Promise<void> {
  if (!closing) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

interface QueueClient {
  close(): Promise<unknown>;
  disconnect(): Promise<unknown>;
}

/**
 * Shuts a BullMQ worker and queue down: a job in progress may finish (a while), then the
 * connections are dropped whatever Redis does.
 */
export async function closeQueueClients(clients: {
  worker?: QueueClient;
  queue?: QueueClient;
  connection?: { disconnect(): void };
}): Promise<void> {
  await closeWithin(clients.worker?.close(), 5000);
  await closeWithin(clients.worker?.disconnect());
  await closeWithin(clients.queue?.close());
  await closeWithin(clients.queue?.disconnect());
  clients.connection?.disconnect();
}
