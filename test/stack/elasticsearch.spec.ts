/**
 * The Elasticsearch stand-in (erp-elasticsearch): the index APIs with ES 8 semantics, its
 * persistence across a restart, and its fault switches as seen by HTTP and Docker.
 */
import { afterEach, describe, it } from 'node:test';
import { expect } from 'expect';
import { PORTS, get, healthStatus, waitFor, setFaultFile, restoreService, docker } from './stack-helpers';

const ES = PORTS.elasticsearch;
const day = (d: Date) => `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;

describe('elasticsearch stand-in', () => {
  afterEach(async () => {
    await restoreService('elasticsearch', ES, '/');
  });

  it('has daily erp-* indices for the last 40 days, with string values in _cat/indices', async () => {
    const r = await get(ES, '/_cat/indices/erp-backend-*?format=json&h=index,health,status,docs.count,store.size,creation.date.string&bytes=b&s=index');
    const rows = r.json<Array<Record<string, string>>>();
    expect(rows.length).toBeGreaterThanOrEqual(40);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['creation.date.string', 'docs.count', 'health', 'index', 'status', 'store.size']);
      expect(typeof row['docs.count']).toBe('string');
      expect(row['store.size']).toMatch(/^\d+$/);
    }
    expect(rows.map((x) => x.index)).toEqual([...rows.map((x) => x.index)].sort());
    const today = `erp-backend-${day(new Date())}`;
    const old = `erp-backend-${day(new Date(Date.now() - 39 * 86400000))}`;
    expect(rows.map((x) => x.index)).toEqual(expect.arrayContaining([today, old]));
    for (const prefix of ['erp-postgres', 'erp-nginx', 'erp-syslog']) {
      expect((await get(ES, `/_cat/indices/${prefix}-*?format=json&h=index`)).json().length).toBeGreaterThanOrEqual(40);
    }
    const count = (await get(ES, `/${old}/_count`)).json();
    expect(count).toEqual({ count: expect.any(Number), _shards: expect.objectContaining({ total: 1, successful: 1, failed: 0 }) });
    expect(count.count).toBeGreaterThan(0);
  });

  it('refuses wildcard and _all deletes exactly like ES 8 (destructive_requires_name)', async () => {
    for (const target of ['erp-*', '_all', '*', `erp-backend-${day(new Date())},erp-nginx-*`]) {
      const r = await get(ES, `/${target}`, { method: 'DELETE' });
      expect(r.status).toBe(400);
      expect(r.json()).toEqual({
        error: {
          root_cause: [{ type: 'illegal_argument_exception', reason: 'Wildcard expressions or all indices are not allowed' }],
          type: 'illegal_argument_exception',
          reason: 'Wildcard expressions or all indices are not allowed',
        },
        status: 400,
      });
    }
    const missing = await get(ES, '/erp-backend-1999.01.01', { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(missing.json().error.type).toBe('index_not_found_exception');
  });

  it('keeps indices on disk across a restart; deletes by explicit name', async () => {
    const name = `erp-test-${Date.now()}`;
    expect((await get(ES, `/${name}/_doc`, { method: 'POST', body: { message: 'x' } })).status).toBe(201);
    expect((await docker('POST', '/containers/erp-elasticsearch/restart?t=10')).status).toBe(204);
    await waitFor('elasticsearch back', async () => (await healthStatus('erp-elasticsearch')) === 'healthy', 60000);
    expect((await get(ES, `/${name}/_count`)).json().count).toBe(1);
    expect((await get(ES, `/${name}`, { method: 'DELETE' })).json()).toEqual({ acknowledged: true });
    expect((await get(ES, `/${name}/_count`)).status).toBe(404);
  });

  it('fault unhealthy: GET / answers 503, cluster health red, Docker reports unhealthy', async () => {
    expect((await get(ES, '/_cluster/health')).json().status).toBe('green');
    setFaultFile('elasticsearch', { unhealthy: true });
    await waitFor('503 on /', async () => (await get(ES, '/')).status === 503);
    const h = (await get(ES, '/_cluster/health')).json();
    expect(h.status).toBe('red');
    expect(h.unassigned_shards).toBeGreaterThan(0);
    const wait = await get(ES, '/_cluster/health?wait_for_status=yellow&timeout=1s', { timeoutMs: 10000 });
    expect(wait.status).toBe(408);
    expect(wait.json().timed_out).toBe(true);
    await waitFor('erp-elasticsearch unhealthy', async () => (await healthStatus('erp-elasticsearch')) === 'unhealthy');
  });

  it('fault status: ES-shaped 5xx errors', async () => {
    setFaultFile('elasticsearch', { status: 503, match: '/_cat' });
    const r = await waitFor('503', async () => {
      const x = await get(ES, '/_cat/indices?format=json');
      return x.status === 503 ? x : null;
    });
    expect(r.json().status).toBe(503);
    expect((await get(ES, '/_cluster/health')).status).toBe(200);
  });
});
