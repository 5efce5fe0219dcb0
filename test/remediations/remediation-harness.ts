/**
 * What the remediation suites share: a seeded stand-in database, a test app on the stand-in
 * inventory whose notifications go to a real SMTP server and a webhook receiver started here,
 * a token per role, and helpers to request a run and wait for its end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Role } from '../../src/common/rights';
import { ChatSink, MailSink, startChatSink, startMailSink } from '../helpers/notify-sinks';
import { startTestApp, TestApp } from '../helpers/test-app';
import { REPO_ROOT, setFaultFile, waitFor } from '../stack/stack-helpers';

export const ERP_DB = 'erp_quty_karunia_prod';

export interface RemediationHarness {
  t: TestApp;
  dir: string;
  mail: MailSink;
  chat: ChatSink;
  as(who: string): string;
  get(url: string, who?: string): ReturnType<ReturnType<TestApp['http']>['get']>;
  request(id: string, body: object, who: string): ReturnType<ReturnType<TestApp['http']>['post']>;
  runOf(id: string): Promise<any>;
  until(id: string, statuses: string[], ms?: number): Promise<any>;
  step(run: any, id: string): any;
  close(): Promise<void>;
}

export async function startRemediationHarness(options: {
  roles: [string, Role][];
  inventoryPatch?: (doc: Record<string, any>) => void;
  untilMs?: number;
}): Promise<RemediationHarness> {
  execFileSync('node', [path.join(REPO_ROOT, 'scripts/stack/seed.js'), '--scale', 'small', '--seed', '11', '--anchor', '2026-01-19'], {
    encoding: 'utf8',
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'erp-remediations-'));
  const mail = await startMailSink();
  const chat = await startChatSink();
  const t = await startTestApp({
    inventoryFile: 'stack/ops.stack.yaml',
    inventoryPatch: (doc) => {
      doc.backups.directory = dir;
      doc.notifications.smtpUrl = mail.url;
      doc.notifications.chatWebhookUrl = chat.url;
      options.inventoryPatch?.(doc);
    },
  });
  const tokens = new Map<string, string>();
  for (const [who, role] of options.roles) tokens.set(who, await t.tokenFor(role));
  const as = (who: string) => `Bearer ${tokens.get(who)}`;
  const get = (url: string, who = 'viewer') => t.http().get(url).set('Authorization', as(who));
  const runOf = async (id: string) => (await get(`/api/v1/runs/${id}`)).body;
  return {
    t,
    dir,
    mail,
    chat,
    as,
    get,
    request: (id, body, who) => t.http().post(`/api/v1/procedures/${id}/runs`).set('Authorization', as(who)).send(body),
    runOf,
    until: (id, statuses, ms = options.untilMs ?? 180_000) =>
      waitFor(
        `run ${id} to be ${statuses.join('/')}`,
        async () => {
          const run = await runOf(id);
          return statuses.includes(run.status) ? run : null;
        },
        ms,
        250,
      ),
    step: (run, id) => run.steps.find((s: any) => s.stepId === id),
    async close() {
      setFaultFile('backend', {});
      await t.close();
      await mail.close();
      await chat.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
