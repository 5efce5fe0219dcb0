/**
 * Elasticsearch adapter against the stand-in (erp-elasticsearch, 127.0.0.1:19200). Fault
 * switches set here are limited to one path and cleared afterwards, even on failure.
 */
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import { Elasticsearch } from '../../src/integrations/elasticsearch/elasticsearch';
import { PORTS, get, restoreService } from '../stack/stack-helpers';
import { closedPort, failure, stackInventory, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

async function setEsFault(state: Record<string, unknown>): Promise<void> {
  const r = await get(PORTS.elasticsearch, '/__fault', { method: 'POST', body: state });
  expect(r.status).toBe(200);
}

async function clearEsFault(): Promise<void> {
  await get(PORTS.elasticsearch, '/__fault', { method: 'DELETE' });
  await restoreService('elasticsearch', PORTS.elasticsearch, '/');
}

describe('Elasticsearch', () => {
  const es = new Elasticsearch(inventory.urls.elasticsearch);

  after(async () => {
    await clearEsFault();
  });

  it('reads cluster health', async () => {
    const h = await es.clusterHealth(T);
    expect(h.status).toBe('green');
    expect(h.clusterName).toBeTruthy();
    expect(h.numberOfNodes).toBe(1);
    expect(h.unassignedShards).toBe(0);
    expect(h.timedOut).toBe(false);
  });

  it('lists the erp-* daily indices with numbers converted from strings, sorted by name', async () => {
    const list = await es.listIndices('erp-*', T);
    expect(list.length).toBeGreaterThanOrEqual(4 * 30);
    expect(list.map((i) => i.index)).toEqual([...list.map((i) => i.index)].sort());
    for (const i of list) {
      expect(i.index).toMatch(/^erp-(backend|postgres|nginx|syslog)-\d{4}\.\d\d\.\d\d$/);
      expect(typeof i.docsCount).toBe('number');
      expect(typeof i.storeSizeBytes).toBe('number');
      expect(i.status).toBe('open');
      expect(['green', 'yellow', 'red']).toContain(i.health);
      expect(Date.parse(i.creationDate!)).toBeGreaterThan(0);
    }
    expect(list.some((i) => i.docsCount > 0 && i.storeSizeBytes > 0)).toBe(true);
    const backend = await es.listIndices('erp-backend-*', T);
    expect(backend.every((i) => i.index.startsWith('erp-backend-'))).toBe(true);
    expect(await es.listIndices('nothing-matches-*', T)).toEqual([]);
  });

  it('counts documents of an index and of a pattern', async () => {
    const [first] = await es.listIndices('erp-backend-*', T);
    const one = await es.count(first.index, T);
    expect(Number.isInteger(one)).toBe(true);
    const all = await es.count('erp-backend-*', T);
    expect(all).toBeGreaterThanOrEqual(one);
  });

  it("a missing index is bad_response (404) with Elasticsearch's reason", async () => {
    const e = await failure(es.count('erp-backend-1999.01.01', T), 'bad_response', 'elasticsearch');
    expect(e.status).toBe(404);
    expect(e.message).toContain('index_not_found_exception');
  });

  it('an ES error answer (fault status 503) is bad_response with the status', async () => {
    try {
      await setEsFault({ status: 503, match: '/_cluster/health' });
      const e = await failure(es.clusterHealth(T), 'bad_response', 'elasticsearch');
      expect(e.status).toBe(503);
      expect(e.message).toContain('503');
    } finally {
      await clearEsFault();
    }
  });

  it('the hang fault is a timeout within the deadline', async () => {
    try {
      await setEsFault({ hang: true, match: '/_cat/indices' });
      await timesOut((timeoutMs) => es.listIndices('erp-*', { timeoutMs }), 400, 'elasticsearch');
    } finally {
      await clearEsFault();
    }
  });

  it('a refused connection is unreachable', async () => {
    await failure(new Elasticsearch(`http://127.0.0.1:${await closedPort()}`).clusterHealth(T), 'unreachable', 'elasticsearch');
  });
});
