#!/usr/bin/env node
/**
 * The baseline of bench/auth-me.js, in its own process like the control plane: Fastify
 * alone, verifying the same HS256 JWT (jsonwebtoken, same issuer and audience) and
 * answering the same JSON as GET /api/v1/auth/me. Prints its port on stdout.
 */
const Fastify = require('fastify');
const jwt = require('jsonwebtoken');

const { BENCH_SECRET, BENCH_ISSUER, BENCH_AUDIENCE, BENCH_BODY } = process.env;
const body = JSON.parse(BENCH_BODY);
const app = Fastify({ logger: false });
app.get('/api/v1/auth/me', async (request, reply) => {
  const header = request.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  try {
    const claims = jwt.verify(token, BENCH_SECRET, { algorithms: ['HS256'], issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE });
    return { ...body, id: claims.sub, username: claims.username, role: claims.role };
  } catch {
    return reply.code(401).send({ statusCode: 401 });
  }
});
app.listen({ port: 0, host: '127.0.0.1' }).then(() => {
  process.stdout.write(`${app.server.address().port}\n`);
});
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
