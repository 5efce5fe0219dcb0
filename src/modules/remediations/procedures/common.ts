import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { NotificationDelivery, NotificationMessage, NotifierPort } from '../../../integrations/contracts';
import { maskCredentialsInText } from '../../../common/secrets';

export const MINUTE = 60_000;

/**
 * Sends a notification and reports what happened: a failed notification is recorded in the
 * step's output (on the run), it never fails the step.
 */
export async function notifyRecorded(
  notifier: NotifierPort,
  message: NotificationMessage,
  signal?: AbortSignal,
): Promise<{ notified: NotificationDelivery[]; allDelivered: boolean }> {
  try {
    // Notifications quote log lines and errors: credentials in them are masked first.
    const masked: NotificationMessage = {
      ...message,
      subject: maskCredentialsInText(message.subject),
      text: maskCredentialsInText(message.text),
      ...(message.html ? { html: maskCredentialsInText(message.html) } : {}),
    };
    const deliveries = await notifier.send(masked, { signal, timeoutMs: 10_000 });
    return { notified: deliveries, allDelivered: deliveries.every((d) => d.delivered || d.skipped) };
  } catch (error) {
    return {
      notified: [{ channel: 'chat', target: 'notifier', delivered: false, error: (error as Error).message, attempts: 0, ms: 0 }],
      allDelivered: false,
    };
  }
}

/** The host's resources as the runbook's "check server resources" means: load, memory, disk. */
export async function hostResources(paths: string[]): Promise<Record<string, unknown>> {
  const disks = await Promise.all(
    paths.map(async (path) => {
      try {
        const fs = await statfs(path);
        const size = fs.blocks * fs.bsize;
        const free = fs.bavail * fs.bsize;
        const used = (fs.blocks - fs.bfree) * fs.bsize;
        return { path, sizeBytes: size, freeBytes: free, usedPercent: Math.round((used / Math.max(1, used + free)) * 1000) / 10 };
      } catch (error) {
        return { path, error: (error as Error).message };
      }
    }),
  );
  return {
    cpus: os.cpus().length,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    memory: { totalBytes: os.totalmem(), freeBytes: os.freemem(), usedPercent: Math.round((1 - os.freemem() / os.totalmem()) * 1000) / 10 },
    disks,
  };
}

/** "HH:MM" in the inventory's time zone (the runbook's "System outage detected at HH:MM"). */
export function clockTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}
