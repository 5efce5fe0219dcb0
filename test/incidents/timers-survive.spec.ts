import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import { dump as dumpYaml, load as loadYaml } from 'js-yaml';
import { Client } from 'pg';
import request from 'supertest';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/common/rights';
import { startControlPlaneProcess } from '../helpers/control-plane-process';
import { createTestDatabase, dbUrl, dropTestDatabase } from '../helpers/db';
import { ChatSink, MailSink, startChatSink, startMailSink } from '../helpers/notify-sinks';
import { OwnRedis } from '../helpers/redis-server';
import { PASSWORD } from '../helpers/test-app';
import { incidentsSection, incidentWorld, IncidentWorld, SCALE, waitUntil } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The chain of these tests: a P2 pages P2 (budi) for 3 s, then P1 (budi, dewi) for a long time, then ends. */
const shortP2 = (doc: Record<string, any>) => {
  doc.escalation.P2.responseMinutes = 3;
  doc.escalation.P1.responseMinutes = 2;
  doc.incidents.policies = { P2: { steps: ['P2', 'P1'], repeat: 0 } };
  doc.incidents.statusUpdateMinutes = { P1: 600, P2: 600 };
};

/** The incident's timeline types, its pages (reason/person/channel/status) straight from PostgreSQL. */
async function stateOf(db: Client, id: string) {
  const events = (await db.query('SELECT type, data FROM incident_events WHERE incident_id = $1 ORDER BY id', [id])).rows;
  const pages = (
    await db.query("SELECT reason, person, channel, status FROM incident_pages WHERE incident_id = $1 AND reason LIKE 'page:%'", [id])
  ).rows.map((p) => `${p.reason}/${p.person}/${p.channel}/${p.status}`);
  return { types: events.map((e) => e.type as string), pages: pages.sort() };
}

const levelMails = (mail: MailSink, id: string, to: string, level: string) =>
  mail.messages.filter(
    (m) => m.subject?.includes(id) && (m.to as { text: string }).text === to && m.text?.includes(`paged as level ${level}`),
  ).length;
const levelChats = (chat: ChatSink, id: string, level: string) =>
  chat.bodies.filter((c) => String(c.text).includes(id) && String(c.text).includes(`paged as level ${level}`)).length;

/**
 * Issue 14, "Timers that cannot be lost or doubled": the truth is in PostgreSQL, so neither
 * every replica dying between a page and its timer nor Redis losing its queue loses or
 * doubles the escalation.
 */
