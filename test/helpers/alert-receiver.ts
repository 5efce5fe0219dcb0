import { createServer, Server } from 'node:http';

/**
 * The stand-in Alertmanager delivers every firing alert to the control plane's webhook on
 * 127.0.0.1:3100 (stack/alertmanager/alertmanager.yml). A suite whose control plane listens
 * elsewhere leaves nothing there, and then any alert the stack fires for real — HighCPUUsage
 * from the real node exporter whenever this shared machine is busy — makes Alertmanager log
 * "level=error … Notify for alerts failed" at every retry. A suite that reads the stack's
 * logs (the checklist's "logs" item) would see those lines, rightly, as a problem of the
 * stack. This receiver takes Alertmanager's deliveries (200) while such a suite runs, so the
 * stack is healthy whatever the machine's load; it counts what it received.
 */
export async function startAlertReceiver(port = 3100): Promise<{ received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v1/alerts/webhook') received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
