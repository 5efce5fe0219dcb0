import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { dump as dumpYaml, load as loadYaml } from 'js-yaml';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { loadAppConfig } from '../../src/config/app-config';
import { parseInventory } from '../../src/config/inventory.loader';
import { REDACT_PATHS } from '../../src/common/logger';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/common/rights';
import { UsersService } from '../../src/modules/auth/users.service';
import { createTestDatabase, dbUrl, dropTestDatabase } from './db';

export const PASSWORD = 'correct-horse-battery-staple';

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Inventory file relative to the project root (default ops.example.yaml). */
  inventoryFile?: string;
  /** Changes to the inventory document before validation. */
  inventoryPatch?: (doc: Record<string, any>) => void;
  /** Share the database and Redis prefix of another instance (a second replica). */
  shareWith?: TestApp;
}

export interface TestApp {
  app: INestApplication;
  url: string;
  database: string;
  redisPrefix: string;
  env: Record<string, string>;
  /** Every log line the instance wrote. */
  logs: string[];
  http: () => ReturnType<typeof request>;
  createUser(role: Role, username?: string): Promise<{ id: string; username: string }>;
  login(username: string, password?: string): Promise<string>;
  /** Creates a user of this role and returns an access token for it. */
  tokenFor(role: Role): Promise<string>;
  /** Creates one signed-in user per name, of the role given, e.g. { admin: Role.Admin, dba: Role.Dba }. */
  people(roles: Record<string, Role>): Promise<Map<string, Person>>;
  gql(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<request.Response>;
  /** GET /metrics as a viewer (metrics.read), the way Prometheus scrapes it with its token. */
  scrape(): Promise<request.Response>;
  close(): Promise<void>;
}

export interface Person {
  id: string;
  username: string;
  /** An access token from the person's sign-in. */
  jwt: string;
}

let counter = 0;

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.shareWith?.database ?? (await createTestDatabase());
  const redisPrefix = options.shareWith?.redisPrefix ?? `t:${randomBytes(4).toString('hex')}:`;
  // Each instance keeps its anchors and spool in a folder of its own; replicas share the master key.
  const stateDir = mkdtempSync(join(tmpdir(), 'ops-test-'));
  const env: Record<string, string> = {
    OPS_DATABASE_URL: dbUrl(database),
    OPS_REDIS_PREFIX: redisPrefix,
    OPS_MASTER_KEY: options.shareWith?.env?.OPS_MASTER_KEY ?? randomBytes(32).toString('base64url'),
    OPS_AUDIT_ANCHOR_FILE: join(stateDir, 'audit-anchors.jsonl'),
    OPS_AUDIT_SPOOL_DIR: join(stateDir, 'audit-spool'),
    OPS_LOG_LEVEL: 'info',
    OPS_RATE_LIMIT_PER_MINUTE: '0',
    OPS_GRAPHQL_INTROSPECTION: 'true',
    OPS_SCHEDULER: 'false',
    OPS_INCIDENT_TIMERS: 'false',
    ...options.env,
  };
  const config = loadAppConfig(env as NodeJS.ProcessEnv);
  const file = join(projectRoot(), options.inventoryFile ?? 'ops.example.yaml');
  let text = readFileSync(file, 'utf8');
  if (options.inventoryPatch) {
    const doc = loadYaml(text) as Record<string, any>;
    options.inventoryPatch(doc);
    text = dumpYaml(doc);
  }
  const inventory = parseInventory(text, file, env as NodeJS.ProcessEnv);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString());
      // TEST_LOG_FILE=path keeps every test app's log lines (to read a failure's cause).
      if (process.env.TEST_LOG_FILE) appendFileSync(process.env.TEST_LOG_FILE, chunk);
      done();
    },
  });
  const logger = pino({ level: config.OPS_LOG_LEVEL, redact: { paths: REDACT_PATHS, censor: '****' } }, sink);
  const app = await createApp({ config, inventory, inventoryFile: file, logger });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const http = () => request(url);
  const users = app.get(UsersService);

  let scraper: { token: string; at: number } | undefined;
  const testApp: TestApp = {
    app,
    url,
    database,
    redisPrefix,
    env,
    logs,
    http,
    async createUser(role, username) {
      const name = username ?? `${role.replace('_', '')}${++counter}${randomBytes(2).toString('hex')}`;
      const user = await users.create({ username: name, password: PASSWORD, role });
      return { id: user.id, username: user.username };
    },
    async login(username, password = PASSWORD) {
      const res = await http().post('/api/v1/auth/login').send({ username, password });
      if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.accessToken as string;
    },
    async tokenFor(role) {
      const user = await testApp.createUser(role);
      return testApp.login(user.username);
    },
    async people(roles) {
      const people = new Map<string, Person>();
      for (const [who, role] of Object.entries(roles)) {
        const user = await testApp.createUser(role);
        people.set(who, { ...user, jwt: await testApp.login(user.username) });
      }
      return people;
    },
    async scrape() {
      if (!scraper || Date.now() - scraper.at > 5 * 60_000) scraper = { token: await testApp.tokenFor(Role.Viewer), at: Date.now() };
      return http().get('/metrics').set('Authorization', `Bearer ${scraper.token}`);
    },
    gql(token, query, variables) {
      const req = http().post('/graphql').set('Content-Type', 'application/json');
      if (token) req.set('Authorization', `Bearer ${token}`);
      return req.send({ query, variables });
    },
    async close() {
      await app.close();
      rmSync(stateDir, { recursive: true, force: true });
      if (!options.shareWith) {
        await dropTestDatabase(database);
        const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
        const keys = await redis.keys(`${redisPrefix}*`);
        if (keys.length) await redis.del(...keys);
        await redis.quit();
      }
    },
  };
  return testApp;
}