describe('every replica killed between a page and its timer', () => {
  const state = mkdtempSync(join(tmpdir(), 'ops-inc-kill-'));
  const prefix = `t:${randomBytes(4).toString('hex')}:`;
  const children: ChildProcess[] = [];
  let database = '';
  let mail: MailSink;
  let chat: ChatSink;
  let db: Client;

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await db?.end();
    if (database) await dropTestDatabase(database);
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await mail?.close();
    await chat?.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('escalates exactly once after all replicas restart: one escalated event, one page set of the next step', async () => {
    database = await createTestDatabase();
    db = new Client({ connectionString: dbUrl(database) });
    await db.connect();
    mail = await startMailSink();
    chat = await startChatSink();
    const doc = loadYaml(readFileSync(join(projectRoot(), 'ops.example.yaml'), 'utf8')) as Record<string, any>;
    incidentsSection({ chat: chat.url, smtp: mail.url }, { sari: 'sari', budi: 'budi', dewi: 'dewi' })(doc);
    shortP2(doc);
    doc.escalation.P1.responseMinutes = 60;
    const inventory = join(state, 'ops.yaml');
    writeFileSync(inventory, dumpYaml(doc));
    const env = {
      ...process.env,
      OPS_DATABASE_URL: dbUrl(database),
      OPS_REDIS_PREFIX: prefix,
      OPS_MASTER_KEY: randomBytes(32).toString('base64url'),
      OPS_LOG_LEVEL: 'warn',
      OPS_RATE_LIMIT_PER_MINUTE: '0',
      OPS_SCHEDULER: 'false',
      OPS_STATS_SAMPLER: 'false',
      OPS_INVENTORY: inventory,
      OPS_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      OPS_INCIDENT_TIMERS: 'true',
      OPS_INCIDENT_TIME_SCALE: String(SCALE),
      OPS_INCIDENT_CHECK_MS: '250',
    };
    let n = 0;
    const start = () => startControlPlaneProcess(env, { logFile: join(state, `replica-${++n}.log`), startMs: 120_000 });
    const first = await start();
    const second = await start();
    children.push(first.child, second.child);

    const login = await request(second.url).post('/api/v1/auth/login').send({ username: 'admin', password: PASSWORD });
    const created = await request(first.url)
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${login.body.accessToken}`)
      .send({ title: 'Checkout broken', severity: 'P2', component: 'api' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // The first page arrives: every replica dies at once.
    await waitUntil('the first page', async () => mail.messages.length + chat.bodies.length > 0, 10_000);
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exitCode !== null || c.signalCode !== null || new Promise((r) => c.once('exit', r))));
    children.length = 0;
    expect((await stateOf(db, id)).types).not.toContain('escalated');

    // Both come back (the step's 3 s are over by then): the timer fires once.
    const again = await Promise.all([start(), start()]);
    children.push(...again.map((a) => a.child));
    await waitUntil(
      'the P1 step paged',
      async () => (await stateOf(db, id)).pages.filter((p) => p.startsWith('page:1/') && p.endsWith('/sent')).length === 3,
      60_000,
    );
    await sleep(3000);
    const final = await stateOf(db, id);
    expect(final.types.filter((t) => t === 'escalated')).toHaveLength(1);
    expect(final.pages.filter((p) => p.startsWith('page:1/'))).toEqual([
      'page:1/budi/chat/sent',
      'page:1/budi/email/sent',
      'page:1/dewi/email/sent',
    ]);
    expect(levelMails(mail, id, 'budi@erp.test', 'P1')).toBe(1);
    expect(levelMails(mail, id, 'dewi@erp.test', 'P1')).toBe(1);
    expect(levelChats(chat, id, 'P1')).toBe(1);
  });
});

describe('Redis losing the incidents queue', () => {
  let own: OwnRedis;
  let w: IncidentWorld;
  let admin: string;
  let db: Client;
  let redis: Redis;

  before(async () => {
    own = await OwnRedis.create();
    w = await incidentWorld({ env: { OPS_REDIS_URL: own.url, OPS_INCIDENT_CHECK_MS: '1000' }, inventoryPatch: shortP2 });
    admin = await w.t.tokenFor(Role.Admin);
    db = new Client({ connectionString: dbUrl(w.t.database) });
    await db.connect();
    redis = new Redis(own.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
  });
  after(async () => {
    if (process.env.DEBUG_LOGS) console.log(w.t.logs.filter((l) => /incident|Incident|EscalationEngine/.test(l)).join(''));
    redis.disconnect();
    await db.end();
    await w.close();
    await own.stop();
  });

  const open = async () => {
    const res = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: 'Checkout broken', severity: 'P2', component: 'api' });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  it('its queue keys deleted: the periodic check still fires the timer, once', async () => {
    const id = await open();
    const keys = await redis.keys(`${w.t.redisPrefix}bull:incidents:*`);
    expect(await redis.zcard(`${w.t.redisPrefix}bull:incidents:delayed`)).toBeGreaterThan(0);
    await redis.del(...keys);
    expect(await redis.keys(`${w.t.redisPrefix}bull:incidents:*`)).toEqual([]);
    await waitUntil('the chain to run out', async () => (await stateOf(db, id)).types.includes('chain_exhausted'), 30_000);
    const s = await stateOf(db, id);
    expect(s.types.filter((t) => t === 'escalated')).toHaveLength(1);
    expect(s.pages).toEqual([
      'page:0/budi/chat/sent',
      'page:0/budi/email/sent',
      'page:1/budi/chat/sent',
      'page:1/budi/email/sent',
      'page:1/dewi/email/sent',
    ]);
  });

  it('Redis down, then back empty (no persistence): the timer fires and its pages go out while it is down', async () => {
    const id = await open();
    await waitUntil('the first pages', async () => (await stateOf(db, id)).pages.filter((p) => p.endsWith('/sent')).length === 2);
    await own.stop();
    await waitUntil(
      'the escalation and its pages with Redis down',
      async () => (await stateOf(db, id)).pages.filter((p) => p.startsWith('page:1/') && p.endsWith('/sent')).length === 3,
      30_000,
    );
    await own.start();
    await waitUntil('the chain to run out', async () => (await stateOf(db, id)).types.includes('chain_exhausted'), 30_000);
    const s = await stateOf(db, id);
    expect(s.types.filter((t) => t === 'escalated')).toHaveLength(1);
    expect(levelMails(w.mail, id, 'budi@erp.test', 'P1')).toBe(1);
    expect(levelMails(w.mail, id, 'dewi@erp.test', 'P1')).toBe(1);
    // With the new, empty Redis the next incident is timed as before.
    const next = await open();
    await waitUntil('the next incident to escalate', async () => (await stateOf(db, next)).types.includes('escalated'), 30_000);
  });
});
