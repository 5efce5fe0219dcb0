#!/usr/bin/env node
/**
 * The baseline of bench/incidents.js, in its own process like the control plane: Fastify
 * alone, validating Alertmanager's webhook payload with the control plane's own zod schema
 * (dist/src/modules/alerts/webhook.schema.js) and storing each delivery with one INSERT
 * into a table of its own (pg, a pool of 10 like the control plane's TypeORM default).
 * Prints its port on stdout.
 *
 *   BENCH_BARE_DATABASE_URL=postgres://… node bench/bare-webhook-server.js
 */
const { join } = require('node:path');
const Fastify = require('fastify');
const { Pool } = require('pg');

const { webhookPayload, payloadProblems } = require(
  join(__dirname, '..', process.env.BENCH_DIST ?? 'dist', 'src/modules/alerts/webhook.schema.js'),
);

const pool = new Pool({ connectionString: process.env.BENCH_BARE_DATABASE_URL, max: 10 });
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });

app.post('/api/v1/alerts/webhook', async (request, reply) => {
  const parsed = webhookPayload.safeParse(request.body);
  if (!parsed.success) return reply.code(400).send({ statusCode: 400, problems: payloadProblems(parsed.error) });
  const payload = parsed.data;
  const rows = await pool.query(
    'INSERT INTO bench_bare_deliveries (group_key, status, alert_count, payload) VALUES ($1, $2, $3, $4) RETURNING id',
    [payload.groupKey, payload.status, payload.alerts.length, JSON.stringify(payload)],
  );
  return { stored: true, id: rows.rows[0].id };
});

pool
  .query(
    `CREATE TABLE IF NOT EXISTS bench_bare_deliveries (
       id bigserial PRIMARY KEY, group_key text NOT NULL, status text NOT NULL, alert_count int NOT NULL,
       payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
  )
  .then(() => app.listen({ port: 0, host: '127.0.0.1' }))
  .then(() => process.stdout.write(`${app.server.address().port}\n`))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
process.on('SIGTERM', () =>
  app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0)),
);
