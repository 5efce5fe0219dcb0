/** Waits for `closing` at most `ms`: a queue or worker on an unreachable Redis must not hold a shutdown. */
export async function closeWithin(closing: Promise<unknown> | undefined, ms = 2000): Promise<void> {
  if (!closing) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
