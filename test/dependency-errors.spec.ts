import { describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import { Client, DatabaseError, Pool } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { registerDependencyEndpoint } from '../src/common/dependency-errors';
import { DomainError, ErrorCode } from '../src/common/errors';
import { toDomainError } from '../src/common/exception.filter';
import { dbUrl } from './helpers/db';
import { freePort } from './helpers/redis-server';

/** What the exception filter makes of an error: status, code, Retry-After, dependency. */
function mapped(error: unknown) {
  const d = toDomainError(error);
  return { status: d.status, code: d.code, retryAfter: d.retryAfter, dependency: d.details?.dependency };
}

const unavailable = (dependency: string) => ({ status: 503, code: ErrorCode.DependencyUnavailable, retryAfter: 5, dependency });

/**
 * The errors the control plane's own PostgreSQL and Redis produce while they restart, each
 * made for real (closed ports, a terminated session, a pool that cannot connect): 503 with
 * Retry-After naming the dependency, where each was a 500 before.
 */
describe('dependency failures become 503 with Retry-After naming the dependency', () => {
  it('PostgreSQL refusing connections (pg Client and pg Pool)', async () => {
    const port = await freePort();
    registerDependencyEndpoint('database', `postgres://postgres@127.0.0.1:${port}/ops`);
    const refused = await new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'ops' }).connect().catch((e) => e);
    expect(refused.code).toBe('ECONNREFUSED');
    expect(mapped(refused)).toEqual(unavailable('database'));
    const pool = new Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'ops', connectionTimeoutMillis: 500 });
    const viaPool = await pool.query('SELECT 1').catch((e) => e);
    await pool.end();
    expect(mapped(viaPool)).toEqual(unavailable('database'));
    expect(toDomainError(refused).message).toMatch(/cannot reach its database \(PostgreSQL\).*ECONNREFUSED.*try again/);
    expect(toDomainError(refused).message).not.toContain(String(port));
  });

  it('a session the server ends (57P01, as pg_ctl stop -m fast does), seen through TypeORM', async () => {
    const source = new DataSource({ type: 'postgres', url: dbUrl('postgres'), extra: { max: 1 } });
    await source.initialize();
    const killer = new Client({ connectionString: dbUrl('postgres') });
    await killer.connect();
    try {
      const runner = source.createQueryRunner();
      await runner.connect();
      const [{ pid }] = await runner.query('SELECT pg_backend_pid() AS pid');
      const pending = runner.query('SELECT pg_sleep(5)').catch((e) => e);
      await new Promise((r) => setTimeout(r, 200));
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
      const ended = await pending;
      expect(ended).toBeInstanceOf(QueryFailedError);
      expect((ended as QueryFailedError & { driverError: DatabaseError }).driverError.code).toBe('57P01');
      expect(mapped(ended)).toEqual(unavailable('database'));
      // The query runner is gone with its connection.
      const released = await runner.query('SELECT 1').catch((e) => e);
      expect(mapped(released)).toMatchObject({ status: 503, code: ErrorCode.DependencyUnavailable, retryAfter: 5 });
      await runner.release().catch(() => undefined);
    } finally {
      await killer.end();
      await source.destroy();
    }
  });

  it('pg errors of other kinds are not dependency failures (a unique violation stays a 500)', () => {
    const duplicate = Object.assign(new DatabaseError('duplicate key value violates unique constraint', 100, 'error'), {
      code: '23505',
      severity: 'ERROR',
    });
    expect(mapped(new QueryFailedError('INSERT …', [], duplicate))).toMatchObject({
      status: 500,
      code: ErrorCode.Internal,
      retryAfter: undefined,
    });
    const shutdown = Object.assign(new DatabaseError('the database system is shutting down', 100, 'error'), {
      code: '57P03',
      severity: 'FATAL',
    });
    expect(mapped(shutdown)).toEqual(unavailable('database'));
    expect(mapped(new Error('Connection terminated unexpectedly'))).toEqual(unavailable('database'));
    expect(mapped(new Error('timeout exceeded when trying to connect'))).toEqual(unavailable('database'));
  });

  it('Redis away: fail-fast client, retries exhausted, closed connection, command timeout', async () => {
    const port = await freePort();
    const offline = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, retryStrategy: () => 1000, lazyConnect: false });
    offline.on('error', () => undefined);
    const notWritable = await offline.get('x').catch((e) => e);
    offline.disconnect();
    expect(mapped(notWritable)).toEqual(unavailable('redis'));
    const retrying = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    retrying.on('error', () => undefined);
    const exhausted = await retrying.get('x').catch((e) => e);
    retrying.disconnect();
    expect(exhausted.name).toBe('MaxRetriesPerRequestError');
    expect(mapped(exhausted)).toEqual(unavailable('redis'));
    expect(mapped(new Error('Connection is closed.'))).toEqual(unavailable('redis'));
    expect(mapped(new Error('Command timed out'))).toEqual(unavailable('redis'));
    registerDependencyEndpoint('redis', `redis://127.0.0.1:${port}/0`);
    const refused = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port,
    });
    expect(mapped(refused)).toEqual(unavailable('redis'));
  });

  it('every 503 carries a Retry-After, also when its thrower gave none', () => {
    expect(new DomainError(ErrorCode.DependencyUnavailable, 'sign-in is unavailable').retryAfter).toBe(5);
    expect(new DomainError(ErrorCode.DependencyUnavailable, 'x', undefined, 30).retryAfter).toBe(30);
    expect(new DomainError(ErrorCode.Conflict, 'x').retryAfter).toBeUndefined();
  });
});
