import { HostResourcesPort, NotificationDelivery, NotificationMessage, NotifierPort } from '../../../integrations/contracts';
import { CallOptions } from '../../../integrations/integration-error';
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

/**
 * The ERP host's resources as the runbook's "check server resources" means: load, memory,
 * disk of the given paths and of the Docker data root, read on the ERP host (its node
 * exporter), not on the control plane's machine. A failed reading is reported, never thrown.
 */
export async function hostResources(host: HostResourcesPort, paths: string[], options: CallOptions): Promise<Record<string, unknown>> {
  const [reading, disks, dockerDataRoot] = await Promise.allSettled([
    host.read(options),
    host.diskUsage(paths, options),
    host.dockerDataRoot(options),
  ]);
  if (reading.status === 'rejected') return { error: `cannot read the ERP host's resources: ${(reading.reason as Error).message}` };
  const r = reading.value;
  return {
    source: r.source,
    cpus: r.cpus,
    loadAverage: r.load,
    memory: r.memory,
    disks: disks.status === 'fulfilled' ? disks.value : paths.map((path) => ({ path, error: (disks.reason as Error).message })),
    dockerDataRoot: dockerDataRoot.status === 'fulfilled' ? dockerDataRoot.value : { error: (dockerDataRoot.reason as Error).message },
  };
}

/** "HH:MM" in the inventory's time zone (the runbook's "System outage detected at HH:MM"). */
export function clockTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}
